"""Tracer's AI pieces shared by both apps: LLM summaries, tool-router sessions, MCP toolbox."""
