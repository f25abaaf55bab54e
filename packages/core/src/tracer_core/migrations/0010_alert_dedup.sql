-- Alert deduplication across processor replicas: one decision per detection, taken inside
-- PostgreSQL on the database clock, in one transaction with its outbox row.
--
-- Every decision for a fingerprint runs under a transaction-scoped advisory lock on that
-- fingerprint, so decisions for one incident are serialised and a processor that dies holds
-- nothing; the partial unique index of 0001 stays the last word on "one open alert".

-- Event time of the healthy bucket that resolved the alert. A detection whose window starts at
-- or after it is newer evidence (the incident is back), not a late copy of the old one.
ALTER TABLE alerts ADD COLUMN recovered_through timestamptz;

-- One row per detection or recovery report a processor sent, keyed by a digest of what it
-- reported. A retry after a lost commit acknowledgement finds its row and gets the original
-- decision back instead of counting the same detection twice.
CREATE TABLE alert_reports (
    report_id   uuid        PRIMARY KEY,
    alert_id    bigint,
    decision    text        NOT NULL CHECK (decision IN
                    ('opened', 'merged', 'escalated', 'reopened', 'resolved', 'ignored')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_reports_created ON alert_reports USING brin (created_at);

-- The decision functions (tracer_report_alert, tracer_recover_alert and their helpers) live in
-- tracer_core/sql/functions/ and are applied by the migrator after the numbered migrations.
