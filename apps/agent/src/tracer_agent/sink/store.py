"""The local sink's PostgreSQL side: every call it receives, and the state chat and mail keep
(Slack message timestamps per channel, sent mail) so that its answers carry realistic
identifiers and later calls can find what was sent. Jira and PagerDuty live in
`tracer_agent.sink.tickets`."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

import asyncpg
from pydantic import BaseModel

from tracer_agent.dbtypes import Conn
from tracer_ai.destinations import gmail, slack
from tracer_core.models import Toolkit


class SinkError(Exception):
    """A call the real service would refuse (unknown issue, bad thread ...)."""


class SinkMessage(BaseModel):
    id: int
    tool: str
    toolkit: Toolkit
    target: str
    external_id: str
    thread_ref: str | None
    arguments: dict[str, Any]
    result: dict[str, Any]
    created_at: datetime


def slack_channel_id(channel: str) -> str:
    """A stable Slack-like channel id (C + 10 characters) for a channel name."""
    if re.fullmatch(r"[CGD][A-Z0-9]{8,12}", channel):
        return channel
    return "C" + hashlib.sha1(channel.lstrip("#").encode()).hexdigest()[:10].upper()


def _message(row: asyncpg.Record) -> SinkMessage:
    return SinkMessage.model_validate(dict(row))


async def record_call(
    conn: Conn,
    *,
    tool: str,
    toolkit: Toolkit,
    target: str,
    external_id: str,
    thread_ref: str | None,
    arguments: dict[str, Any],
    result: dict[str, Any],
) -> int:
    """Store one call the sink answered (in the caller's transaction)."""
    value = await conn.fetchval(
        """
        INSERT INTO sink_messages
            (tool, toolkit, target, external_id, thread_ref, arguments, result)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
        """,
        tool,
        toolkit.value,
        target,
        external_id,
        thread_ref,
        arguments,
        result,
    )
    return int(value)


_COLUMNS = "id, tool, toolkit, target, external_id, thread_ref, arguments, result, created_at"


class SinkStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def messages(
        self, *, limit: int, toolkit: Toolkit | None = None, before_id: int | None = None
    ) -> list[SinkMessage]:
        rows = await self._pool.fetch(
            f"""
            SELECT {_COLUMNS} FROM sink_messages
            WHERE ($1::text IS NULL OR toolkit = $1) AND ($2::bigint IS NULL OR id < $2)
            ORDER BY id DESC LIMIT $3
            """,
            None if toolkit is None else toolkit.value,
            before_id,
            limit,
        )
        return [_message(row) for row in rows]

    # -- Slack -----------------------------------------------------------------------------

    async def slack_post(
        self, *, channel: str, text: str, thread_ts: str | None, arguments: dict[str, Any]
    ) -> dict[str, Any]:
        channel_id = slack_channel_id(channel)
        async with self._pool.acquire() as conn, conn.transaction():
            if thread_ts is not None:
                parent = await conn.fetchval(
                    """
                    SELECT 1 FROM sink_messages
                    WHERE toolkit = 'slack' AND target = $1 AND external_id = $2
                    """,
                    channel_id,
                    thread_ts,
                )
                if parent is None:
                    raise SinkError("thread_not_found")
            # Slack's ts is the post time in microseconds, unique within a channel.
            ts = await conn.fetchval(
                """
                SELECT to_char(greatest(
                    extract(epoch FROM clock_timestamp())::numeric(20, 6),
                    coalesce((SELECT max(external_id::numeric) FROM sink_messages
                              WHERE toolkit = 'slack' AND target = $1), 0) + 0.000001
                ), 'FM9999999999.000000')
                """,
                channel_id,
            )
            message: dict[str, Any] = {
                "type": "message",
                "text": text,
                "ts": ts,
                "user": "U0TRACER",
            }
            if thread_ts is not None:
                message["thread_ts"] = thread_ts
            data = {"ok": True, "channel": channel_id, "ts": ts, "message": message}
            await record_call(
                conn,
                tool=slack.SEND_MESSAGE,
                toolkit=Toolkit.SLACK,
                target=channel_id,
                external_id=ts,
                thread_ref=thread_ts,
                arguments=arguments,
                result=data,
            )
            return data

    async def slack_messages(
        self, *, channel: str, thread_ts: str | None, oldest: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Top-level messages of a channel (`thread_ts` None) or one thread, newest first."""
        rows = await self._pool.fetch(
            """
            SELECT result -> 'message' AS message FROM sink_messages
            WHERE toolkit = 'slack' AND target = $1
              AND (CASE WHEN $2::text IS NULL THEN thread_ref IS NULL
                        ELSE thread_ref = $2 OR external_id = $2 END)
              AND ($3::numeric IS NULL OR external_id::numeric >= $3::numeric)
            ORDER BY id DESC LIMIT $4
            """,
            slack_channel_id(channel),
            thread_ts,
            oldest,
            limit,
        )
        return [row["message"] for row in rows]

    # -- Gmail -----------------------------------------------------------------------------

    async def gmail_send(
        self, *, recipients: list[str], subject: str, arguments: dict[str, Any]
    ) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction():
            return await _record_mail(
                conn,
                tool=gmail.SEND_EMAIL,
                recipients=recipients,
                thread_id=None,
                arguments={**arguments, "subject": subject},
            )

    async def gmail_reply(
        self, *, thread_id: str, recipients: list[str], arguments: dict[str, Any]
    ) -> dict[str, Any]:
        """A reply stored under the thread of its first mail, whose subject it keeps."""
        async with self._pool.acquire() as conn, conn.transaction():
            subject = await conn.fetchval(
                """
                SELECT arguments ->> 'subject' FROM sink_messages
                WHERE toolkit = 'gmail' AND tool = $2 AND external_id = $1
                """,
                thread_id,
                gmail.SEND_EMAIL,
            )
            if subject is None:
                raise SinkError("Requested entity was not found.")
            return await _record_mail(
                conn,
                tool=gmail.REPLY_TO_THREAD,
                recipients=recipients,
                thread_id=thread_id,
                arguments={**arguments, "subject": f"Re: {subject}"},
            )

    async def gmail_search(self, *, text: str, limit: int) -> list[dict[str, Any]]:
        """Sent mails and replies whose subject or body contains `text` (empty: all),
        newest first."""
        rows = await self._pool.fetch(
            """
            SELECT external_id, thread_ref, target, arguments FROM sink_messages
            WHERE toolkit = 'gmail' AND tool = ANY($3::text[])
              AND ($1 = '' OR strpos(arguments ->> 'subject', $1) > 0
                   OR strpos(coalesce(arguments ->> 'body', arguments ->> 'message_body'),
                             $1) > 0)
            ORDER BY id DESC LIMIT $2
            """,
            text,
            limit,
            [gmail.SEND_EMAIL, gmail.REPLY_TO_THREAD],
        )
        return [
            {
                "messageId": row["external_id"],
                "threadId": row["thread_ref"] or row["external_id"],
                "to": row["target"],
                "subject": row["arguments"].get("subject", ""),
                "messageText": row["arguments"].get("body")
                or row["arguments"].get("message_body", ""),
                "labelIds": ["SENT"],
            }
            for row in rows
        ]


async def _record_mail(
    conn: Conn,
    *,
    tool: str,
    recipients: list[str],
    thread_id: str | None,
    arguments: dict[str, Any],
) -> dict[str, Any]:
    """Stores one sent mail with Gmail-like ids; a new mail starts a thread of its own id."""
    number = await conn.fetchval("SELECT nextval('sink_messages_id_seq')")
    message_id = f"{0x18C0000000 + int(number):x}"
    thread = thread_id or message_id
    data = {"id": message_id, "threadId": thread, "labelIds": ["SENT"]}
    await record_call(
        conn,
        tool=tool,
        toolkit=Toolkit.GMAIL,
        target=", ".join(recipients),
        external_id=message_id,
        thread_ref=thread,
        arguments=arguments,
        result=data,
    )
    return data
