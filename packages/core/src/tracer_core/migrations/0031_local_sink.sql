-- The local MCP sink: every tool call it receives, plus the little state a destination keeps
-- (Jira issue numbers and statuses, PagerDuty incidents by dedup key) so that its answers
-- look like the real services' answers.

CREATE TABLE sink_messages (
    id           bigserial   PRIMARY KEY,
    tool         text        NOT NULL,
    toolkit      text        NOT NULL CHECK (toolkit IN ('slack', 'jira', 'pagerduty', 'gmail')),
    target       text        NOT NULL,
    external_id  text        NOT NULL,
    thread_ref   text,
    arguments    jsonb       NOT NULL,
    result       jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sink_messages_newest ON sink_messages (id DESC);
CREATE INDEX sink_messages_target ON sink_messages (toolkit, target, id DESC);
CREATE INDEX sink_messages_thread ON sink_messages (toolkit, thread_ref, id) WHERE thread_ref IS NOT NULL;
-- Slack identifies a message by channel and ts.
CREATE UNIQUE INDEX sink_messages_slack_ts ON sink_messages (target, external_id) WHERE toolkit = 'slack';

CREATE TABLE sink_jira_projects (
    project_key  text        PRIMARY KEY,
    last_number  integer     NOT NULL
);

CREATE TABLE sink_jira_issues (
    issue_key    text        PRIMARY KEY,
    project_key  text        NOT NULL,
    summary      text        NOT NULL,
    status       text        NOT NULL,
    labels       text[]      NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sink_jira_issues_labels ON sink_jira_issues USING gin (labels);

-- PagerDuty keeps at most one unresolved incident per dedup (incident) key.
CREATE TABLE sink_pagerduty_incidents (
    incident_number bigserial   PRIMARY KEY,
    incident_id     text        NOT NULL UNIQUE,
    dedup_key       text        NOT NULL,
    service         text        NOT NULL,
    title           text        NOT NULL,
    urgency         text        NOT NULL CHECK (urgency IN ('high', 'low')),
    status          text        NOT NULL CHECK (status IN ('triggered', 'acknowledged', 'resolved')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sink_pagerduty_one_open ON sink_pagerduty_incidents (dedup_key)
    WHERE status <> 'resolved';
