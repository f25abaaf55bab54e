-- The advisory lock that serialises every grouping decision of one (project, service).
-- Callers already holding an alert fingerprint lock take this one second, never the reverse.
CREATE OR REPLACE FUNCTION tracer_incident_lock(p_project text, p_service text)
RETURNS void
LANGUAGE sql VOLATILE
AS $$
    SELECT pg_advisory_xact_lock(1953653092, hashtext(p_project || '/' || p_service));
$$;
