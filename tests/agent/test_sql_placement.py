"""SQL stays in the agent's store modules, and only the alert store reads `alerts`."""

from __future__ import annotations

import re
from pathlib import Path

import tracer_agent

PACKAGE = Path(tracer_agent.__file__).parent
STORE_MODULES = {
    "delivery/journal.py",
    "delivery/store.py",
    "sink/store.py",
    "sink/tickets.py",
}
# The LISTEN connection's keep-alive ping touches no table.
PING_ONLY = {"delivery/listener.py"}
_QUERY_CALL = re.compile(r"\.(fetch|fetchrow|fetchval|execute|executemany)\(")
_READS_ALERTS = re.compile(r"\b(FROM|JOIN)\s+alerts\b", re.IGNORECASE)


def _modules() -> dict[str, str]:
    return {
        path.relative_to(PACKAGE).as_posix(): path.read_text("utf-8")
        for path in PACKAGE.rglob("*.py")
    }


def test_only_store_modules_run_sql() -> None:
    offenders = [
        name
        for name, text in _modules().items()
        if _QUERY_CALL.search(text)
        and not name.startswith("stores/")
        and name not in STORE_MODULES | PING_ONLY
    ]
    assert offenders == [], f"SQL outside the stores: {offenders}"


def test_only_the_alert_store_reads_alerts() -> None:
    readers = sorted(name for name, text in _modules().items() if _READS_ALERTS.search(text))
    assert readers == ["stores/alerts.py"]
