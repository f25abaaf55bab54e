"""Ingest: HTTP routes, request bodies, JSON/NDJSON and OTLP decoding, and API keys."""
