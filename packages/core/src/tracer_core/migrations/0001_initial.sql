-- Tracer's initial schema: alerts, their outbox of events, deliveries, connections, API keys.
-- Times named *_at are database time (now()); window_start/window_end are event time.

CREATE TABLE alerts (
    id              bigserial PRIMARY KEY,
    fingerprint     text        NOT NULL,
    project         text        NOT NULL,
    service         text        NOT NULL,
    alert_type      text        NOT NULL CHECK (alert_type IN
                        ('error_spike', 'high_latency', 'traffic_drop', 'traffic_spike', 'service_down')),
    severity        text        NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    status          text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    title           text        NOT NULL,
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    occurrences     integer     NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    reopen_count    integer     NOT NULL DEFAULT 0,
    reporters       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    details         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    CHECK (window_end >= window_start),
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);

-- The dedup guarantee itself: PostgreSQL refuses a second open alert for an incident.
CREATE UNIQUE INDEX alerts_one_open_per_fingerprint ON alerts (fingerprint) WHERE status = 'open';
CREATE INDEX alerts_fingerprint_recent ON alerts (fingerprint, id DESC);
CREATE INDEX alerts_status_last_seen ON alerts (status, last_seen_at DESC);
CREATE INDEX alerts_service ON alerts (service, id DESC);

-- The outbox: one row per alert event, written in the same transaction as the alert.
CREATE TABLE alert_events (
    id              bigserial PRIMARY KEY,
    alert_id        bigint      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    kind            text        NOT NULL CHECK (kind IN ('opened', 'escalated', 'resolved', 'reopened')),
    severity        text        NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    dispatched_at   timestamptz
);
CREATE INDEX alert_events_undispatched ON alert_events (id) WHERE dispatched_at IS NULL;
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);

-- Wake listening agents when an event commits (NOTIFY is delivered at commit, never before).
CREATE FUNCTION tracer_notify_alert_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tracer_alerts', NEW.id::text);
    RETURN NEW;
END;
$$;
CREATE TRIGGER alert_events_notify AFTER INSERT ON alert_events
    FOR EACH ROW EXECUTE FUNCTION tracer_notify_alert_event();

-- One row per (event, destination): the unit the agent claims, retries and dead-letters.
CREATE TABLE deliveries (
    id               bigserial PRIMARY KEY,
    alert_id         bigint      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    event_id         bigint      NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
    destination      text        NOT NULL,
    toolkit          text        NOT NULL CHECK (toolkit IN ('slack', 'jira', 'pagerduty', 'gmail')),
    status           text        NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'in_progress', 'delivered', 'failed', 'dead')),
    attempts         integer     NOT NULL DEFAULT 0,
    last_error       text,
    result           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    lease_owner      text,
    lease_expires_at timestamptz,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, destination)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at)
    WHERE status IN ('pending', 'failed', 'in_progress');
CREATE INDEX deliveries_alert ON deliveries (alert_id, id);

-- App connections made through the tool router (Composio) or the local sink.
CREATE TABLE connections (
    id              text        PRIMARY KEY,
    user_id         text        NOT NULL,
    toolkit         text        NOT NULL CHECK (toolkit IN ('slack', 'jira', 'pagerduty', 'gmail')),
    scope           text        NOT NULL CHECK (scope IN ('org', 'user')),
    status          text        NOT NULL
                        CHECK (status IN ('INITIATED', 'ACTIVE', 'FAILED', 'EXPIRED', 'INACTIVE')),
    redirect_url    text,
    created_by      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connections_user ON connections (user_id, toolkit);

-- API keys: only a hash of the secret is stored; the prefix identifies a key in logs and lists.
CREATE TABLE api_keys (
    id              bigserial PRIMARY KEY,
    name            text        NOT NULL,
    role            text        NOT NULL CHECK (role IN ('admin', 'engineer', 'ingest')),
    prefix          text        NOT NULL UNIQUE,
    key_hash        text        NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);
