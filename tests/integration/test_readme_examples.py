"""Every shell example in README.md works as written: the ones that finish on their own run
here, against a real processor and agent on free ports; the long-running ones are named
below with the test that covers them, so a new example cannot go unchecked."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.readme_examples import Example, readme_examples
from tests.integration.running_apps import RunningApps, running_apps

pytestmark = pytest.mark.slow

# An example whose script contains the key is not run here, for the reason given.
NOT_RUN_HERE = {
    "tracer demo": "the two commands; tracer demo is tests/integration/test_end_to_end_agent.py",
    "uv run tracer up": "runs until Ctrl-C; tests/integration/test_up.py",
    "tracer chaos --trials 1000": "1,000 trials; tests/integration/test_chaos.py runs a few",
    "uv run pytest": "the test suite itself",
    "docker compose": "needs Docker; .ci/run validates docker-compose.yml",
}


def _skip_reason(example: Example) -> str | None:
    return next((why for key, why in NOT_RUN_HERE.items() if key in example.script), None)


def _series_csv(path: Path) -> None:
    """A count series with one spike, for the backtest example."""
    rows = ["timestamp,value"]
    for minute in range(240):
        value = 100 + (minute * 7919) % 13 + (400 if minute == 200 else 0)
        rows.append(f"{1_700_000_000 + minute * 60},{value}")
    path.write_text("\n".join(rows) + "\n")


@pytest.fixture
def apps(database_url: str, tmp_path: Path) -> Iterator[RunningApps]:
    with running_apps(database_url, tmp_path / "home") as running:
        yield running


def test_every_readme_example_is_run_or_accounted_for(apps: RunningApps, tmp_path: Path) -> None:
    _series_csv(tmp_path / "series.csv")
    for name in ("data/a.csv", "data/b.csv", "more/c.csv"):  # the many-series example
        (tmp_path / name).parent.mkdir(exist_ok=True)
        _series_csv(tmp_path / name)
    examples = readme_examples()
    assert len(examples) >= 8
    ran: list[int] = []
    for example in examples:
        if _skip_reason(example) is not None:
            continue
        script = example.runnable(processor_port=apps.processor_port, agent_port=apps.agent_port)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path, env=apps.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        where = f"README.md line {example.line}"
        assert result.returncode == 0, f"{where}: {result.stderr}"
        promised = example.promised_output()
        if promised is not None:
            assert json.loads(result.stdout) == promised, f"{where}: {result.stdout}"
        ran.append(example.line)
    assert len(ran) >= 5, ran
    scored = (tmp_path / "scored.csv").read_text().splitlines()
    assert scored[0] == "timestamp,value,score,is_anomaly,reason"
    assert len(scored) == 241
    assert sorted(path.name for path in (tmp_path / "scored").iterdir()) == [
        "a.csv",
        "b.csv",
        "c.csv",
    ]
