"""Tests of the processor's alert writer and store."""
