"""`tracer backtest`: the output contract, detections on seeded series, and bad rows."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tracer.cli import app
from tracer_processor.detection.backtest import BacktestError, Kind, score_series
from tracer_processor.detection.backtest_files import run_backtest

HEADER = ["timestamp", "value", "score", "is_anomaly", "reason"]
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # no inf/NaN arithmetic


def write_series(path: Path, values: list[object], *, step: int = 300) -> list[str]:
    stamps = [f"2014-04-{1 + (i * step) // 86_400:02d} {((i * step) % 86_400) // 3600:02d}:"
              f"{((i * step) % 3600) // 60:02d}:00" for i in range(len(values))]  # fmt: skip
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value"])
        writer.writerows(zip(stamps, values, strict=True))
    return stamps


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == HEADER
        return list(reader)


def check_contract(rows: list[dict[str, str]], stamps: list[str]) -> None:
    assert [row["timestamp"] for row in rows] == stamps
    for row in rows:
        score = float(row["score"])
        assert math.isfinite(score)
        assert score >= 0
        assert row["is_anomaly"] in ("0", "1")


def test_a_level_drop_in_a_count_series_is_flagged_where_it_happens(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    values = rng.poisson(200, 600).tolist()
    values[400:420] = rng.poisson(40, 20).tolist()
    stamps = write_series(tmp_path / "in.csv", values)
    summary = run_backtest(tmp_path / "in.csv", tmp_path / "out.csv", kind=Kind.COUNT)
    rows = read(tmp_path / "out.csv")
    check_contract(rows, stamps)
    flagged = [i for i, row in enumerate(rows) if row["is_anomaly"] == "1"]
    assert flagged
    assert set(flagged) <= set(range(400, 420))
    assert len(flagged) >= 15
    assert rows[405]["reason"].startswith("traffic_drop: ")
    assert float(rows[405]["score"]) > 4 > float(rows[300]["score"])
    assert summary.buckets == 600
    assert summary.bucket_seconds == 300


def test_error_rate_and_latency_series(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    rates = np.clip(rng.normal(0.01, 0.003, 300), 0, 1)
    rates[200] = 0.3
    write_series(tmp_path / "errors.csv", [f"{v:.5f}" for v in rates])
    run_backtest(tmp_path / "errors.csv", tmp_path / "e.csv", kind=Kind.ERROR_RATE)
    flagged = [i for i, row in enumerate(read(tmp_path / "e.csv")) if row["is_anomaly"] == "1"]
    assert flagged == [200]

    latency = rng.lognormal(np.log(80), 0.1, 300)
    latency[250:260] *= 5
    write_series(tmp_path / "latency.csv", [f"{v:.1f}" for v in latency])
    run_backtest(tmp_path / "latency.csv", tmp_path / "l.csv", kind=Kind.LATENCY)
    rows = read(tmp_path / "l.csv")
    flagged = [i for i, row in enumerate(rows) if row["is_anomaly"] == "1"]
    assert flagged[0] == 250
    assert set(flagged) <= set(range(250, 260))
    assert rows[250]["reason"].startswith("high_latency: ")


def test_bad_rows_still_get_one_output_row_each(tmp_path: Path) -> None:
    values: list[object] = [10.0] * 50 + ["NaN", "inf", "", "abc", 1e308, -5, 0]
    stamps = write_series(tmp_path / "in.csv", values)
    stamps[3] = "not a time"
    with (tmp_path / "in.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Timestamp", "Value", "label"])
        for stamp, value in zip(reversed(stamps), reversed(values), strict=True):
            writer.writerow([stamp, value, 0])  # newest first: the detector sorts by time
    summary = run_backtest(tmp_path / "in.csv", tmp_path / "out.csv")
    rows = read(tmp_path / "out.csv")
    check_contract(rows, list(reversed(stamps)))
    assert summary.invalid == 5
    by_stamp = {row["timestamp"]: row for row in rows}
    assert by_stamp["not a time"]["reason"] == "invalid timestamp 'not a time'"
    assert by_stamp[stamps[50]]["reason"] == "invalid value 'NaN'"
    assert by_stamp[stamps[51]]["is_anomaly"] == "0"


def test_rows_sharing_a_bucket_share_its_score(tmp_path: Path) -> None:
    stamps = write_series(tmp_path / "in.csv", [5] * 120, step=60)
    summary = run_backtest(tmp_path / "in.csv", tmp_path / "out.csv", bucket_seconds=300)
    rows = read(tmp_path / "out.csv")
    check_contract(rows, stamps)
    assert summary.buckets == 24
    assert len({row["score"] for row in rows[:5]}) == 1


def test_unreadable_input_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("time,amount\n1,2\n")
    with pytest.raises(BacktestError, match="timestamp and value"):
        run_backtest(tmp_path / "bad.csv", tmp_path / "out.csv")


def test_the_command(tmp_path: Path) -> None:
    write_series(tmp_path / "in.csv", list(range(100)))
    runner = CliRunner()
    ok = runner.invoke(
        app, ["backtest", str(tmp_path / "in.csv"), "--out", str(tmp_path / "out.csv"),
              "--kind", "count", "--bucket-seconds", "300"],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "scored 100 rows" in ok.output
    assert len(read(tmp_path / "out.csv")) == 100
    (tmp_path / "empty.csv").write_text("")
    failed = runner.invoke(app, ["backtest", str(tmp_path / "empty.csv"), "--out", "x.csv"])
    assert failed.exit_code == 2
    assert "header" in failed.output


def test_many_files_and_any_value_judged_both_ways(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    inputs = tmp_path / "in"
    inputs.mkdir()
    stamps: dict[str, list[str]] = {}
    for index in range(5):
        values = 40.0 + rng.normal(0, 1.5, 500 + 50 * index)  # e.g. a temperature
        if index == 1:
            values[400:430] += 25.0  # too hot
        if index == 2:
            values[300:330] -= 25.0  # too cold
        stamps[f"s{index}.csv"] = write_series(inputs / f"s{index}.csv",
                                               [f"{v:.3f}" for v in values])  # fmt: skip
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["backtest", str(inputs), "--out", str(out), "--kind", "value"]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(stamps)
    flagged = {}
    for name, expected in stamps.items():
        rows = read(out / name)
        check_contract(rows, expected)
        flagged[name] = [i for i, row in enumerate(rows) if row["is_anomaly"] == "1"]
    assert flagged["s1.csv"]
    assert set(flagged["s1.csv"]) <= set(range(400, 440))
    assert read(out / "s1.csv")[flagged["s1.csv"][0]]["reason"].startswith("value_high: ")
    assert flagged["s2.csv"]
    assert set(flagged["s2.csv"]) <= set(range(300, 340))
    assert read(out / "s2.csv")[flagged["s2.csv"][0]]["reason"].startswith("value_low: ")
    assert flagged["s0.csv"] == flagged["s3.csv"] == flagged["s4.csv"] == []


def test_series_stepped_together_score_as_they_would_alone(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    times = np.arange(400, dtype=np.float64) * 300.0
    series = [(times, rng.poisson(100 + 50 * i, 400).astype(np.float64)) for i in range(3)]
    series[1][1][250:270] = 5.0
    together = score_series(series, kind=Kind.COUNT)
    for one, scored in zip(series, together, strict=True):
        alone = score_series([one], kind=Kind.COUNT)[0]
        assert np.array_equal(alone.flags, scored.flags)
        assert np.allclose(alone.scores, scored.scores)
