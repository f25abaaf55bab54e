-- A detection: open, merge into, escalate or reopen the alert for its fingerprint. One plpgsql
-- body that returns one row through OUT parameters, with no nested calls or result set, which
-- keeps the database work per decision low.
CREATE OR REPLACE FUNCTION tracer_report_alert(
    p_report_id uuid,
    p_processor text,
    p_fingerprint text,
    p_project text,
    p_service text,
    p_alert_type text,
    p_severity text,
    p_title text,
    p_window_start timestamptz,
    p_window_end timestamptz,
    p_details jsonb,
    p_covered_seconds double precision,
    p_flap_seconds double precision,
    OUT decision text,
    OUT alert_id bigint
)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_variable
DECLARE
    v_now    timestamptz;
    v_alert  alerts%ROWTYPE;
    v_rank   integer := tracer_severity_rank(p_severity);
    v_target bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(1953653091, hashtext(p_fingerprint));
    SELECT r.decision, r.alert_id INTO decision, alert_id
        FROM alert_reports r WHERE r.report_id = p_report_id;
    IF FOUND THEN  -- a retry of a report that already committed
        RETURN;
    END IF;

    -- Taken after the lock: the previous holder's commit is visible and its times are older.
    v_now := clock_timestamp();
    SELECT * INTO v_alert FROM alerts a
        WHERE a.fingerprint = p_fingerprint ORDER BY a.id DESC LIMIT 1;

    IF NOT FOUND THEN
        decision := 'opened';
    ELSIF tracer_alert_covers(v_alert, p_window_start, p_window_end) THEN
        v_target := v_alert.id;
    ELSE
        IF p_window_end <= v_alert.window_start THEN
            -- Older than the latest incident: a late copy of an earlier one stays with it.
            SELECT a.id INTO v_target FROM alerts a
                WHERE a.fingerprint = p_fingerprint AND a.id < v_alert.id
                  AND tracer_alert_covers(a, p_window_start, p_window_end)
                ORDER BY a.id DESC LIMIT 1;
            IF FOUND THEN
                decision := 'merged';
            END IF;
        END IF;
        IF decision IS NOT NULL THEN
            NULL;
        ELSIF v_alert.status = 'open'
              OR (v_now < v_alert.resolved_at + make_interval(secs => p_covered_seconds)
                  AND (v_alert.recovered_through IS NULL
                       OR p_window_start < v_alert.recovered_through)) THEN
            v_target := v_alert.id;
        ELSIF v_now < v_alert.resolved_at + make_interval(secs => p_flap_seconds)
              AND p_window_start < coalesce(v_alert.recovered_through, v_alert.window_end)
                                   + make_interval(secs => p_flap_seconds) THEN
            -- A flap: soon after the resolution in database time (which decides races
            -- between replicas) and in event time (a backfill reports days in seconds).
            v_target := v_alert.id;
            decision := 'reopened';
        ELSE
            decision := 'opened';
        END IF;
    END IF;

    IF decision IS NULL THEN  -- merging into the latest alert
        decision := CASE WHEN v_alert.status = 'open'
                              AND v_rank > tracer_severity_rank(v_alert.severity)
                         THEN 'escalated' ELSE 'merged' END;
    END IF;

    IF decision = 'opened' THEN
        INSERT INTO alerts AS a (fingerprint, project, service, alert_type, severity, title,
                                 window_start, window_end, first_seen_at, last_seen_at,
                                 reporters, details)
        VALUES (p_fingerprint, p_project, p_service, p_alert_type, p_severity, p_title,
                p_window_start, p_window_end, v_now, v_now,
                jsonb_build_object(p_processor, 1), p_details)
        RETURNING a.id INTO alert_id;
        INSERT INTO alert_events (alert_id, kind, severity, created_at)
        VALUES (alert_id, 'opened', p_severity, v_now);
    ELSE
        UPDATE alerts a SET
            last_seen_at = greatest(a.last_seen_at, v_now),
            occurrences = a.occurrences + 1,
            reporters = a.reporters || jsonb_build_object(
                p_processor, coalesce((a.reporters ->> p_processor)::integer, 0) + 1),
            window_start = least(a.window_start, p_window_start),
            window_end = greatest(a.window_end, p_window_end),
            severity = CASE WHEN v_rank > tracer_severity_rank(a.severity)
                            THEN p_severity ELSE a.severity END,
            title = CASE WHEN v_rank >= tracer_severity_rank(a.severity)
                         THEN p_title ELSE a.title END,
            details = CASE WHEN v_rank >= tracer_severity_rank(a.severity)
                           THEN p_details ELSE a.details END,
            status = CASE WHEN decision = 'reopened' THEN 'open' ELSE a.status END,
            resolved_at = CASE WHEN decision = 'reopened' THEN NULL ELSE a.resolved_at END,
            recovered_through = CASE WHEN decision = 'reopened'
                                     THEN NULL ELSE a.recovered_through END,
            reopen_count = a.reopen_count + (decision = 'reopened')::integer
        WHERE a.id = v_target
        RETURNING a.id INTO alert_id;
        IF decision IN ('escalated', 'reopened') THEN
            INSERT INTO alert_events (alert_id, kind, severity, created_at)
            SELECT a.id, decision, a.severity, v_now FROM alerts a WHERE a.id = alert_id;
        END IF;
    END IF;

    INSERT INTO alert_reports (report_id, alert_id, decision, created_at)
    VALUES (p_report_id, alert_id, decision, v_now);
END;
$$;
