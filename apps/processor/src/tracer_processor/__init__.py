"""The Tracer processor: log ingest, streaming anomaly detection, alerting."""
