-- The active silence (lowest id) that matches an alert at `p_at`, or NULL. A weekly silence is
-- active in [starts_at, ends_at) shifted by every whole number of weeks since starts_at.
CREATE OR REPLACE FUNCTION tracer_silence_for(
    p_project text, p_service text, p_alert_type text, p_severity text, p_at timestamptz
)
RETURNS bigint
LANGUAGE sql STABLE
AS $$
    SELECT s.id FROM silences s
    WHERE s.expired_at IS NULL
      AND p_at >= s.starts_at
      AND (CASE WHEN s.recurrence = 'weekly'
                THEN p_at - make_interval(weeks => floor(extract(epoch FROM p_at - s.starts_at)
                                                         / 604800)::integer) < s.ends_at
                ELSE p_at < s.ends_at END)
      AND (s.project IS NULL OR CASE WHEN s.regex THEN p_project ~ ('^(?:' || s.project || ')$')
                                     ELSE p_project = s.project END)
      AND (s.service IS NULL OR CASE WHEN s.regex THEN p_service ~ ('^(?:' || s.service || ')$')
                                     ELSE p_service = s.service END)
      AND (s.alert_type IS NULL
           OR CASE WHEN s.regex THEN p_alert_type ~ ('^(?:' || s.alert_type || ')$')
                   ELSE p_alert_type = s.alert_type END)
      AND (s.severity IS NULL OR CASE WHEN s.regex THEN p_severity ~ ('^(?:' || s.severity || ')$')
                                      ELSE p_severity = s.severity END)
    ORDER BY s.id
    LIMIT 1;
$$;
