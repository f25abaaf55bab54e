"""Test doubles that keep the real SDKs in the loop and fake only what sits behind them.

- `openai_bridge`: an `httpx2.MockTransport` that hands requests to a respx router, for the
  openai 3.x and mcp 2.x clients (which send through httpx2, which respx does not patch).
- `composio_backend`: a respx-mounted fake of the Composio REST endpoints the composio SDK
  uses for tool-router sessions, authorize links and connected accounts.
- `mcp_server`: a real mcp 2.x `MCPServer` served over streamable HTTP by uvicorn on a
  loopback port, in a thread of its own.
- `network_guard`: fails a test that tries to reach any address but loopback.
"""
