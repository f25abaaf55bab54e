-- Incidents: the alerts of one (project, service) that open together, notified as one thread.
--
-- Grouping is decided inside PostgreSQL when an alert row is written (trigger
-- alerts_group_incident, function tracer_group_alert), under a transaction-scoped advisory lock
-- on the group and on the database clock, so racing processor replicas, skewed processor
-- clocks and crashes cannot open two incidents for one group; the partial unique index below
-- is the last word on "one open incident per group".

CREATE TABLE incidents (
    id                bigserial   PRIMARY KEY,
    project           text        NOT NULL,
    service           text        NOT NULL,
    status            text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    severity          text        NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    opened_at         timestamptz NOT NULL DEFAULT now(),
    last_alert_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at       timestamptz,
    -- Who resolved it by hand; NULL when its alerts resolved on their own.
    resolved_by       text,
    acknowledged_at   timestamptz,
    acknowledged_by   text,
    renotify_count    integer     NOT NULL DEFAULT 0 CHECK (renotify_count >= 0),
    last_notified_at  timestamptz,
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL)),
    CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
);
CREATE UNIQUE INDEX incidents_one_open_per_group ON incidents (project, service)
    WHERE status = 'open';
CREATE INDEX incidents_group_recent ON incidents (project, service, id DESC);
CREATE INDEX incidents_status_opened ON incidents (status, opened_at DESC);

ALTER TABLE alerts ADD COLUMN incident_id bigint REFERENCES incidents (id) ON DELETE SET NULL;
CREATE INDEX alerts_incident ON alerts (incident_id, id);

-- The incident's timeline: alerts joining it, acknowledgements, resolutions, re-notifications.
-- `alert_id` carries no foreign key: the grouping trigger writes it before the alert row.
CREATE TABLE incident_events (
    id           bigserial   PRIMARY KEY,
    incident_id  bigint      NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    kind         text        NOT NULL CHECK (kind IN
                     ('opened', 'alert_added', 'alert_reopened', 'reopened', 'resolved',
                      'acknowledged', 'unacknowledged', 'manually_resolved', 'renotified')),
    alert_id     bigint,
    actor        text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, id);

-- Silences and maintenance windows: an alert matching every non-NULL matcher while the
-- silence is active is stored and visible but not notified. Matchers are exact, or anchored
-- regular expressions when `regex` is true. A weekly silence repeats its [starts_at, ends_at)
-- span every seven days from starts_at.
CREATE TABLE silences (
    id          bigserial   PRIMARY KEY,
    project     text,
    service     text,
    alert_type  text,
    severity    text,
    regex       boolean     NOT NULL DEFAULT false,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    recurrence  text        NOT NULL DEFAULT 'none' CHECK (recurrence IN ('none', 'weekly')),
    creator     text        NOT NULL,
    comment     text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expired_at  timestamptz,
    CHECK (ends_at > starts_at),
    CHECK (recurrence = 'none' OR ends_at - starts_at < interval '7 days')
);
CREATE INDEX silences_active ON silences (ends_at) WHERE expired_at IS NULL;

-- The trigger's function lives in sql/functions/tracer_group_alert.sql, which the migrator
-- applies after the numbered migrations; this placeholder lets the trigger be created first.
CREATE FUNCTION tracer_group_alert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN NEW;
END;
$$;
CREATE TRIGGER alerts_group_incident BEFORE INSERT OR UPDATE OF status ON alerts
    FOR EACH ROW EXECUTE FUNCTION tracer_group_alert();
