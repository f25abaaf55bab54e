"""The guard that fails any test reaching beyond loopback."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.fakes.network_guard import ExternalNetworkError, NetworkGuard


def test_external_connection_is_blocked_and_recorded(network_guard: NetworkGuard) -> None:
    with pytest.raises(ExternalNetworkError, match=r"203\.0\.113\.7:443"):
        socket.create_connection(("203.0.113.7", 443), timeout=0.5)
    assert network_guard.forget() == ["203.0.113.7:443"]


def test_dns_of_external_names_is_blocked(network_guard: NetworkGuard) -> None:
    with pytest.raises(ExternalNetworkError):
        socket.getaddrinfo("api.openai.com", 443)
    assert network_guard.forget() == ["DNS api.openai.com"]


def test_swallowed_attempts_are_still_recorded(network_guard: NetworkGuard) -> None:
    """An SDK that catches the error (retry loops, telemetry threads) cannot hide it."""
    try:
        httpx.get("https://example.com/", timeout=1)
    except Exception:  # what a careless SDK does
        swallowed = True
    assert swallowed
    assert network_guard.forget() == ["DNS example.com"]


def test_loopback_and_unix_sockets_are_allowed(network_guard: NetworkGuard) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    with socket.create_connection(server.getsockname(), timeout=1):
        pass
    server.close()
    left, right = socket.socketpair(socket.AF_UNIX)
    left.close()
    right.close()
    socket.getaddrinfo("localhost", 80)
    assert network_guard.attempts == []
