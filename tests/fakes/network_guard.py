"""Fail any test that reaches beyond this machine.

`NetworkGuard.install(monkeypatch)` wraps `socket.socket.connect`/`connect_ex` and
`socket.getaddrinfo`: loopback addresses, unix sockets and names that resolve locally
(``localhost``) pass; anything else raises `ExternalNetworkError` and is recorded, and the
conftest fixture fails the test at teardown even when a library swallowed the exception
(an SDK's retry loop, a telemetry thread).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


class ExternalNetworkError(AssertionError):
    """A test tried to open a connection to a non-loopback address."""


def _is_local_host(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    text = str(host).strip("[]").lower()
    if text in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


def _is_ip_literal(host: object) -> bool:
    text = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
    try:
        ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return False
    return True


class NetworkGuard:
    def __init__(self) -> None:
        self.attempts: list[str] = []

    def _check(self, family: int, address: Any) -> None:
        if family == getattr(socket, "AF_UNIX", None):
            return
        host = address[0] if isinstance(address, tuple) and address else address
        if not _is_local_host(host):
            target = (
                f"{host}:{address[1]}"
                if isinstance(address, tuple) and len(address) > 1
                else str(host)
            )
            self.attempts.append(target)
            raise ExternalNetworkError(f"test tried to reach {target}; fake it instead")

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        guard = self
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_getaddrinfo = socket.getaddrinfo

        def connect(sock: socket.socket, address: Any) -> None:
            guard._check(sock.family, address)
            real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            guard._check(sock.family, address)
            return real_connect_ex(sock, address)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if not _is_local_host(host) and not _is_ip_literal(host):
                guard.attempts.append(f"DNS {host}")
                raise ExternalNetworkError(f"test tried to resolve {host}; fake it instead")
            return real_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    def forget(self) -> list[str]:
        """Clear and return the recorded attempts (for tests of the guard itself)."""
        seen, self.attempts = self.attempts, []
        return seen
