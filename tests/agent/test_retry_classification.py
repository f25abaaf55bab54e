"""Which failed tool answers are waited out as rate limits, and which retry on the backoff."""

from __future__ import annotations

import pytest

from tracer_agent.delivery.executor import RATE_LIMIT_RETRY_SECONDS, _retry_for
from tracer_ai.destinations.base import Step
from tracer_ai.mcp_toolbox import ToolResult
from tracer_ai.tool_call import ToolCall

STEP = Step(name="post", call=ToolCall("WEBHOOK_POST"), read=lambda _: {}, marker="m")


@pytest.mark.parametrize(
    "error",
    [
        "webhook http://127.0.0.1:9/hooks answered HTTP 429",
        "ratelimited: slow down",
        "Too Many Requests",
    ],
)
def test_rate_limit_answers_wait_for_the_rate_limit(error: str) -> None:
    retry = _retry_for(STEP, ToolResult.failure("tool_error", error))
    assert retry.retry_after == RATE_LIMIT_RETRY_SECONDS


def test_a_port_with_429_in_it_is_not_a_rate_limit() -> None:
    error = "webhook http://127.0.0.1:42985/hooks/tracer answered HTTP 503"
    retry = _retry_for(STEP, ToolResult.failure("tool_error", error))
    assert retry.retry_after is None
    assert retry.retryable
