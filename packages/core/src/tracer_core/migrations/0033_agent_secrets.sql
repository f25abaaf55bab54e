-- Secrets the agent replicas share without configuration, e.g. the token the delivery worker
-- presents to the local MCP sink. The first replica to start inserts a random value
-- (INSERT ... ON CONFLICT DO NOTHING), so replicas that start together converge on one.

CREATE TABLE agent_secrets (
    name        text        PRIMARY KEY,
    secret      text        NOT NULL CHECK (length(secret) >= 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);
