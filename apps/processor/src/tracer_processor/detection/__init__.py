"""Detection: scoring closed buckets against rolling baselines, and when to alert."""
