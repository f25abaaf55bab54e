-- The grouping trigger also fires on a severity change, so that an alert escalating inside
-- an open incident raises the incident's severity (tracer_group_alert.sql).
DROP TRIGGER alerts_group_incident ON alerts;
CREATE TRIGGER alerts_group_incident BEFORE INSERT OR UPDATE OF status, severity ON alerts
    FOR EACH ROW EXECUTE FUNCTION tracer_group_alert();
