"""The agent's SQL, one module per table family; route handlers, the chat engine and the
delivery logic call these and never write a statement themselves.

- `alerts`: alerts and the events on each (read only: the processor writes them)
- `deliveries`: deliveries as the API and chat show them, and retrying one
- `summaries`, `chat`, `connections`, `api_keys`, `secrets`, `llm_usage`, `rate_limits`:
  the table of that name (chat: conversations and messages)

Three store modules predate this package and stay beside their users: `delivery/store.py`
(the outbox and delivery leases), `delivery/journal.py` (attempts and threads) and
`sink/store.py` with `sink/tickets.py` (the local sink's tables).
"""
