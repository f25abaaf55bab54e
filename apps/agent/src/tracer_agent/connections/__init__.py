"""App connections (OAuth through the tool router) for the org routing user and engineers."""
