"""ComposioToolRouter with the real composio SDK against a faked Composio API (respx)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import respx

from tests.fakes.composio_backend import BASE_URL, FakeComposio
from tracer_ai.errors import (
    ToolRouterAuthError,
    ToolRouterBadResponse,
    ToolRouterConfigError,
    ToolRouterNotFound,
    ToolRouterRateLimited,
    ToolRouterUnavailable,
)
from tracer_ai.tool_router import ComposioToolRouter, LocalToolRouter
from tracer_core.models import ConnectionStatus


@pytest.fixture
def composio() -> Iterator[FakeComposio]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield FakeComposio(router)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_router(clock: Clock | None = None, **options: object) -> ComposioToolRouter:
    return ComposioToolRouter(
        "ak_test",
        max_retries=0,
        clock=clock or Clock(),
        **options,  # type: ignore[arg-type]
    )


async def test_session_is_created_for_the_user_with_toolkits_and_preload(
    composio: FakeComposio,
) -> None:
    router = make_router()
    session = await router.session("org")
    assert session.user_id == "org"
    assert session.mcp_url == f"{BASE_URL}/tool_router/trs_1/mcp"
    assert session.headers["x-api-key"] == "ak_test"
    assert session.toolkits == ("slack", "jira", "pagerduty", "gmail")
    assert "SLACK_SEND_MESSAGE" in session.preloaded_tools
    body = composio.created[0]
    assert body["user_id"] == "org"
    assert body["toolkits"] == {"enable": ["slack", "jira", "pagerduty", "gmail"]}
    assert "GMAIL_SEND_EMAIL" in body["preload"]["tools"]
    request = composio.session_route.calls[0].request
    assert request.headers["x-api-key"] == "ak_test"


async def test_sessions_are_cached_per_user_and_expire(composio: FakeComposio) -> None:
    clock = Clock()
    router = make_router(clock, session_ttl_s=60)
    first = await router.session("org")
    assert await router.session("org") == first
    other = await router.session("alice")
    assert other.mcp_url != first.mcp_url
    clock.now += 61
    renewed = await router.session("org")
    assert renewed.session_id != first.session_id
    assert composio.session_route.call_count == 3


async def test_concurrent_requests_for_one_user_open_one_session(composio: FakeComposio) -> None:
    router = make_router()
    sessions = await asyncio.gather(*(router.session("org") for _ in range(5)))
    assert len({s.session_id for s in sessions}) == 1
    assert composio.session_route.call_count == 1


async def test_authorize_link_and_connection_polling_renew_the_session(
    composio: FakeComposio,
) -> None:
    router = make_router()
    first = await router.session("org")
    request = await router.authorize("org", "slack", callback_url="http://127.0.0.1:8000/cb")
    assert request.status is ConnectionStatus.INITIATED
    assert request.redirect_url == f"https://connect.composio.dev/link/lt_{request.id}"
    assert composio.accounts[request.id]["callback_url"] == "http://127.0.0.1:8000/cb"
    assert await router.connection_status(request.id) is ConnectionStatus.INITIATED
    assert (await router.session("org")).session_id == first.session_id
    composio.set_status(request.id, "ACTIVE")
    assert await router.connection_status(request.id) is ConnectionStatus.ACTIVE
    renewed = await router.session("org")
    assert renewed.session_id != first.session_id, "a new connection must renew the session"


async def test_revoked_and_initializing_statuses_map_to_ours(composio: FakeComposio) -> None:
    router = make_router()
    request = await router.authorize("org", "jira")
    composio.set_status(request.id, "INITIALIZING")
    assert await router.connection_status(request.id) is ConnectionStatus.INITIATED
    composio.set_status(request.id, "REVOKED")
    assert await router.connection_status(request.id) is ConnectionStatus.INACTIVE


async def test_disconnect_deletes_and_renews(composio: FakeComposio) -> None:
    router = make_router()
    first = await router.session("org")
    request = await router.authorize("org", "gmail")
    await router.disconnect(request.id)
    assert request.id not in composio.accounts
    assert (await router.session("org")).session_id != first.session_id
    await router.disconnect(request.id)  # already gone: no error


async def test_unknown_toolkit_is_refused_before_any_request(composio: FakeComposio) -> None:
    router = make_router()
    with pytest.raises(ToolRouterConfigError, match="github"):
        await router.authorize("org", "github")
    assert composio.session_route.call_count == 0


async def test_unknown_connection_is_not_found(composio: FakeComposio) -> None:
    router = make_router()
    with pytest.raises(ToolRouterNotFound):
        await router.connection_status("ca_missing")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, ToolRouterAuthError),
        (403, ToolRouterAuthError),
        (429, ToolRouterRateLimited),
        (500, ToolRouterUnavailable),
        (503, ToolRouterUnavailable),
    ],
)
async def test_http_errors_become_typed_errors(
    composio: FakeComposio, status: int, error: type[Exception]
) -> None:
    composio.session_route.mock(
        side_effect=None,
        return_value=httpx.Response(
            status, headers={"retry-after": "7"}, json={"error": {"message": "nope"}}
        ),
    )
    router = make_router()
    with pytest.raises(error) as caught:
        await router.session("org")
    assert getattr(caught.value, "status_code", None) == status
    if status == 429:
        assert isinstance(caught.value, ToolRouterRateLimited)
        assert caught.value.retry_after_s == 7.0
        assert caught.value.retryable


async def test_malformed_json_is_a_bad_response(composio: FakeComposio) -> None:
    composio.session_route.mock(
        side_effect=None,
        return_value=httpx.Response(
            201, content=b"{not json", headers={"content-type": "application/json"}
        ),
    )
    with pytest.raises(ToolRouterBadResponse):
        await make_router().session("org")


async def test_answer_missing_fields_is_a_bad_response(composio: FakeComposio) -> None:
    composio.session_route.mock(
        side_effect=None, return_value=httpx.Response(201, json={"oops": 1})
    )
    with pytest.raises(ToolRouterBadResponse):
        await make_router().session("org")


async def test_connection_failure_is_unavailable(composio: FakeComposio) -> None:
    composio.session_route.mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(ToolRouterUnavailable):
        await make_router().session("org")


async def test_no_telemetry_leaves(composio: FakeComposio) -> None:
    router = make_router()
    await router.session("org")
    request = await router.authorize("org", "slack")
    await router.connection_status(request.id)
    composio.session_route.mock(side_effect=None, return_value=httpx.Response(500, json={}))
    router.invalidate("org")
    with pytest.raises(ToolRouterUnavailable):
        await router.session("org")
    await asyncio.sleep(0)
    assert composio.telemetry_route.call_count == 0


def test_base_url_must_be_https_unless_loopback() -> None:
    with pytest.raises(ToolRouterConfigError, match="https"):
        ComposioToolRouter("ak", base_url="http://composio.example.com")
    ComposioToolRouter("ak", base_url="http://127.0.0.1:9000")
    with pytest.raises(ToolRouterConfigError, match="empty"):
        ComposioToolRouter("")


async def test_local_router_points_everyone_at_the_sink() -> None:
    router = LocalToolRouter("http://127.0.0.1:8000/sink/mcp")
    session = await router.session("alice")
    assert session.mcp_url == "http://127.0.0.1:8000/sink/mcp"
    assert "SLACK_SEND_MESSAGE" in session.preloaded_tools
    request = await router.authorize("org", "slack", callback_url="http://127.0.0.1:8000/cb?x=1")
    assert request.status is ConnectionStatus.ACTIVE
    assert request.redirect_url is not None
    assert request.redirect_url.startswith("http://127.0.0.1:8000/cb?x=1&connection_id=")
    assert await router.connection_status(request.id) is ConnectionStatus.ACTIVE
    with pytest.raises(ToolRouterNotFound):
        await router.connection_status("ca_elsewhere")
    await router.disconnect(request.id)
    assert await router.connection_status(request.id) is ConnectionStatus.INACTIVE
    with pytest.raises(ToolRouterConfigError):
        await router.authorize("org", "github")


@pytest.fixture
def telemetry_events(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Events the SDK hands to its telemetry thread (captured, never sent)."""
    import composio.core.models.base as sdk_base

    events: list[object] = []

    def capture(event: object) -> None:
        events.append(event)

    monkeypatch.setattr(sdk_base, "push_event", capture)
    return events


async def test_tracking_disabled_produces_no_telemetry_events(
    composio: FakeComposio, telemetry_events: list[object]
) -> None:
    router = make_router()
    await router.session("org")
    await router.authorize("org", "slack")
    assert telemetry_events == []


async def test_tracking_enabled_would_produce_telemetry_events(
    composio: FakeComposio, telemetry_events: list[object]
) -> None:
    """Proves the capture above can see telemetry, so the test before it can fail."""
    router = make_router(allow_tracking=True)
    await router.session("org")
    assert telemetry_events


async def test_chat_sessions_are_locked_down_in_the_request_the_sdk_sends(
    composio: FakeComposio,
) -> None:
    router = make_router()
    delivery = await router.session("alice")
    chat = await router.session("alice", chat=True)
    assert chat.session_id != delivery.session_id, "chat gets a session of its own"
    assert await router.session("alice", chat=True) == chat
    body = composio.created[-1]
    assert body["workbench"] == {"enable": False, "enable_proxy_execution": False}
    assert body["manage_connections"]["enable"] is False
    assert body["tags"]["disable"] == ["destructiveHint"]
    enabled = {tool for toolkit in body["tools"].values() for tool in toolkit["enable"]}
    assert "SLACK_SEND_MESSAGE" in enabled
    assert "SLACK_FETCH_CONVERSATION_HISTORY" in enabled
    for never in ("COMPOSIO_REMOTE_WORKBENCH", "COMPOSIO_REMOTE_BASH_TOOL",
                  "PAGERDUTY_CREATE_INCIDENT_RECORD", "JIRA_TRANSITION_ISSUE"):  # fmt: skip
        assert never not in enabled
        assert never not in body["preload"]["tools"]
    assert "workbench" not in composio.created[0], "delivery sessions are left as they were"
