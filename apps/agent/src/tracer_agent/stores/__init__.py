"""The agent's SQL, one module per table family; nothing outside this package (and the
outbox, journal and sink stores it predates) sends a statement to PostgreSQL."""
