"""Event-time buckets: per-service counts, errors and latencies until a bucket closes."""
