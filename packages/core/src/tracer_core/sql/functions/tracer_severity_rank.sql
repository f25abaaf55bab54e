-- Severities in rising order, so that decisions can compare them.
CREATE OR REPLACE FUNCTION tracer_severity_rank(severity text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT array_position(ARRAY['low', 'medium', 'high', 'critical'], severity) $$;
