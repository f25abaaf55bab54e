-- An alert event held back by a silence: expanded into no deliveries, and remembered here so
-- that when the silence ends while the alert is still open it is notified then, exactly once
-- (the release clears the column in the transaction that writes its deliveries).
ALTER TABLE alert_events ADD COLUMN held_by_silence bigint;
CREATE INDEX alert_events_held ON alert_events (alert_id, id) WHERE held_by_silence IS NOT NULL;
