"""Tracer's AI layer: LLM summaries, destinations, tool-router sessions, MCP toolbox.

Only the agent imports it (the `tracer` CLI reaches it through the agent); the processor
does not depend on it.

Nothing here is created at import time; the agent builds each piece from its settings.

API summary (stable; new options are added as keyword arguments with defaults):

``tracer_ai.llm``
    ``LlmConfig(api_key: SecretStr | None, base_url, model, timeout_s, max_retries, prices)``
    with ``.enabled`` (key or base URL set) and ``.price_for(model)``;
    ``ModelPrice(input_per_million, output_per_million)``, ``DEFAULT_PRICES``,
    ``parse_price_table("model=in/out,...")``.
    ``LlmClient(config, *, http_client: httpx2.AsyncClient | None, usage_sink)``:
    ``await chat(messages, *, tools=None, tool_choice=None, response_format=None,
    max_tokens=None, temperature=None, purpose="chat", timeout_s=None) -> ChatResult``
    (``content``, ``tool_calls: list[LlmToolCall(id, name, arguments_json, arguments)]``,
    ``finish_reason``, ``usage: LlmUsage``, ``assistant_message()`` to append before the
    tool results); ``await aclose()``. Every call (failed ones too) reports
    ``LlmUsage(model, prompt_tokens, completion_tokens, cost_usd, latency_ms, purpose, ok,
    error)`` to ``usage_sink``.
    Raises ``LlmUnavailable`` / ``LlmTimeout`` / ``LlmRateLimited`` / ``LlmBadOutput``.

``tracer_ai.summary``
    ``AlertContext`` (alert_id, fingerprint, project, service, alert_type, severity, status,
    event, title, window_start/end, first/last_seen_at, resolved_at, occurrences, details,
    samples: list[SampleMessage(message, count)], alert_url);
    ``AlertSummary`` (title, what_happened, impact, likely_cause, next_steps, confidence,
    source "llm"|"template", fallback_reason, model);
    ``template_summary(ctx)``; ``await summarize_alert(ctx, llm | None, *, timeout_s=None)``
    never raises.

``tracer_ai.tool_call``
    ``ToolCall(slug, arguments)`` with ``.with_arguments(**changes)``.

``tracer_ai.destinations``
    ``DESTINATIONS`` (toolkit name -> ``Destination``), ``destination_for(name)`` (raises
    ``UnknownDestinationError``), ``routing_tools(names=None)``. One module per destination
    (``slack``, ``jira``, ``pagerduty``, ``gmail``) holds its tool-name constants, its
    renderers (``slack.render``, ``jira.render_issue`` / ``render_comment``,
    ``pagerduty.render``, ``gmail.render``), its answer readers (``slack.parse_ts``,
    ``jira.parse_issue_key``, ``pagerduty.parse_incident_id``, ``gmail.parse_message_id``)
    and its ``Destination`` object (``SLACK``, ``JIRA``, ``PAGERDUTY``, ``GMAIL``).
    ``destinations.base``: the ``Destination`` protocol (``name``, ``routing_tools``,
    ``plan(delivery_id, target, ctx, summary, thread) -> list[Step] | Skip``,
    ``opened_thread(target, ctx, result) -> ThreadOpened | None``), ``Step``, ``Probe``,
    ``Skip``, ``marker_for``, ``UnreadableAnswerError``. ``destinations.text`` and
    ``destinations.answers``: helpers shared by the renderers and the answer readers.

``tracer_ai.mcp_toolbox``
    ``async with McpToolbox.connect(url, headers=..., http_client_factory=...) as box``
    (raises ``McpConnectError``); ``await box.list_tools() -> list[ToolSpec(name,
    description, input_schema, output_schema)]`` (raises ``McpToolboxError``);
    ``await box.call_tool(name, arguments, timeout=...) -> ToolResult(ok, text, structured,
    error_kind None|"tool_error"|"timeout"|"transport"|"protocol", error)``;
    ``await box.call_app_tool(ToolCall)`` (direct when listed, else through
    ``COMPOSIO_MULTI_EXECUTE_TOOL``); ``await box.call_via_meta_tool(slug, arguments)``.

``tracer_ai.openai_tools``
    ``mcp_tools_to_openai(specs, *, reserved=()) -> OpenAiToolset(tools, names)`` with
    ``.resolve(openai_name) -> mcp name``; ``function_tool(name, description, parameters)``.

``tracer_ai.tool_router``
    ``ToolRouter`` protocol: ``await session(user_id) -> ToolSession(user_id, mcp_url,
    headers, toolkits, session_id, preloaded_tools)``, ``await authorize(user_id, toolkit, *,
    callback_url) -> ConnectionRequest(id, redirect_url, status, toolkit, user_id)``,
    ``await connection_status(connection_id) -> ConnectionStatus``,
    ``await disconnect(connection_id)``, ``invalidate(user_id)``.
    ``ComposioToolRouter(api_key, *, base_url=None, toolkits=DEFAULT_TOOLKITS,
    preload_tools=None (the alert-routing tools), allow_tracking=False, timeout_s=30,
    max_retries=2, session_ttl_s=3600, http_client: httpx.Client | None)``;
    ``LocalToolRouter(sink_mcp_url, headers={}, toolkits=DEFAULT_TOOLKITS)``.
    Errors: ``ToolRouterAuthError``, ``ToolRouterRateLimited(retry_after_s)``,
    ``ToolRouterUnavailable``, ``ToolRouterBadResponse``, ``ToolRouterNotFound``,
    ``ToolRouterConfigError`` (all ``ToolRouterError``; ``.retryable`` says whether to retry).

``tracer_ai.errors``
    The exception tree above.
"""
