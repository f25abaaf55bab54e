"""Seeded synthetic log traffic for the processor benchmark."""
