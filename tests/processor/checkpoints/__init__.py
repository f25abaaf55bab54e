"""Tests of the processor's baseline checkpoints and restarts."""
