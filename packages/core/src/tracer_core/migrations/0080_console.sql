-- The console: browser sessions signed in with an API key (only a digest of the session token
-- is stored), and per-service minute rollups written by the processor for the console's charts
-- and the chat's history questions.

CREATE TABLE console_sessions (
    token_hash   text        PRIMARY KEY,
    api_key_id   bigint      NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    csrf_token   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

CREATE TABLE service_rollups (
    project       text             NOT NULL,
    service       text             NOT NULL,
    minute        timestamptz      NOT NULL,
    count         bigint           NOT NULL DEFAULT 0,
    errors        bigint           NOT NULL DEFAULT 0,
    p95_ms        double precision,
    error_rate_mean double precision,
    error_rate_std  double precision,
    count_mean    double precision,
    count_std     double precision,
    p95_mean      double precision,
    p95_std       double precision,
    score         double precision NOT NULL DEFAULT 0,
    anomalous     boolean          NOT NULL DEFAULT false,
    PRIMARY KEY (project, service, minute)
);
CREATE INDEX service_rollups_minute ON service_rollups (minute);
