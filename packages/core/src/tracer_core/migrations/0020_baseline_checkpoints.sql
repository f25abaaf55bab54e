-- Checkpoints of the processor's rolling baselines, so a restarted or redeployed processor
-- resumes detection at once instead of warming up blind. One row per service: replicas see
-- the same traffic, so the newest checkpoint of a service is a good start for any of them.

CREATE TABLE baseline_checkpoints (
    project     text        NOT NULL,
    service     text        NOT NULL,
    -- End (event time) of the last bucket the saved state has scored; a restart ignores
    -- checkpoints older than its rolling window.
    bucket_end  timestamptz NOT NULL,
    -- The detector's state for the service, versioned binary (tracer_processor.checkpoint_codec).
    state       bytea       NOT NULL,
    saved_by    text        NOT NULL,
    saved_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project, service)
);
CREATE INDEX baseline_checkpoints_bucket_end ON baseline_checkpoints (bucket_end);
