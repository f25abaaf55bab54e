-- The agent's delivery state: what each destination was sent, per-destination threads,
-- the attempt log that makes retries after a crash safe, rate-limit slots and summaries.

-- The destination as routed (a snapshot, so a later routing change cannot orphan a thread),
-- and when a delivery finished.
ALTER TABLE deliveries
    ADD COLUMN target       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN delivered_at timestamptz;

-- A delivery waits for the earlier events of its alert on the same destination.
CREATE INDEX deliveries_alert_destination ON deliveries (alert_id, destination, event_id);

-- One thread per alert and destination: the Slack message ts, the Jira issue key, the
-- PagerDuty dedup key, the mail thread. Escalations and resolutions reply into it.
CREATE TABLE delivery_threads (
    alert_id     bigint      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    destination  text        NOT NULL,
    toolkit      text        NOT NULL CHECK (toolkit IN ('slack', 'jira', 'pagerduty', 'gmail')),
    channel      text,
    thread_ref   text        NOT NULL,
    data         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_id, destination)
);

-- Every call toward a destination is written here BEFORE it is made. A row with no outcome
-- belongs to a worker that died mid-call: the next worker looks for the marker at the
-- destination before calling again, so a crash does not post the message twice.
CREATE TABLE delivery_attempts (
    id           bigserial   PRIMARY KEY,
    delivery_id  bigint      NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    step         text        NOT NULL,
    marker       text        NOT NULL,
    tool         text        NOT NULL,
    worker       text        NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    outcome      text        CHECK (outcome IN ('sent', 'failed', 'found', 'not_found')),
    error        text,
    result       jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);

-- Generic cell rate algorithm per destination, shared by every agent replica: `tat` is the
-- theoretical arrival time of the next message.
CREATE TABLE destination_rate_limits (
    destination  text        PRIMARY KEY,
    tat          timestamptz NOT NULL
);

-- One summary per alert event, written once and read by every destination's delivery.
CREATE TABLE alert_summaries (
    event_id        bigint      PRIMARY KEY REFERENCES alert_events (id) ON DELETE CASCADE,
    alert_id        bigint      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    source          text        NOT NULL CHECK (source IN ('llm', 'template')),
    model           text,
    fallback_reason text,
    summary         jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_summaries_alert ON alert_summaries (alert_id, event_id DESC);

-- Tokens and cost of each LLM call, for budgets and the metrics page.
CREATE TABLE llm_usage (
    id                bigserial   PRIMARY KEY,
    purpose           text        NOT NULL,
    model             text        NOT NULL,
    prompt_tokens     integer     NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens integer     NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    cost_usd          double precision NOT NULL DEFAULT 0 CHECK (cost_usd BETWEEN 0 AND 1e12),
    reference         text,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_usage_created ON llm_usage (created_at DESC);
