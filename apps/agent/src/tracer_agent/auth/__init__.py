"""API keys and the per-endpoint role checks built on them."""
