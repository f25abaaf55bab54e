"""The `llm_usage` table: one row per LLM call with its tokens and cost."""

from __future__ import annotations

import asyncpg


class LlmUsageStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(
        self,
        *,
        purpose: str,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
        error: str | None,
    ) -> None:
        await self._pool.execute(
            """
            INSERT INTO llm_usage (purpose, model, prompt_tokens, completion_tokens, cost_usd,
                                   reference)
            VALUES ($1, $2, $3, $4, $5, $6)
            """,
            purpose,
            model,
            prompt_tokens,
            completion_tokens,
            cost_usd,
            error,
        )
