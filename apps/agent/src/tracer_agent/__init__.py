"""The Tracer agent: alert delivery, chat about incidents, app connections, local MCP sink."""
