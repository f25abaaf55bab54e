"""Tests of the processor's event-time buckets."""
