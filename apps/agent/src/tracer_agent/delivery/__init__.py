"""Delivering alert events: the outbox, leases, rate limits, retries and the worker."""
