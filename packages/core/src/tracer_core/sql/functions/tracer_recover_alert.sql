-- A recovery: resolve the open alert unless it holds evidence newer than the recovery.
CREATE OR REPLACE FUNCTION tracer_recover_alert(
    p_report_id uuid,
    p_fingerprint text,
    p_window_end timestamptz,
    p_details jsonb,
    OUT decision text,
    OUT alert_id bigint
)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_variable
DECLARE
    v_now   timestamptz;
    v_alert alerts%ROWTYPE;
BEGIN
    PERFORM pg_advisory_xact_lock(1953653091, hashtext(p_fingerprint));
    SELECT r.decision, r.alert_id INTO decision, alert_id
        FROM alert_reports r WHERE r.report_id = p_report_id;
    IF FOUND THEN
        RETURN;
    END IF;

    v_now := clock_timestamp();
    SELECT * INTO v_alert FROM alerts a
        WHERE a.fingerprint = p_fingerprint AND a.status = 'open';

    IF NOT FOUND THEN
        decision := 'ignored';
    ELSIF p_window_end <= v_alert.window_end THEN
        decision := 'ignored';
        alert_id := v_alert.id;
    ELSE
        decision := 'resolved';
        alert_id := v_alert.id;
        UPDATE alerts a SET
            status = 'resolved',
            resolved_at = v_now,
            recovered_through = p_window_end,
            details = CASE WHEN p_details = '{}'::jsonb THEN a.details
                           ELSE a.details || jsonb_build_object('recovery', p_details) END
        WHERE a.id = alert_id;
        INSERT INTO alert_events (alert_id, kind, severity, created_at)
        VALUES (alert_id, 'resolved', v_alert.severity, v_now);
    END IF;

    INSERT INTO alert_reports (report_id, alert_id, decision, created_at)
    VALUES (p_report_id, alert_id, decision, v_now);
END;
$$;
