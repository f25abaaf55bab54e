-- The incident a delivery belongs to, copied when the outbox expands the event: later
-- deliveries of one incident on one destination wait for the earlier ones and reply into the
-- thread the first one opened (one Slack thread, Jira issue, PagerDuty incident, mail thread).
ALTER TABLE deliveries ADD COLUMN incident_id bigint REFERENCES incidents (id) ON DELETE SET NULL;
CREATE INDEX deliveries_incident_destination ON deliveries (incident_id, destination, event_id)
    WHERE incident_id IS NOT NULL;
