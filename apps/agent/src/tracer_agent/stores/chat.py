"""The chat tables: conversations and their messages, replayed as the model's history.

A conversation belongs to the user who started it; another user's id is answered as if it
did not exist. History is replayed from the latest user turns that fit, always starting at a
user message so that no tool answer loses the call it answers.
"""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg


class ConversationStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def start(self, *, user_id: str, title: str) -> str:
        conversation_id = f"conv_{secrets.token_hex(10)}"
        await self._pool.execute(
            "INSERT INTO chat_conversations (id, user_id, title) VALUES ($1, $2, $3)",
            conversation_id,
            user_id,
            title[:200],
        )
        return conversation_id

    async def owned(self, *, conversation_id: str, user_id: str) -> bool:
        found = await self._pool.fetchval(
            "SELECT 1 FROM chat_conversations WHERE id = $1 AND user_id = $2",
            conversation_id,
            user_id,
        )
        return found is not None

    async def history(self, *, conversation_id: str, limit: int) -> list[dict[str, Any]]:
        """The last `limit` messages (or fewer), as OpenAI chat messages, oldest first."""
        if limit <= 0:
            return []
        rows = await self._pool.fetch(
            """
            SELECT role, content, tool_calls, tool_call_id FROM (
                SELECT * FROM chat_messages WHERE conversation_id = $1
                ORDER BY id DESC LIMIT $2) recent
            ORDER BY id
            """,
            conversation_id,
            limit,
        )
        messages = [_as_openai(dict(row)) for row in rows]
        while messages and messages[0]["role"] != "user":
            messages.pop(0)
        return messages

    async def append(
        self,
        *,
        conversation_id: str,
        role: str,
        content: str | None,
        tool_calls: list[dict[str, Any]] | None = None,
        tool_call_id: str | None = None,
        alert_ids: list[int] | None = None,
    ) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                INSERT INTO chat_messages
                    (conversation_id, role, content, tool_calls, tool_call_id, alert_ids)
                VALUES ($1, $2, $3, $4, $5, $6)
                """,
                conversation_id,
                role,
                content or "",
                tool_calls,
                tool_call_id,
                alert_ids or [],
            )
            await conn.execute(
                "UPDATE chat_conversations SET updated_at = now() WHERE id = $1", conversation_id
            )


def _as_openai(row: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": row["role"], "content": row["content"]}
    if row["role"] == "assistant" and row["tool_calls"]:
        message["tool_calls"] = row["tool_calls"]
        message["content"] = row["content"] or None
    if row["role"] == "tool":
        message["tool_call_id"] = row["tool_call_id"]
    return message
