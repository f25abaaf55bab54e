"""Tracer's shared foundation: domain models, settings, the PostgreSQL pool and migrations."""
