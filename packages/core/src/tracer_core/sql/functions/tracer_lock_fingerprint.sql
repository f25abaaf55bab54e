-- The advisory lock that serialises decisions for one fingerprint (two-key form, first key
-- 'trac', so it can never meet the single-key locks used elsewhere).
CREATE OR REPLACE FUNCTION tracer_lock_fingerprint(fingerprint text) RETURNS void
LANGUAGE sql VOLATILE
AS $$ SELECT pg_advisory_xact_lock(1953653091, hashtext(fingerprint)) $$;
