"""Identifiers that must be unique across hosts and restarts."""

from __future__ import annotations

import os
import secrets
import socket


def instance_id(role: str) -> str:
    """A readable, unique id for one running process: role, host, pid and a random suffix."""
    host = socket.gethostname().split(".")[0][:32]
    return f"{role}-{host}-{os.getpid()}-{secrets.token_hex(3)}"


def random_token(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)
