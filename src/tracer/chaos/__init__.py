"""The chaos suite: processor replicas killed and cut off while they write alerts."""
