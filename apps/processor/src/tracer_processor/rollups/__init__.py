"""Per-service minute rollups: what the console's charts and the chat's history questions
read. The pipeline hands each scored bucket to `RollupAccumulator` (array references only);
`RollupWriter` folds them into one row per service per minute and upserts them in batches,
off the ingest path, pruning rows older than the retention."""
