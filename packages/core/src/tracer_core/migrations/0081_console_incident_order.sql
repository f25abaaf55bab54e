-- The console lists incidents open first, then by severity, newest first: this index serves
-- that order, so a page of 10,000 incidents is an index scan, not a sort.
CREATE INDEX incidents_console_order ON incidents (
    (status = 'open') DESC,
    array_position(ARRAY['critical', 'high', 'medium', 'low'], severity),
    opened_at DESC,
    id DESC
);
