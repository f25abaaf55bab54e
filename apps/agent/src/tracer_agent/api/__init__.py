"""The agent's HTTP API, one router per resource."""
