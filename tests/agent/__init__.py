"""Tests of the agent app (tracer_agent)."""
