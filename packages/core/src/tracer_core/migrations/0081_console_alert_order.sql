-- The console lists alerts open first, then by severity, newest first: this index serves that
-- order, so a page is an index scan and not a sort of every alert.
CREATE INDEX alerts_console_order ON alerts (
    (status = 'open') DESC,
    array_position(ARRAY['critical', 'high', 'medium', 'low'], severity),
    first_seen_at DESC,
    id DESC
);
