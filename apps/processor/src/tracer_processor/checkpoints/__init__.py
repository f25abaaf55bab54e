"""Checkpoints: saving detector baselines to PostgreSQL and restoring them at start."""
