-- The schema that tracer_core's migrations and SQL functions leave in a database.
-- Generated; do not edit. Regenerate with: uv run python -m tracer_core.schema_dump <server-url>

CREATE TABLE agent_secrets (
    name text NOT NULL,
    secret text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE alert_events (
    id bigint DEFAULT nextval('alert_events_id_seq'::regclass) NOT NULL,
    alert_id bigint NOT NULL,
    kind text NOT NULL,
    severity text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    dispatched_at timestamp with time zone,
    held_by_silence bigint,
    actor text
);

CREATE TABLE alert_reports (
    report_id uuid NOT NULL,
    alert_id bigint,
    decision text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE alert_summaries (
    event_id bigint NOT NULL,
    alert_id bigint NOT NULL,
    source text NOT NULL,
    model text,
    fallback_reason text,
    summary jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE alerts (
    id bigint DEFAULT nextval('alerts_id_seq'::regclass) NOT NULL,
    fingerprint text NOT NULL,
    project text NOT NULL,
    service text NOT NULL,
    alert_type text NOT NULL,
    severity text NOT NULL,
    status text DEFAULT 'open'::text NOT NULL,
    title text NOT NULL,
    window_start timestamp with time zone NOT NULL,
    window_end timestamp with time zone NOT NULL,
    first_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    last_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    resolved_at timestamp with time zone,
    occurrences integer DEFAULT 1 NOT NULL,
    reopen_count integer DEFAULT 0 NOT NULL,
    reporters jsonb DEFAULT '{}'::jsonb NOT NULL,
    details jsonb DEFAULT '{}'::jsonb NOT NULL,
    recovered_through timestamp with time zone,
    incident_id bigint
);

CREATE TABLE api_keys (
    id bigint DEFAULT nextval('api_keys_id_seq'::regclass) NOT NULL,
    name text NOT NULL,
    role text NOT NULL,
    prefix text NOT NULL,
    key_hash text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_used_at timestamp with time zone,
    revoked_at timestamp with time zone
);

CREATE TABLE baseline_checkpoints (
    project text NOT NULL,
    service text NOT NULL,
    bucket_end timestamp with time zone NOT NULL,
    state bytea NOT NULL,
    saved_by text NOT NULL,
    saved_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE chat_conversations (
    id text NOT NULL,
    user_id text NOT NULL,
    title text DEFAULT ''::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE chat_messages (
    id bigint DEFAULT nextval('chat_messages_id_seq'::regclass) NOT NULL,
    conversation_id text NOT NULL,
    role text NOT NULL,
    content text DEFAULT ''::text NOT NULL,
    tool_calls jsonb,
    tool_call_id text,
    alert_ids bigint[] DEFAULT '{}'::bigint[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE cluster_members (
    member_id text NOT NULL,
    seen_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE connections (
    id text NOT NULL,
    user_id text NOT NULL,
    toolkit text NOT NULL,
    scope text NOT NULL,
    status text NOT NULL,
    redirect_url text,
    created_by text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE console_sessions (
    token_hash text NOT NULL,
    api_key_id bigint NOT NULL,
    csrf_token text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL
);

CREATE TABLE deliveries (
    id bigint DEFAULT nextval('deliveries_id_seq'::regclass) NOT NULL,
    alert_id bigint NOT NULL,
    event_id bigint NOT NULL,
    destination text NOT NULL,
    toolkit text NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    last_error text,
    result jsonb DEFAULT '{}'::jsonb NOT NULL,
    lease_owner text,
    lease_expires_at timestamp with time zone,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    target jsonb DEFAULT '{}'::jsonb NOT NULL,
    delivered_at timestamp with time zone,
    incident_id bigint
);

CREATE TABLE delivery_attempts (
    id bigint DEFAULT nextval('delivery_attempts_id_seq'::regclass) NOT NULL,
    delivery_id bigint NOT NULL,
    step text NOT NULL,
    marker text NOT NULL,
    tool text NOT NULL,
    worker text NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    outcome text,
    error text,
    result jsonb DEFAULT '{}'::jsonb NOT NULL
);

CREATE TABLE delivery_threads (
    alert_id bigint NOT NULL,
    destination text NOT NULL,
    toolkit text NOT NULL,
    channel text,
    thread_ref text NOT NULL,
    data jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE destination_rate_limits (
    destination text NOT NULL,
    tat timestamp with time zone NOT NULL
);

CREATE TABLE incident_events (
    id bigint DEFAULT nextval('incident_events_id_seq'::regclass) NOT NULL,
    incident_id bigint NOT NULL,
    kind text NOT NULL,
    alert_id bigint,
    actor text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE incidents (
    id bigint DEFAULT nextval('incidents_id_seq'::regclass) NOT NULL,
    project text NOT NULL,
    service text NOT NULL,
    status text DEFAULT 'open'::text NOT NULL,
    severity text NOT NULL,
    opened_at timestamp with time zone DEFAULT now() NOT NULL,
    last_alert_at timestamp with time zone DEFAULT now() NOT NULL,
    resolved_at timestamp with time zone,
    resolved_by text,
    acknowledged_at timestamp with time zone,
    acknowledged_by text,
    renotify_count integer DEFAULT 0 NOT NULL,
    last_notified_at timestamp with time zone
);

CREATE TABLE llm_usage (
    id bigint DEFAULT nextval('llm_usage_id_seq'::regclass) NOT NULL,
    purpose text NOT NULL,
    model text NOT NULL,
    prompt_tokens integer DEFAULT 0 NOT NULL,
    completion_tokens integer DEFAULT 0 NOT NULL,
    cost_usd double precision DEFAULT 0 NOT NULL,
    reference text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE partition_leases (
    partition integer NOT NULL,
    owner text,
    token bigint DEFAULT 0 NOT NULL,
    expires_at timestamp with time zone DEFAULT '-infinity'::timestamp with time zone NOT NULL,
    resume_seq bigint DEFAULT 0 NOT NULL,
    folded bigint DEFAULT 0 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE schema_functions (
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE service_arrivals (
    project text NOT NULL,
    service text NOT NULL,
    last_arrival timestamp with time zone NOT NULL
);

CREATE TABLE service_rollups (
    project text NOT NULL,
    service text NOT NULL,
    minute timestamp with time zone NOT NULL,
    count bigint DEFAULT 0 NOT NULL,
    errors bigint DEFAULT 0 NOT NULL,
    p95_ms double precision,
    error_rate_mean double precision,
    error_rate_std double precision,
    count_mean double precision,
    count_std double precision,
    p95_mean double precision,
    p95_std double precision,
    score double precision DEFAULT 0 NOT NULL,
    anomalous boolean DEFAULT false NOT NULL
);

CREATE TABLE silences (
    id bigint DEFAULT nextval('silences_id_seq'::regclass) NOT NULL,
    project text,
    service text,
    alert_type text,
    severity text,
    regex boolean DEFAULT false NOT NULL,
    starts_at timestamp with time zone NOT NULL,
    ends_at timestamp with time zone NOT NULL,
    recurrence text DEFAULT 'none'::text NOT NULL,
    creator text NOT NULL,
    comment text DEFAULT ''::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expired_at timestamp with time zone
);

CREATE TABLE sink_jira_issues (
    issue_key text NOT NULL,
    project_key text NOT NULL,
    summary text NOT NULL,
    status text NOT NULL,
    labels text[] DEFAULT '{}'::text[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE sink_jira_projects (
    project_key text NOT NULL,
    last_number integer NOT NULL
);

CREATE TABLE sink_messages (
    id bigint DEFAULT nextval('sink_messages_id_seq'::regclass) NOT NULL,
    tool text NOT NULL,
    toolkit text NOT NULL,
    target text NOT NULL,
    external_id text NOT NULL,
    thread_ref text,
    arguments jsonb NOT NULL,
    result jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE sink_pagerduty_incidents (
    incident_number bigint DEFAULT nextval('sink_pagerduty_incidents_incident_number_seq'::regclass) NOT NULL,
    incident_id text NOT NULL,
    dedup_key text NOT NULL,
    service text NOT NULL,
    title text NOT NULL,
    urgency text NOT NULL,
    status text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE SEQUENCE alert_events_id_seq AS bigint;
CREATE SEQUENCE alerts_id_seq AS bigint;
CREATE SEQUENCE api_keys_id_seq AS bigint;
CREATE SEQUENCE chat_messages_id_seq AS bigint;
CREATE SEQUENCE deliveries_id_seq AS bigint;
CREATE SEQUENCE delivery_attempts_id_seq AS bigint;
CREATE SEQUENCE incident_events_id_seq AS bigint;
CREATE SEQUENCE incidents_id_seq AS bigint;
CREATE SEQUENCE llm_usage_id_seq AS bigint;
CREATE SEQUENCE silences_id_seq AS bigint;
CREATE SEQUENCE sink_messages_id_seq AS bigint;
CREATE SEQUENCE sink_pagerduty_incidents_incident_number_seq AS bigint;

ALTER TABLE agent_secrets ADD CONSTRAINT agent_secrets_pkey PRIMARY KEY (name);
ALTER TABLE agent_secrets ADD CONSTRAINT agent_secrets_secret_check CHECK ((length(secret) >= 32));
ALTER TABLE alert_events ADD CONSTRAINT alert_events_alert_id_fkey FOREIGN KEY (alert_id) REFERENCES alerts(id) ON DELETE CASCADE;
ALTER TABLE alert_events ADD CONSTRAINT alert_events_kind_check CHECK ((kind = ANY (ARRAY['opened'::text, 'escalated'::text, 'resolved'::text, 'reopened'::text, 'acknowledged'::text, 'unacknowledged'::text, 'resolved_by_hand'::text, 'renotified'::text])));
ALTER TABLE alert_events ADD CONSTRAINT alert_events_pkey PRIMARY KEY (id);
ALTER TABLE alert_events ADD CONSTRAINT alert_events_severity_check CHECK ((severity = ANY (ARRAY['low'::text, 'medium'::text, 'high'::text, 'critical'::text])));
ALTER TABLE alert_reports ADD CONSTRAINT alert_reports_decision_check CHECK ((decision = ANY (ARRAY['opened'::text, 'merged'::text, 'escalated'::text, 'reopened'::text, 'resolved'::text, 'ignored'::text])));
ALTER TABLE alert_reports ADD CONSTRAINT alert_reports_pkey PRIMARY KEY (report_id);
ALTER TABLE alert_summaries ADD CONSTRAINT alert_summaries_alert_id_fkey FOREIGN KEY (alert_id) REFERENCES alerts(id) ON DELETE CASCADE;
ALTER TABLE alert_summaries ADD CONSTRAINT alert_summaries_event_id_fkey FOREIGN KEY (event_id) REFERENCES alert_events(id) ON DELETE CASCADE;
ALTER TABLE alert_summaries ADD CONSTRAINT alert_summaries_pkey PRIMARY KEY (event_id);
ALTER TABLE alert_summaries ADD CONSTRAINT alert_summaries_source_check CHECK ((source = ANY (ARRAY['llm'::text, 'template'::text])));
ALTER TABLE alerts ADD CONSTRAINT alerts_alert_type_check CHECK ((alert_type = ANY (ARRAY['error_spike'::text, 'high_latency'::text, 'traffic_drop'::text, 'traffic_spike'::text, 'service_down'::text])));
ALTER TABLE alerts ADD CONSTRAINT alerts_check CHECK ((window_end >= window_start));
ALTER TABLE alerts ADD CONSTRAINT alerts_check1 CHECK (((status = 'resolved'::text) = (resolved_at IS NOT NULL)));
ALTER TABLE alerts ADD CONSTRAINT alerts_incident_id_fkey FOREIGN KEY (incident_id) REFERENCES incidents(id) ON DELETE SET NULL;
ALTER TABLE alerts ADD CONSTRAINT alerts_occurrences_check CHECK ((occurrences >= 1));
ALTER TABLE alerts ADD CONSTRAINT alerts_pkey PRIMARY KEY (id);
ALTER TABLE alerts ADD CONSTRAINT alerts_severity_check CHECK ((severity = ANY (ARRAY['low'::text, 'medium'::text, 'high'::text, 'critical'::text])));
ALTER TABLE alerts ADD CONSTRAINT alerts_status_check CHECK ((status = ANY (ARRAY['open'::text, 'resolved'::text])));
ALTER TABLE api_keys ADD CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash);
ALTER TABLE api_keys ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);
ALTER TABLE api_keys ADD CONSTRAINT api_keys_prefix_key UNIQUE (prefix);
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK ((role = ANY (ARRAY['admin'::text, 'engineer'::text, 'ingest'::text])));
ALTER TABLE baseline_checkpoints ADD CONSTRAINT baseline_checkpoints_pkey PRIMARY KEY (project, service);
ALTER TABLE chat_conversations ADD CONSTRAINT chat_conversations_pkey PRIMARY KEY (id);
ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_conversation_id_fkey FOREIGN KEY (conversation_id) REFERENCES chat_conversations(id) ON DELETE CASCADE;
ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_pkey PRIMARY KEY (id);
ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_role_check CHECK ((role = ANY (ARRAY['user'::text, 'assistant'::text, 'tool'::text])));
ALTER TABLE cluster_members ADD CONSTRAINT cluster_members_pkey PRIMARY KEY (member_id);
ALTER TABLE connections ADD CONSTRAINT connections_pkey PRIMARY KEY (id);
ALTER TABLE connections ADD CONSTRAINT connections_scope_check CHECK ((scope = ANY (ARRAY['org'::text, 'user'::text])));
ALTER TABLE connections ADD CONSTRAINT connections_status_check CHECK ((status = ANY (ARRAY['INITIATED'::text, 'ACTIVE'::text, 'FAILED'::text, 'EXPIRED'::text, 'INACTIVE'::text])));
ALTER TABLE connections ADD CONSTRAINT connections_toolkit_check CHECK ((toolkit = ANY (ARRAY['slack'::text, 'jira'::text, 'pagerduty'::text, 'gmail'::text])));
ALTER TABLE console_sessions ADD CONSTRAINT console_sessions_api_key_id_fkey FOREIGN KEY (api_key_id) REFERENCES api_keys(id) ON DELETE CASCADE;
ALTER TABLE console_sessions ADD CONSTRAINT console_sessions_pkey PRIMARY KEY (token_hash);
ALTER TABLE deliveries ADD CONSTRAINT deliveries_alert_id_fkey FOREIGN KEY (alert_id) REFERENCES alerts(id) ON DELETE CASCADE;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_event_id_destination_key UNIQUE (event_id, destination);
ALTER TABLE deliveries ADD CONSTRAINT deliveries_event_id_fkey FOREIGN KEY (event_id) REFERENCES alert_events(id) ON DELETE CASCADE;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_incident_id_fkey FOREIGN KEY (incident_id) REFERENCES incidents(id) ON DELETE SET NULL;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_pkey PRIMARY KEY (id);
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'in_progress'::text, 'delivered'::text, 'failed'::text, 'dead'::text])));
ALTER TABLE deliveries ADD CONSTRAINT deliveries_toolkit_check CHECK ((toolkit = ANY (ARRAY['slack'::text, 'jira'::text, 'pagerduty'::text, 'gmail'::text, 'webhook'::text])));
ALTER TABLE delivery_attempts ADD CONSTRAINT delivery_attempts_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES deliveries(id) ON DELETE CASCADE;
ALTER TABLE delivery_attempts ADD CONSTRAINT delivery_attempts_outcome_check CHECK ((outcome = ANY (ARRAY['sent'::text, 'failed'::text, 'found'::text, 'not_found'::text])));
ALTER TABLE delivery_attempts ADD CONSTRAINT delivery_attempts_pkey PRIMARY KEY (id);
ALTER TABLE delivery_threads ADD CONSTRAINT delivery_threads_alert_id_fkey FOREIGN KEY (alert_id) REFERENCES alerts(id) ON DELETE CASCADE;
ALTER TABLE delivery_threads ADD CONSTRAINT delivery_threads_pkey PRIMARY KEY (alert_id, destination);
ALTER TABLE delivery_threads ADD CONSTRAINT delivery_threads_toolkit_check CHECK ((toolkit = ANY (ARRAY['slack'::text, 'jira'::text, 'pagerduty'::text, 'gmail'::text, 'webhook'::text])));
ALTER TABLE destination_rate_limits ADD CONSTRAINT destination_rate_limits_pkey PRIMARY KEY (destination);
ALTER TABLE incident_events ADD CONSTRAINT incident_events_incident_id_fkey FOREIGN KEY (incident_id) REFERENCES incidents(id) ON DELETE CASCADE;
ALTER TABLE incident_events ADD CONSTRAINT incident_events_kind_check CHECK ((kind = ANY (ARRAY['opened'::text, 'alert_added'::text, 'alert_reopened'::text, 'reopened'::text, 'resolved'::text, 'acknowledged'::text, 'unacknowledged'::text, 'manually_resolved'::text, 'renotified'::text])));
ALTER TABLE incident_events ADD CONSTRAINT incident_events_pkey PRIMARY KEY (id);
ALTER TABLE incidents ADD CONSTRAINT incidents_check CHECK (((status = 'resolved'::text) = (resolved_at IS NOT NULL)));
ALTER TABLE incidents ADD CONSTRAINT incidents_check1 CHECK (((acknowledged_at IS NULL) = (acknowledged_by IS NULL)));
ALTER TABLE incidents ADD CONSTRAINT incidents_pkey PRIMARY KEY (id);
ALTER TABLE incidents ADD CONSTRAINT incidents_renotify_count_check CHECK ((renotify_count >= 0));
ALTER TABLE incidents ADD CONSTRAINT incidents_severity_check CHECK ((severity = ANY (ARRAY['low'::text, 'medium'::text, 'high'::text, 'critical'::text])));
ALTER TABLE incidents ADD CONSTRAINT incidents_status_check CHECK ((status = ANY (ARRAY['open'::text, 'resolved'::text])));
ALTER TABLE llm_usage ADD CONSTRAINT llm_usage_completion_tokens_check CHECK ((completion_tokens >= 0));
ALTER TABLE llm_usage ADD CONSTRAINT llm_usage_cost_usd_check CHECK (((cost_usd >= (0)::double precision) AND (cost_usd <= ('1000000000000'::numeric)::double precision)));
ALTER TABLE llm_usage ADD CONSTRAINT llm_usage_pkey PRIMARY KEY (id);
ALTER TABLE llm_usage ADD CONSTRAINT llm_usage_prompt_tokens_check CHECK ((prompt_tokens >= 0));
ALTER TABLE partition_leases ADD CONSTRAINT partition_leases_pkey PRIMARY KEY (partition);
ALTER TABLE schema_functions ADD CONSTRAINT schema_functions_pkey PRIMARY KEY (name);
ALTER TABLE schema_migrations ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);
ALTER TABLE service_arrivals ADD CONSTRAINT service_arrivals_pkey PRIMARY KEY (project, service);
ALTER TABLE service_rollups ADD CONSTRAINT service_rollups_pkey PRIMARY KEY (project, service, minute);
ALTER TABLE silences ADD CONSTRAINT silences_check CHECK ((ends_at > starts_at));
ALTER TABLE silences ADD CONSTRAINT silences_check1 CHECK (((recurrence = 'none'::text) OR ((ends_at - starts_at) < '7 days'::interval)));
ALTER TABLE silences ADD CONSTRAINT silences_pkey PRIMARY KEY (id);
ALTER TABLE silences ADD CONSTRAINT silences_recurrence_check CHECK ((recurrence = ANY (ARRAY['none'::text, 'weekly'::text])));
ALTER TABLE sink_jira_issues ADD CONSTRAINT sink_jira_issues_pkey PRIMARY KEY (issue_key);
ALTER TABLE sink_jira_projects ADD CONSTRAINT sink_jira_projects_pkey PRIMARY KEY (project_key);
ALTER TABLE sink_messages ADD CONSTRAINT sink_messages_pkey PRIMARY KEY (id);
ALTER TABLE sink_messages ADD CONSTRAINT sink_messages_toolkit_check CHECK ((toolkit = ANY (ARRAY['slack'::text, 'jira'::text, 'pagerduty'::text, 'gmail'::text])));
ALTER TABLE sink_pagerduty_incidents ADD CONSTRAINT sink_pagerduty_incidents_incident_id_key UNIQUE (incident_id);
ALTER TABLE sink_pagerduty_incidents ADD CONSTRAINT sink_pagerduty_incidents_pkey PRIMARY KEY (incident_number);
ALTER TABLE sink_pagerduty_incidents ADD CONSTRAINT sink_pagerduty_incidents_status_check CHECK ((status = ANY (ARRAY['triggered'::text, 'acknowledged'::text, 'resolved'::text])));
ALTER TABLE sink_pagerduty_incidents ADD CONSTRAINT sink_pagerduty_incidents_urgency_check CHECK ((urgency = ANY (ARRAY['high'::text, 'low'::text])));

CREATE INDEX alert_events_alert ON public.alert_events USING btree (alert_id, id);
CREATE INDEX alert_events_held ON public.alert_events USING btree (alert_id, id) WHERE (held_by_silence IS NOT NULL);
CREATE INDEX alert_events_undispatched ON public.alert_events USING btree (id) WHERE (dispatched_at IS NULL);
CREATE INDEX alert_reports_created ON public.alert_reports USING brin (created_at);
CREATE INDEX alert_summaries_alert ON public.alert_summaries USING btree (alert_id, event_id DESC);
CREATE INDEX alerts_fingerprint_recent ON public.alerts USING btree (fingerprint, id DESC);
CREATE INDEX alerts_incident ON public.alerts USING btree (incident_id, id);
CREATE UNIQUE INDEX alerts_one_open_per_fingerprint ON public.alerts USING btree (fingerprint) WHERE (status = 'open'::text);
CREATE INDEX alerts_service ON public.alerts USING btree (service, id DESC);
CREATE INDEX alerts_status_last_seen ON public.alerts USING btree (status, last_seen_at DESC);
CREATE INDEX baseline_checkpoints_bucket_end ON public.baseline_checkpoints USING btree (bucket_end);
CREATE INDEX chat_conversations_user ON public.chat_conversations USING btree (user_id, updated_at DESC);
CREATE INDEX chat_messages_conversation ON public.chat_messages USING btree (conversation_id, id);
CREATE INDEX connections_user ON public.connections USING btree (user_id, toolkit);
CREATE INDEX console_sessions_expiry ON public.console_sessions USING btree (expires_at);
CREATE INDEX deliveries_alert ON public.deliveries USING btree (alert_id, id);
CREATE INDEX deliveries_alert_destination ON public.deliveries USING btree (alert_id, destination, event_id);
CREATE INDEX deliveries_due ON public.deliveries USING btree (next_attempt_at) WHERE (status = ANY (ARRAY['pending'::text, 'failed'::text, 'in_progress'::text]));
CREATE INDEX deliveries_incident_destination ON public.deliveries USING btree (incident_id, destination, event_id) WHERE (incident_id IS NOT NULL);
CREATE INDEX delivery_attempts_delivery ON public.delivery_attempts USING btree (delivery_id, id);
CREATE INDEX incident_events_incident ON public.incident_events USING btree (incident_id, id);
CREATE INDEX incidents_console_order ON public.incidents USING btree (((status = 'open'::text)) DESC, array_position(ARRAY['critical'::text, 'high'::text, 'medium'::text, 'low'::text], severity), opened_at DESC, id DESC);
CREATE INDEX incidents_group_recent ON public.incidents USING btree (project, service, id DESC);
CREATE UNIQUE INDEX incidents_one_open_per_group ON public.incidents USING btree (project, service) WHERE (status = 'open'::text);
CREATE INDEX incidents_status_opened ON public.incidents USING btree (status, opened_at DESC);
CREATE INDEX llm_usage_created ON public.llm_usage USING btree (created_at DESC);
CREATE INDEX service_rollups_minute ON public.service_rollups USING btree (minute);
CREATE INDEX silences_active ON public.silences USING btree (ends_at) WHERE (expired_at IS NULL);
CREATE INDEX sink_jira_issues_labels ON public.sink_jira_issues USING gin (labels);
CREATE INDEX sink_messages_newest ON public.sink_messages USING btree (id DESC);
CREATE UNIQUE INDEX sink_messages_slack_ts ON public.sink_messages USING btree (target, external_id) WHERE (toolkit = 'slack'::text);
CREATE INDEX sink_messages_target ON public.sink_messages USING btree (toolkit, target, id DESC);
CREATE INDEX sink_messages_thread ON public.sink_messages USING btree (toolkit, thread_ref, id) WHERE (thread_ref IS NOT NULL);
CREATE UNIQUE INDEX sink_pagerduty_one_open ON public.sink_pagerduty_incidents USING btree (dedup_key) WHERE (status <> 'resolved'::text);

CREATE OR REPLACE FUNCTION public.tracer_alert_covers(alert alerts, window_start timestamp with time zone, window_end timestamp with time zone)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT (window_start < greatest(alert.window_end, alert.recovered_through)
            AND window_end > alert.window_start)
           OR window_start = alert.window_start
$function$;

CREATE OR REPLACE FUNCTION public.tracer_group_alert()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_now      timestamptz;
    v_incident incidents%ROWTYPE;
    v_open     boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
        -- An escalation raises its incident's severity (what re-notification looks at).
        IF NEW.status = 'open' AND NEW.incident_id IS NOT NULL
           AND NEW.severity IS DISTINCT FROM OLD.severity THEN
            UPDATE incidents i SET severity = NEW.severity
                WHERE i.id = NEW.incident_id AND i.status = 'open'
                  AND tracer_severity_rank(NEW.severity) > tracer_severity_rank(i.severity);
        END IF;
        RETURN NEW;
    END IF;
    PERFORM tracer_incident_lock(NEW.project, NEW.service);
    v_now := clock_timestamp();

    IF NEW.status = 'resolved' THEN
        IF NEW.incident_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM alerts a
            WHERE a.incident_id = NEW.incident_id AND a.id <> NEW.id AND a.status = 'open'
        ) THEN
            UPDATE incidents i SET status = 'resolved', resolved_at = v_now
                WHERE i.id = NEW.incident_id AND i.status = 'open';
            IF FOUND THEN
                INSERT INTO incident_events (incident_id, kind, alert_id, created_at)
                VALUES (NEW.incident_id, 'resolved', NEW.id, v_now);
            END IF;
        END IF;
        RETURN NEW;
    END IF;

    SELECT * INTO v_incident FROM incidents i
        WHERE i.project = NEW.project AND i.service = NEW.service
        ORDER BY i.id DESC LIMIT 1;
    IF FOUND AND v_incident.status = 'resolved' THEN
        v_open := EXISTS (SELECT 1 FROM alerts a
                          WHERE a.incident_id = v_incident.id AND a.status = 'open'
                            AND a.id <> NEW.id);
        IF v_incident.resolved_by IS NOT NULL AND v_open THEN
            NULL;  -- resolved by hand, not yet healthy: the alert joins it quietly
        ELSIF v_now < v_incident.opened_at
                      + make_interval(secs => tracer_incident_grouping_seconds())
              AND v_incident.resolved_by IS NULL THEN
            UPDATE incidents i SET status = 'open', resolved_at = NULL
                WHERE i.id = v_incident.id;
            INSERT INTO incident_events (incident_id, kind, alert_id, created_at)
            VALUES (v_incident.id, 'reopened', NEW.id, v_now);
        ELSE
            v_incident.id := NULL;
        END IF;
    ELSIF NOT FOUND THEN
        v_incident.id := NULL;
    END IF;

    IF v_incident.id IS NULL THEN
        INSERT INTO incidents AS i (project, service, severity, opened_at, last_alert_at)
        VALUES (NEW.project, NEW.service, NEW.severity, v_now, v_now)
        RETURNING i.* INTO v_incident;
        INSERT INTO incident_events (incident_id, kind, alert_id, created_at)
        VALUES (v_incident.id, 'opened', NEW.id, v_now);
    ELSE
        UPDATE incidents i SET
            last_alert_at = v_now,
            severity = CASE WHEN tracer_severity_rank(NEW.severity)
                                 > tracer_severity_rank(i.severity)
                            THEN NEW.severity ELSE i.severity END
        WHERE i.id = v_incident.id;
        INSERT INTO incident_events (incident_id, kind, alert_id, created_at)
        VALUES (v_incident.id,
                CASE WHEN TG_OP = 'INSERT' OR NEW.incident_id IS DISTINCT FROM v_incident.id
                     THEN 'alert_added' ELSE 'alert_reopened' END,
                NEW.id, v_now);
    END IF;
    NEW.incident_id := v_incident.id;
    RETURN NEW;
END;
$function$;

CREATE OR REPLACE FUNCTION public.tracer_incident_grouping_seconds()
 RETURNS double precision
 LANGUAGE sql
 STABLE
AS $function$
    SELECT coalesce(nullif(current_setting('tracer.incident_grouping_seconds', true), '')::double precision,
                    300);
$function$;

CREATE OR REPLACE FUNCTION public.tracer_incident_lock(p_project text, p_service text)
 RETURNS void
 LANGUAGE sql
AS $function$
    SELECT pg_advisory_xact_lock(1953653092, hashtext(p_project || '/' || p_service));
$function$;

CREATE OR REPLACE FUNCTION public.tracer_lock_fingerprint(fingerprint text)
 RETURNS void
 LANGUAGE sql
AS $function$ SELECT pg_advisory_xact_lock(1953653091, hashtext(fingerprint)) $function$;

CREATE OR REPLACE FUNCTION public.tracer_notify_alert_event()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM pg_notify('tracer_alerts', NEW.id::text);
    RETURN NEW;
END;
$function$;

CREATE OR REPLACE FUNCTION public.tracer_recover_alert(p_report_id uuid, p_fingerprint text, p_window_end timestamp with time zone, p_details jsonb, OUT decision text, OUT alert_id bigint)
 RETURNS record
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_variable
DECLARE
    v_now   timestamptz;
    v_alert alerts%ROWTYPE;
BEGIN
    PERFORM pg_advisory_xact_lock(1953653091, hashtext(p_fingerprint));
    SELECT r.decision, r.alert_id INTO decision, alert_id
        FROM alert_reports r WHERE r.report_id = p_report_id;
    IF FOUND THEN
        RETURN;
    END IF;

    v_now := clock_timestamp();
    SELECT * INTO v_alert FROM alerts a
        WHERE a.fingerprint = p_fingerprint AND a.status = 'open';

    IF NOT FOUND THEN
        decision := 'ignored';
    ELSIF p_window_end <= v_alert.window_end THEN
        decision := 'ignored';
        alert_id := v_alert.id;
    ELSE
        decision := 'resolved';
        alert_id := v_alert.id;
        UPDATE alerts a SET
            status = 'resolved',
            resolved_at = v_now,
            recovered_through = p_window_end,
            details = CASE WHEN p_details = '{}'::jsonb THEN a.details
                           ELSE a.details || jsonb_build_object('recovery', p_details) END
        WHERE a.id = alert_id;
        INSERT INTO alert_events (alert_id, kind, severity, created_at)
        VALUES (alert_id, 'resolved', v_alert.severity, v_now);
    END IF;

    INSERT INTO alert_reports (report_id, alert_id, decision, created_at)
    VALUES (p_report_id, alert_id, decision, v_now);
END;
$function$;

CREATE OR REPLACE FUNCTION public.tracer_report_alert(p_report_id uuid, p_processor text, p_fingerprint text, p_project text, p_service text, p_alert_type text, p_severity text, p_title text, p_window_start timestamp with time zone, p_window_end timestamp with time zone, p_details jsonb, p_covered_seconds double precision, p_flap_seconds double precision, OUT decision text, OUT alert_id bigint)
 RETURNS record
 LANGUAGE plpgsql
AS $function$
#variable_conflict use_variable
DECLARE
    v_now    timestamptz;
    v_alert  alerts%ROWTYPE;
    v_rank   integer := tracer_severity_rank(p_severity);
    v_target bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(1953653091, hashtext(p_fingerprint));
    SELECT r.decision, r.alert_id INTO decision, alert_id
        FROM alert_reports r WHERE r.report_id = p_report_id;
    IF FOUND THEN  -- a retry of a report that already committed
        RETURN;
    END IF;

    -- Taken after the lock: the previous holder's commit is visible and its times are older.
    v_now := clock_timestamp();
    SELECT * INTO v_alert FROM alerts a
        WHERE a.fingerprint = p_fingerprint ORDER BY a.id DESC LIMIT 1;

    IF NOT FOUND THEN
        decision := 'opened';
    ELSIF tracer_alert_covers(v_alert, p_window_start, p_window_end) THEN
        v_target := v_alert.id;
    ELSE
        IF p_window_end <= v_alert.window_start THEN
            -- Older than the latest incident: a late copy of an earlier one stays with it.
            SELECT a.id INTO v_target FROM alerts a
                WHERE a.fingerprint = p_fingerprint AND a.id < v_alert.id
                  AND tracer_alert_covers(a, p_window_start, p_window_end)
                ORDER BY a.id DESC LIMIT 1;
            IF FOUND THEN
                decision := 'merged';
            END IF;
        END IF;
        IF decision IS NOT NULL THEN
            NULL;
        ELSIF v_alert.status = 'open'
              OR (v_now < v_alert.resolved_at + make_interval(secs => p_covered_seconds)
                  AND (v_alert.recovered_through IS NULL
                       OR p_window_start < v_alert.recovered_through)) THEN
            v_target := v_alert.id;
        ELSIF v_now < v_alert.resolved_at + make_interval(secs => p_flap_seconds)
              AND p_window_start < coalesce(v_alert.recovered_through, v_alert.window_end)
                                   + make_interval(secs => p_flap_seconds) THEN
            -- A flap: soon after the resolution in database time (which decides races
            -- between replicas) and in event time (a backfill reports days in seconds).
            v_target := v_alert.id;
            decision := 'reopened';
        ELSE
            decision := 'opened';
        END IF;
    END IF;

    IF decision IS NULL THEN  -- merging into the latest alert
        decision := CASE WHEN v_alert.status = 'open'
                              AND v_rank > tracer_severity_rank(v_alert.severity)
                         THEN 'escalated' ELSE 'merged' END;
    END IF;

    IF decision = 'opened' THEN
        INSERT INTO alerts AS a (fingerprint, project, service, alert_type, severity, title,
                                 window_start, window_end, first_seen_at, last_seen_at,
                                 reporters, details)
        VALUES (p_fingerprint, p_project, p_service, p_alert_type, p_severity, p_title,
                p_window_start, p_window_end, v_now, v_now,
                jsonb_build_object(p_processor, 1), p_details)
        RETURNING a.id INTO alert_id;
        INSERT INTO alert_events (alert_id, kind, severity, created_at)
        VALUES (alert_id, 'opened', p_severity, v_now);
    ELSE
        UPDATE alerts a SET
            last_seen_at = greatest(a.last_seen_at, v_now),
            occurrences = a.occurrences + 1,
            reporters = a.reporters || jsonb_build_object(
                p_processor, coalesce((a.reporters ->> p_processor)::integer, 0) + 1),
            window_start = least(a.window_start, p_window_start),
            window_end = greatest(a.window_end, p_window_end),
            severity = CASE WHEN v_rank > tracer_severity_rank(a.severity)
                            THEN p_severity ELSE a.severity END,
            title = CASE WHEN v_rank >= tracer_severity_rank(a.severity)
                         THEN p_title ELSE a.title END,
            details = CASE WHEN v_rank >= tracer_severity_rank(a.severity)
                           THEN p_details ELSE a.details END,
            status = CASE WHEN decision = 'reopened' THEN 'open' ELSE a.status END,
            resolved_at = CASE WHEN decision = 'reopened' THEN NULL ELSE a.resolved_at END,
            recovered_through = CASE WHEN decision = 'reopened'
                                     THEN NULL ELSE a.recovered_through END,
            reopen_count = a.reopen_count + (decision = 'reopened')::integer
        WHERE a.id = v_target
        RETURNING a.id INTO alert_id;
        IF decision IN ('escalated', 'reopened') THEN
            INSERT INTO alert_events (alert_id, kind, severity, created_at)
            SELECT a.id, decision, a.severity, v_now FROM alerts a WHERE a.id = alert_id;
        END IF;
    END IF;

    INSERT INTO alert_reports (report_id, alert_id, decision, created_at)
    VALUES (p_report_id, alert_id, decision, v_now);
END;
$function$;

CREATE OR REPLACE FUNCTION public.tracer_severity_rank(severity text)
 RETURNS integer
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$ SELECT array_position(ARRAY['low', 'medium', 'high', 'critical'], severity) $function$;

CREATE OR REPLACE FUNCTION public.tracer_silence_for(p_project text, p_service text, p_alert_type text, p_severity text, p_at timestamp with time zone)
 RETURNS bigint
 LANGUAGE sql
 STABLE
AS $function$
    SELECT s.id FROM silences s
    WHERE s.expired_at IS NULL
      AND p_at >= s.starts_at
      AND (CASE WHEN s.recurrence = 'weekly'
                THEN p_at - make_interval(weeks => floor(extract(epoch FROM p_at - s.starts_at)
                                                         / 604800)::integer) < s.ends_at
                ELSE p_at < s.ends_at END)
      AND (s.project IS NULL OR CASE WHEN s.regex THEN p_project ~ ('^(?:' || s.project || ')$')
                                     ELSE p_project = s.project END)
      AND (s.service IS NULL OR CASE WHEN s.regex THEN p_service ~ ('^(?:' || s.service || ')$')
                                     ELSE p_service = s.service END)
      AND (s.alert_type IS NULL
           OR CASE WHEN s.regex THEN p_alert_type ~ ('^(?:' || s.alert_type || ')$')
                   ELSE p_alert_type = s.alert_type END)
      AND (s.severity IS NULL OR CASE WHEN s.regex THEN p_severity ~ ('^(?:' || s.severity || ')$')
                                      ELSE p_severity = s.severity END)
    ORDER BY s.id
    LIMIT 1;
$function$;

CREATE TRIGGER alert_events_notify AFTER INSERT ON public.alert_events FOR EACH ROW EXECUTE FUNCTION tracer_notify_alert_event();
CREATE TRIGGER alerts_group_incident BEFORE INSERT OR UPDATE OF status, severity ON public.alerts FOR EACH ROW EXECUTE FUNCTION tracer_group_alert();
