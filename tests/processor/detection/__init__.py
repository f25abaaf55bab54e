"""Tests of the processor's detection stage."""
