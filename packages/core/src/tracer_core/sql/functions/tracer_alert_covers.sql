-- Does a detection's event-time window fall within an alert's incident? The incident spans
-- from the alert's first anomalous bucket to its recovery (or its last anomalous bucket).
CREATE OR REPLACE FUNCTION tracer_alert_covers(
    alert alerts, window_start timestamptz, window_end timestamptz
) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT (window_start < greatest(alert.window_end, alert.recovered_through)
            AND window_end > alert.window_start)
           OR window_start = alert.window_start
$$;
