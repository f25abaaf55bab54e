-- The grouping trigger on alerts: a new or reopened alert joins its group's incident, and an
-- incident resolves when its last open alert resolves.
--
-- A new or reopened alert joins, in order: the group's open incident; the group's latest
-- incident resolved by hand while some of its alerts are still open (it reopens as a new
-- incident only after being healthy once); the group's latest incident when it opened within
-- the grouping window (it reopens); otherwise a new incident. An open alert's escalation
-- raises the severity of its open incident.
CREATE OR REPLACE FUNCTION tracer_group_alert()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_now      timestamptz;
    v_incident incidents%ROWTYPE;
    v_open     boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
        -- An escalation raises its incident's severity (what re-notification looks at).
        IF NEW.status = 'open' AND NEW.incident_id IS NOT NULL
           AND NEW.severity IS DISTINCT FROM OLD.severity THEN
            UPDATE incidents i SET severity = NEW.severity
                WHERE i.id = NEW.incident_id AND i.status = 'open'
                  AND tracer_severity_rank(NEW.severity) > tracer_severity_rank(i.severity);
        END IF;
        RETURN NEW;
    END IF;
    PERFORM tracer_incident_lock(NEW.project, NEW.service);
    v_now := clock_timestamp();

    IF NEW.status = 'resolved' THEN
        IF NEW.incident_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM alerts a
            WHERE a.incident_id = NEW.incident_id AND a.id <> NEW.id AND a.status = 'open'
        ) THEN
            UPDATE incidents i SET status = 'resolved', resolved_at = v_now
                WHERE i.id = NEW.incident_id AND i.status = 'open';
            IF FOUND THEN
                INSERT INTO incident_events (incident_id, kind, alert_id, created_at)
                VALUES (NEW.incident_id, 'resolved', NEW.id, v_now);
            END IF;
        END IF;
        RETURN NEW;
    END IF;

    SELECT * INTO v_incident FROM incidents i
        WHERE i.project = NEW.project AND i.service = NEW.service
        ORDER BY i.id DESC LIMIT 1;
    IF FOUND AND v_incident.status = 'resolved' THEN
        v_open := EXISTS (SELECT 1 FROM alerts a
                          WHERE a.incident_id = v_incident.id AND a.status = 'open'
                            AND a.id <> NEW.id);
        IF v_incident.resolved_by IS NOT NULL AND v_open THEN
            NULL;  -- resolved by hand, not yet healthy: the alert joins it quietly
        ELSIF v_now < v_incident.opened_at
                      + make_interval(secs => tracer_incident_grouping_seconds())
              AND v_incident.resolved_by IS NULL THEN
            UPDATE incidents i SET status = 'open', resolved_at = NULL
                WHERE i.id = v_incident.id;
            INSERT INTO incident_events (incident_id, kind, alert_id, created_at)
            VALUES (v_incident.id, 'reopened', NEW.id, v_now);
        ELSE
            v_incident.id := NULL;
        END IF;
    ELSIF NOT FOUND THEN
        v_incident.id := NULL;
    END IF;

    IF v_incident.id IS NULL THEN
        INSERT INTO incidents AS i (project, service, severity, opened_at, last_alert_at)
        VALUES (NEW.project, NEW.service, NEW.severity, v_now, v_now)
        RETURNING i.* INTO v_incident;
        INSERT INTO incident_events (incident_id, kind, alert_id, created_at)
        VALUES (v_incident.id, 'opened', NEW.id, v_now);
    ELSE
        UPDATE incidents i SET
            last_alert_at = v_now,
            severity = CASE WHEN tracer_severity_rank(NEW.severity)
                                 > tracer_severity_rank(i.severity)
                            THEN NEW.severity ELSE i.severity END
        WHERE i.id = v_incident.id;
        INSERT INTO incident_events (incident_id, kind, alert_id, created_at)
        VALUES (v_incident.id,
                CASE WHEN TG_OP = 'INSERT' OR NEW.incident_id IS DISTINCT FROM v_incident.id
                     THEN 'alert_added' ELSE 'alert_reopened' END,
                NEW.id, v_now);
    END IF;
    NEW.incident_id := v_incident.id;
    RETURN NEW;
END;
$$;
