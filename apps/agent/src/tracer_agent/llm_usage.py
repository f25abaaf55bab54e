"""Record each LLM call's tokens and cost in `llm_usage`.

tracer_ai reports usage through a plain callback; this turns each report into a background
insert so that neither a summary nor a chat answer waits on the bookkeeping.
"""

from __future__ import annotations

import asyncio
import logging
import math

import asyncpg

from tracer_agent.stores.llm_usage import LlmUsageStore
from tracer_ai.llm import LlmUsage

log = logging.getLogger(__name__)


class UsageRecorder:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._store = LlmUsageStore(pool)
        self._pending: set[asyncio.Task[None]] = set()

    def __call__(self, usage: LlmUsage) -> None:
        task = asyncio.get_running_loop().create_task(self._insert(usage))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _insert(self, usage: LlmUsage) -> None:
        cost = (
            usage.cost_usd if usage.cost_usd is not None and math.isfinite(usage.cost_usd) else 0.0
        )
        try:
            await self._store.record(
                purpose=usage.purpose,
                model=usage.model,
                prompt_tokens=max(usage.prompt_tokens, 0),
                completion_tokens=max(usage.completion_tokens, 0),
                cost_usd=max(cost, 0.0),
                error=None if usage.ok else (usage.error or "failed"),
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("could not record LLM usage (%s)", exc)

    async def drain(self) -> None:
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
