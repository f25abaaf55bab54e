"""A fake of the Composio REST API, mounted on a respx router, for the real composio SDK.

It answers the endpoints a tool-router deployment uses: session create
(``POST /api/v3.1/tool_router/session``), authorize links
(``POST .../session/{id}/link``), connected accounts (``GET``/``DELETE
/api/v3.1/connected_accounts/{id}``), with bodies shaped like the real API's. The telemetry
host is routed too, so a test can assert that nothing was posted there.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import respx

BASE_URL = "https://backend.composio.dev"
TELEMETRY_URL = "https://telemetry.composio.dev"


@dataclass
class FakeComposio:
    router: respx.MockRouter
    base_url: str = BASE_URL
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: list[dict[str, Any]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        api = f"{self.base_url}/api/v3.1"
        self.session_route = self.router.post(f"{api}/tool_router/session").mock(
            side_effect=self._create_session
        )
        self.link_route = self.router.post(
            url__regex=rf"{api}/tool_router/session/(?P<sid>[^/]+)/link$"
        ).mock(side_effect=self._link)
        self.account_route = self.router.get(
            url__regex=rf"{api}/connected_accounts/(?P<cid>[^/]+)$"
        ).mock(side_effect=self._get_account)
        self.delete_route = self.router.delete(
            url__regex=rf"{api}/connected_accounts/(?P<cid>[^/]+)$"
        ).mock(side_effect=self._delete_account)
        self.telemetry_route = self.router.route(url__startswith=TELEMETRY_URL).respond(200)

    def _create_session(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.created.append(body)
        sid = f"trs_{next(self._ids)}"
        preload = body.get("preload", {}).get("tools", [])
        self.sessions[sid] = body
        return httpx.Response(
            201,
            json={
                "session_id": sid,
                "config_version": 1,
                "config": {
                    "user_id": body["user_id"],
                    "toolkits": {"enabled": body.get("toolkits", {}).get("enable", [])},
                    "manage_connections": {"enabled": True},
                    "execute": {"enable_multi_execute": True},
                    "search": {"enable": True},
                    "preload": {"tools": preload},
                    "instant": False,
                },
                "mcp": {"type": "http", "url": f"{self.base_url}/tool_router/{sid}/mcp"},
                "tool_router_tools": [
                    "COMPOSIO_SEARCH_TOOLS",
                    "COMPOSIO_MULTI_EXECUTE_TOOL",
                    *preload,
                ],
            },
        )

    def _link(self, request: httpx.Request, sid: str) -> httpx.Response:
        if sid not in self.sessions:
            return httpx.Response(404, json={"error": {"message": "session not found"}})
        body = json.loads(request.content)
        cid = f"ca_{next(self._ids)}"
        self.accounts[cid] = {
            "id": cid,
            "status": "INITIATED",
            "user_id": self.sessions[sid]["user_id"],
            "toolkit": {"slug": body["toolkit"]},
            "callback_url": body.get("callback_url"),
        }
        return httpx.Response(
            201,
            json={
                "connected_account_id": cid,
                "link_token": f"lt_{cid}",
                "redirect_url": f"https://connect.composio.dev/link/lt_{cid}",
            },
        )

    def _get_account(self, request: httpx.Request, cid: str) -> httpx.Response:
        account = self.accounts.get(cid)
        if account is None:
            return httpx.Response(404, json={"error": {"message": "not found"}})
        return httpx.Response(200, json=account)

    def _delete_account(self, request: httpx.Request, cid: str) -> httpx.Response:
        if self.accounts.pop(cid, None) is None:
            return httpx.Response(404, json={"error": {"message": "not found"}})
        return httpx.Response(200, json={"success": True})

    def set_status(self, connection_id: str, status: str) -> None:
        self.accounts[connection_id]["status"] = status
