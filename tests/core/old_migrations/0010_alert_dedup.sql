-- Alert deduplication across processor replicas: one decision per detection, taken inside
-- PostgreSQL on the database clock, in one transaction with its outbox row.
--
-- Every decision for a fingerprint runs under a transaction-scoped advisory lock on that
-- fingerprint, so decisions for one incident are serialised and a processor that dies holds
-- nothing; the partial unique index of 0001 stays the last word on "one open alert".

-- Event time of the healthy bucket that resolved the alert. A detection whose window starts at
-- or after it is newer evidence (the incident is back), not a late copy of the old one.
ALTER TABLE alerts ADD COLUMN recovered_through timestamptz;

-- One row per detection or recovery report a processor sent, keyed by a digest of what it
-- reported. A retry after a lost commit acknowledgement finds its row and gets the original
-- decision back instead of counting the same detection twice.
CREATE TABLE alert_reports (
    report_id   uuid        PRIMARY KEY,
    alert_id    bigint,
    decision    text        NOT NULL CHECK (decision IN
                    ('opened', 'merged', 'escalated', 'reopened', 'resolved', 'ignored')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_reports_created ON alert_reports USING brin (created_at);

CREATE FUNCTION tracer_severity_rank(severity text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT array_position(ARRAY['low', 'medium', 'high', 'critical'], severity) $$;

-- The advisory lock that serialises decisions for one fingerprint (two-key form, first key
-- 'trac', so it can never meet the single-key locks used elsewhere).
CREATE FUNCTION tracer_lock_fingerprint(fingerprint text) RETURNS void
LANGUAGE sql VOLATILE
AS $$ SELECT pg_advisory_xact_lock(1953653091, hashtext(fingerprint)) $$;

-- Does a detection's event-time window fall within an alert's incident? The incident spans
-- from the alert's first anomalous bucket to its recovery (or its last anomalous bucket).
CREATE FUNCTION tracer_alert_covers(
    alert alerts, window_start timestamptz, window_end timestamptz
) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT (window_start < greatest(alert.window_end, alert.recovered_through)
            AND window_end > alert.window_start)
           OR window_start = alert.window_start
$$;

-- Start a decision: serialise on the fingerprint, then look for this report's receipt (a
-- retry of a report that already committed). Returns the receipt, or NULL.
CREATE FUNCTION tracer_begin_decision(p_fingerprint text, p_report_id uuid)
RETURNS alert_reports
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_receipt alert_reports;
BEGIN
    PERFORM tracer_lock_fingerprint(p_fingerprint);
    SELECT * INTO v_receipt FROM alert_reports r WHERE r.report_id = p_report_id;
    RETURN v_receipt;
END;
$$;

-- Finish a decision: its outbox event (when there is news to send) and its receipt.
CREATE FUNCTION tracer_finish_decision(
    p_report_id uuid, p_alert_id bigint, p_decision text, p_now timestamptz
) RETURNS void
LANGUAGE sql VOLATILE
AS $$
    INSERT INTO alert_events (alert_id, kind, severity, created_at)
    SELECT a.id, p_decision, a.severity, p_now FROM alerts a
    WHERE a.id = p_alert_id AND p_decision IN ('opened', 'escalated', 'reopened', 'resolved');

    INSERT INTO alert_reports (report_id, alert_id, decision, created_at)
    VALUES (p_report_id, p_alert_id, p_decision, p_now);
$$;

-- A detection: open, merge into, escalate or reopen the alert for its fingerprint.
CREATE FUNCTION tracer_report_alert(
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
    p_flap_seconds double precision
) RETURNS TABLE (decision text, alert_id bigint)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_receipt  alert_reports;
    v_now      timestamptz;
    v_alert    alerts%ROWTYPE;
    v_decision text;
    v_id       bigint;
    v_rank     integer := tracer_severity_rank(p_severity);
    v_target   bigint;
BEGIN
    v_receipt := tracer_begin_decision(p_fingerprint, p_report_id);
    IF v_receipt.report_id IS NOT NULL THEN
        RETURN QUERY SELECT v_receipt.decision, v_receipt.alert_id;
        RETURN;
    END IF;

    -- Taken after the lock: the previous holder's commit is visible and its times are older.
    v_now := clock_timestamp();

    SELECT * INTO v_alert FROM alerts a
        WHERE a.fingerprint = p_fingerprint ORDER BY a.id DESC LIMIT 1;

    IF NOT FOUND THEN
        v_decision := 'opened';
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
                v_decision := 'merged';
            END IF;
        END IF;
        IF v_decision IS NOT NULL THEN
            NULL;
        ELSIF v_alert.status = 'open'
              OR (v_now < v_alert.resolved_at + make_interval(secs => p_covered_seconds)
                  AND (v_alert.recovered_through IS NULL
                       OR p_window_start < v_alert.recovered_through)) THEN
            v_target := v_alert.id;
        ELSIF v_now < v_alert.resolved_at + make_interval(secs => p_flap_seconds) THEN
            v_target := v_alert.id;
            v_decision := 'reopened';
        ELSE
            v_decision := 'opened';
        END IF;
    END IF;

    IF v_decision IS NULL THEN  -- merging into the latest alert
        v_decision := CASE WHEN v_alert.status = 'open'
                                AND v_rank > tracer_severity_rank(v_alert.severity)
                           THEN 'escalated' ELSE 'merged' END;
    END IF;

    IF v_decision = 'opened' THEN
        INSERT INTO alerts AS a (fingerprint, project, service, alert_type, severity, title,
                                 window_start, window_end, first_seen_at, last_seen_at,
                                 reporters, details)
        VALUES (p_fingerprint, p_project, p_service, p_alert_type, p_severity, p_title,
                p_window_start, p_window_end, v_now, v_now,
                jsonb_build_object(p_processor, 1), p_details)
        RETURNING a.id INTO v_id;
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
            status = CASE WHEN v_decision = 'reopened' THEN 'open' ELSE a.status END,
            resolved_at = CASE WHEN v_decision = 'reopened' THEN NULL ELSE a.resolved_at END,
            recovered_through = CASE WHEN v_decision = 'reopened'
                                     THEN NULL ELSE a.recovered_through END,
            reopen_count = a.reopen_count + (v_decision = 'reopened')::integer
        WHERE a.id = v_target
        RETURNING a.id INTO v_id;
    END IF;

    PERFORM tracer_finish_decision(p_report_id, v_id, v_decision, v_now);

    RETURN QUERY SELECT v_decision, v_id;
END;
$$;

-- A recovery: resolve the open alert unless it holds evidence newer than the recovery.
CREATE FUNCTION tracer_recover_alert(
    p_report_id uuid,
    p_fingerprint text,
    p_window_end timestamptz,
    p_details jsonb
) RETURNS TABLE (decision text, alert_id bigint)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_receipt  alert_reports;
    v_now      timestamptz;
    v_alert    alerts%ROWTYPE;
    v_decision text;
    v_id       bigint;
BEGIN
    v_receipt := tracer_begin_decision(p_fingerprint, p_report_id);
    IF v_receipt.report_id IS NOT NULL THEN
        RETURN QUERY SELECT v_receipt.decision, v_receipt.alert_id;
        RETURN;
    END IF;

    v_now := clock_timestamp();
    SELECT * INTO v_alert FROM alerts a
        WHERE a.fingerprint = p_fingerprint AND a.status = 'open';

    IF NOT FOUND THEN
        v_decision := 'ignored';
    ELSIF p_window_end <= v_alert.window_end THEN
        v_decision := 'ignored';
        v_id := v_alert.id;
    ELSE
        v_decision := 'resolved';
        UPDATE alerts a SET
            status = 'resolved',
            resolved_at = v_now,
            recovered_through = p_window_end,
            details = CASE WHEN p_details = '{}'::jsonb THEN a.details
                           ELSE a.details || jsonb_build_object('recovery', p_details) END
        WHERE a.id = v_alert.id
        RETURNING a.id INTO v_id;
    END IF;

    PERFORM tracer_finish_decision(p_report_id, v_id, v_decision, v_now);

    RETURN QUERY SELECT v_decision, v_id;
END;
$$;
