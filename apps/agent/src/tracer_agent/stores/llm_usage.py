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

    async def totals(self, *, days: int) -> list[dict[str, object]]:
        """Calls, tokens and cost per purpose and model over the last `days` days."""
        records = await self._pool.fetch(
            """
            SELECT purpose, model, count(*) AS calls, sum(prompt_tokens) AS prompt_tokens,
                   sum(completion_tokens) AS completion_tokens, sum(cost_usd) AS cost_usd
            FROM llm_usage WHERE created_at > now() - make_interval(days => $1)
            GROUP BY purpose, model ORDER BY cost_usd DESC, calls DESC
            """,
            days,
        )
        return [dict(r) for r in records]
