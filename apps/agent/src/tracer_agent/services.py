"""Build the agent's long-lived parts from its settings, once per process (in the lifespan).

The tool router is the only switch between "real" and "local": with COMPOSIO_API_KEY alerts go
through Composio tool-router sessions, otherwise through this agent's own MCP sink, by the
same code path. The LLM client exists only when OPENAI_API_KEY or OPENAI_BASE_URL is set.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import asyncpg
import httpx2
from mcp.server.mcpserver import MCPServer
from prometheus_client import CollectorRegistry

from tracer_agent.chat.engine import ChatEngine
from tracer_agent.delivery.backoff import Backoff
from tracer_agent.delivery.executor import DeliveryExecutor
from tracer_agent.delivery.links import MessageLinks
from tracer_agent.delivery.renotify import Renotifier, RenotifyPolicy
from tracer_agent.delivery.store import DeliveryStore
from tracer_agent.delivery.worker import DeliveryWorker
from tracer_agent.llm_usage import UsageRecorder
from tracer_agent.metrics import AgentMetrics
from tracer_agent.routing import RoutingRules
from tracer_agent.settings import AgentSettings
from tracer_agent.sink.server import create_sink_server
from tracer_agent.sink.store import SinkStore
from tracer_agent.sink.tickets import TicketSinkStore
from tracer_agent.sink.token import SinkToken, load_sink_token
from tracer_agent.summaries import SummaryCache
from tracer_agent.toolboxes import Toolboxes
from tracer_ai.llm import LlmClient, LlmConfig
from tracer_ai.tool_router import ComposioToolRouter, LocalToolRouter, ToolRouter
from tracer_core.clock import Clock
from tracer_core.ids import instance_id

log = logging.getLogger(__name__)


@dataclass
class AgentServices:
    settings: AgentSettings
    pool: asyncpg.Pool
    rules: RoutingRules
    metrics: AgentMetrics
    llm: LlmClient | None
    usage: UsageRecorder
    router: ToolRouter
    toolboxes: Toolboxes
    summaries: SummaryCache
    sink_server: MCPServer[object]
    sink_token: SinkToken
    worker: DeliveryWorker | None
    chat: ChatEngine | None

    @property
    def uses_composio(self) -> bool:
        return isinstance(self.router, ComposioToolRouter)

    async def aclose(self) -> None:
        await self.toolboxes.aclose()
        await self.usage.drain()
        if self.llm is not None:
            await self.llm.aclose()


def build_router(settings: AgentSettings, sink_token: SinkToken) -> ToolRouter:
    if settings.composio_api_key is not None:
        log.info("routing alerts through Composio tool-router sessions")
        return ComposioToolRouter(settings.composio_api_key, base_url=settings.composio_base_url)
    log.info("routing alerts to the local MCP sink at %s", settings.local_sink_url)
    return LocalToolRouter(settings.local_sink_url, headers=sink_token.headers())


def build_llm(
    settings: AgentSettings, usage: UsageRecorder, http_client: httpx2.AsyncClient | None
) -> LlmClient | None:
    if not settings.llm_configured:
        log.info("no LLM configured: summaries use the template, chat is unavailable")
        return None
    config = LlmConfig(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        model=settings.llm_model,
        timeout_s=settings.llm_timeout_seconds,
    )
    return LlmClient(config, http_client=http_client, usage_sink=usage)


async def build_services(
    settings: AgentSettings,
    pool: asyncpg.Pool,
    rules: RoutingRules,
    registry: CollectorRegistry,
    *,
    llm_http_client: httpx2.AsyncClient | None = None,
    clock: Clock | None = None,
) -> AgentServices:
    metrics = AgentMetrics.register(registry)
    usage = UsageRecorder(pool)
    llm = build_llm(settings, usage, llm_http_client)
    sink_token = await load_sink_token(pool, settings.sink_token)
    router = build_router(settings, sink_token)
    toolboxes = Toolboxes(router, call_timeout_s=settings.tool_call_timeout_seconds)
    summaries = SummaryCache(pool, llm, timeout_s=settings.llm_timeout_seconds)
    sink_server = create_sink_server(SinkStore(pool), TicketSinkStore(pool))
    worker: DeliveryWorker | None = None
    if settings.delivery_worker:
        worker_id = instance_id("agent")
        store = DeliveryStore(pool)
        executor = DeliveryExecutor(
            pool=pool,
            store=store,
            summaries=summaries,
            toolboxes=toolboxes,
            metrics=metrics,
            routing_user_id=settings.routing_user_id,
            worker_id=worker_id,
            lease_seconds=settings.delivery_lease_seconds,
            call_timeout_s=settings.tool_call_timeout_seconds,
            links=MessageLinks(rules, settings.incident_link_base),
        )
        worker = DeliveryWorker(
            database_url=settings.database_url or "",
            store=store,
            executor=executor,
            rules=rules,
            metrics=metrics,
            worker_id=worker_id,
            concurrency=settings.delivery_concurrency,
            poll_seconds=settings.delivery_poll_seconds,
            lease_seconds=settings.delivery_lease_seconds,
            backoff=Backoff(
                base_seconds=settings.delivery_backoff_base_seconds,
                max_seconds=settings.delivery_backoff_max_seconds,
                max_attempts=settings.delivery_max_attempts,
            ),
            rng=random.Random(),
            renotifier=Renotifier(
                pool,
                RenotifyPolicy(settings.renotify_after_seconds, settings.renotify_max),
                clock,
            ),
        )
    chat: ChatEngine | None = None
    if llm is not None:
        chat = ChatEngine(
            pool=pool,
            llm=llm,
            toolboxes=toolboxes,
            max_steps=settings.chat_max_steps,
            max_tokens=settings.chat_max_tokens,
            token_budget=settings.chat_token_budget,
            history_messages=settings.chat_history_messages,
            incident_lookback_hours=settings.chat_incident_lookback_hours,
            tool_timeout_s=settings.tool_call_timeout_seconds,
        )
    return AgentServices(
        settings=settings,
        pool=pool,
        rules=rules,
        metrics=metrics,
        llm=llm,
        usage=usage,
        router=router,
        toolboxes=toolboxes,
        summaries=summaries,
        sink_server=sink_server,
        sink_token=sink_token,
        worker=worker,
        chat=chat,
    )
