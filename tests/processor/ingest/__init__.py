"""Tests of the processor's ingest stage."""
