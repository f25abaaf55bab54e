-- Chat about incidents: conversations owned by the API key's user, and their messages
-- (including the model's tool calls and the tools' answers, replayed as history).

CREATE TABLE chat_conversations (
    id           text        PRIMARY KEY,
    user_id      text        NOT NULL,
    title        text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_conversations_user ON chat_conversations (user_id, updated_at DESC);

CREATE TABLE chat_messages (
    id              bigserial   PRIMARY KEY,
    conversation_id text        NOT NULL REFERENCES chat_conversations (id) ON DELETE CASCADE,
    role            text        NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
    content         text        NOT NULL DEFAULT '',
    tool_calls      jsonb,
    tool_call_id    text,
    alert_ids       bigint[]    NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_messages_conversation ON chat_messages (conversation_id, id);
