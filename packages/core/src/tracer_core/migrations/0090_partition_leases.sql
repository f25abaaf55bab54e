-- Clustered mode (NATS JetStream): which processor owns which partition of the log stream.
-- A lease is held while renewed; `token` grows on every change of owner, and every write a
-- partition's owner makes (checkpoints, the cursor below) checks it, so a processor that
-- lost its lease (paused, partitioned away) can no longer write anything for it.

CREATE TABLE cluster_members (
    member_id   text        PRIMARY KEY,
    seen_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE partition_leases (
    partition   integer     PRIMARY KEY,
    owner       text,
    token       bigint      NOT NULL DEFAULT 0,
    expires_at  timestamptz NOT NULL DEFAULT '-infinity',
    -- The stream sequence to resume from: every message before it is fully covered by the
    -- baseline checkpoints of the partition's services (folded into scored buckets, or late).
    resume_seq  bigint      NOT NULL DEFAULT 0,
    -- Records folded into scored buckets as of those checkpoints (accounting, tests, bench).
    folded      bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
