-- The grouping window in seconds: `tracer.incident_grouping_seconds` when the database or
-- session sets it (ALTER DATABASE ... SET tracer.incident_grouping_seconds = '300'), else 300.
CREATE OR REPLACE FUNCTION tracer_incident_grouping_seconds()
RETURNS double precision
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(nullif(current_setting('tracer.incident_grouping_seconds', true), '')::double precision,
                    300);
$$;
