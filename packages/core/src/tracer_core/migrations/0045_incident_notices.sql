-- Incident notices: acknowledging, unacknowledging, resolving an incident by hand and
-- re-notifying it are outbox events too, so every destination thread the incident already
-- used hears about them. They are written on the incident's first alert, with who did it,
-- and expanded into deliveries in the same transaction as the change itself (dispatched_at
-- set at once, so the outbox expansion never routes them again).
ALTER TABLE alert_events DROP CONSTRAINT alert_events_kind_check;
ALTER TABLE alert_events ADD CONSTRAINT alert_events_kind_check CHECK (kind IN
    ('opened', 'escalated', 'resolved', 'reopened',
     'acknowledged', 'unacknowledged', 'resolved_by_hand', 'renotified'));
ALTER TABLE alert_events ADD COLUMN actor text;
