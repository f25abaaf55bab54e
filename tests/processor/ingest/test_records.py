"""Decoding `POST /api/logs` bodies: every accepted shape, partial acceptance with one error
per bad record, and hostile input answered with clear errors."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import orjson
import pytest

from tracer_processor.ingest.batch import BatchRejectedError, IngestLimits
from tracer_processor.ingest.records import parse_logs
from tracer_scan import records as record_columns

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()
LIMITS = IngestLimits(max_records=1000)


@pytest.fixture(autouse=True, params=["c", "python"])
def column_reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs twice: records read into columns by the C pass, and by the
    Python comprehensions used where that extension was not built."""
    if request.param == "python":
        monkeypatch.setattr(record_columns, "_BUILDER", None)
    return str(request.param)


def record(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "timestamp": "2026-03-02T11:59:30.250Z",
        "service": "checkout",
        "level": "info",
        "message": "GET /cart 200",
    }
    base.update(changes)
    return base


def parse(body: bytes, *, ndjson: bool = False, limits: IngestLimits = LIMITS):  # type: ignore[no-untyped-def]
    return parse_logs(body, ndjson=ndjson, now=NOW, limits=limits)


def test_array_envelope_and_ndjson_decode_the_same_records() -> None:
    records = [
        record(),
        record(level="error", status_code=503, duration_ms=812.5, project="shop"),
        record(timestamp=int((NOW - 10) * 1000), level="WARN", trace_id="abc", attributes={"a": 1}),
    ]
    shapes = [
        (orjson.dumps(records), False),
        (orjson.dumps({"logs": records}), False),
        (b"\n".join(orjson.dumps(r) for r in records) + b"\n", True),
        (b"\r\n\n".join(orjson.dumps(r) for r in records), False),  # NDJSON sniffed
    ]
    for body, ndjson in shapes:
        batch = parse(body, ndjson=ndjson)
        assert (batch.size, batch.rejected, batch.received) == (3, 0, 3)
        assert batch.services == ["checkout"] * 3
        assert batch.projects == ["default", "shop", "default"]
        assert batch.is_error.tolist() == [False, True, False]
        assert batch.durations.tolist() == [-1.0, 812.5, -1.0]
        assert batch.timestamps[0] == pytest.approx(NOW - 29.75)
        assert batch.timestamps[2] == pytest.approx(NOW - 10)


def test_status_code_500_counts_as_an_error_and_offsets_are_honoured() -> None:
    batch = parse(
        orjson.dumps(
            [
                record(status_code=500),
                record(status_code=404, level="error"),
                record(timestamp="2026-03-02T13:59:00+02:00"),
                record(timestamp="2026-03-02T11:59:00Z", status_code=None, duration_ms=None),
            ]
        )
    )
    assert batch.is_error.tolist() == [True, True, False, False]
    assert batch.timestamps[2] == pytest.approx(NOW - 60)


def test_good_records_are_kept_and_each_bad_one_gets_its_own_error() -> None:
    records = [
        record(),
        record(service=5),
        record(level="loud"),
        {"service": "x", "level": "info", "message": "no time"},
        record(timestamp="2026-03-02T11:00:00"),  # no offset
        record(timestamp="yesterday"),
        record(duration_ms=-1),
        record(status_code=1000),
        record(service=""),
        record(timestamp=5),  # epoch seconds where milliseconds are expected
        record(timestamp="2026-03-02T12:10:00Z"),  # ten minutes ahead of the clock
        "not an object",
        record(),
    ]
    batch = parse(orjson.dumps(records))
    assert batch.size == 2
    assert batch.rejected == 11
    errors = {e.index: e.error for e in batch.errors}
    assert sorted(errors) == list(range(1, 12))
    assert "Expected `str`, got `int`" in errors[1]
    assert "service" in errors[1]
    assert "loud" in errors[2]
    assert "timestamp" in errors[3]
    assert "UTC offset" in errors[4]
    assert "not RFC 3339" in errors[5]
    assert ">= 0" in errors[6]
    assert "<= 999" in errors[7]
    assert "length >= 1" in errors[8]
    assert "milliseconds" in errors[9]
    assert "ahead of the processor clock" in errors[10]
    assert "Expected `object`" in errors[11]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"   \n ", "empty"),
        (b"[{]", "not valid JSON"),
        (b'"just a string"', "not a JSON array"),
        (b'{"logs": 5}', "`logs` must be an array"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_unreadable_bodies_are_rejected_whole(body: bytes, message: str) -> None:
    with pytest.raises(BatchRejectedError, match=message):
        parse(body)


def test_hostile_values_are_rejected_per_record() -> None:
    body = (
        b'[{"timestamp": 1e400, "service": "a", "level": "info", "message": "m"},'
        b'{"timestamp": 123456789012345678901234567890, "service": "a", "level": "info",'
        b' "message": "m"},'
        b'{"timestamp": "2026-03-02T11:59:00Z", "service": "a", "level": "info",'
        b' "message": "m", "duration_ms": 1e308},'
        b'{"timestamp": "2026-03-02T11:59:00Z", "service": "a", "level": ["info"],'
        b' "message": {"deep": [[[[1]]]]}},'
        b'{"timestamp": "2026-03-02T11:59:00Z", "service": "ok", "level": "info",'
        b' "message": "fine", "attributes": ' + b"[" * 400 + b"]" * 400 + b"}]"
    )
    batch = parse(body)
    assert batch.services == ["ok"]
    assert [e.index for e in batch.errors] == [0, 1, 2, 3]
    assert "out of range" in batch.errors[0].error
    assert "outside years 1-9999" in batch.errors[1].error
    assert "<= 1000000000000" in batch.errors[2].error
    assert "Expected `str`, got `array`" in batch.errors[3].error
    assert all(math.isfinite(t) for t in batch.timestamps.tolist())


def test_deep_nesting_costs_only_its_own_line_in_ndjson() -> None:
    deep = b'{"timestamp": 1, "attributes": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    batch = parse(b"\n".join([orjson.dumps(record()), deep]), ndjson=True)
    assert batch.size == 1
    assert batch.errors[0].index == 1
    assert "nested too deeply" in batch.errors[0].error


def test_nan_and_infinity_are_not_json() -> None:
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        body = b'[{"timestamp": 1, "service": "a", "level": "info", "message": "m", '
        body += b'"duration_ms": ' + literal + b"}]"
        with pytest.raises(BatchRejectedError, match="not valid JSON"):
            parse(body)


def test_a_ten_megabyte_line_is_one_clear_error_among_good_lines() -> None:
    huge = orjson.dumps(record(message="x" * 10_000_000))
    body = b"\n".join([orjson.dumps(record()), huge, orjson.dumps(record(service="after"))])
    batch = parse(body, ndjson=True)
    assert batch.services == ["checkout", "after"]
    assert [e.index for e in batch.errors] == [1]
    assert "length <= 65536" in batch.errors[0].error


def test_too_many_records_is_too_large() -> None:
    body = orjson.dumps([record()] * 11)
    with pytest.raises(BatchRejectedError) as raised:
        parse(body, limits=IngestLimits(max_records=10))
    assert raised.value.too_large


def test_malformed_ndjson_lines_only_cost_themselves() -> None:
    lines = [orjson.dumps(record()), b"{not json", b"[1, 2]", orjson.dumps(record(service="z"))]
    batch = parse(b"\n".join(lines), ndjson=True)
    assert batch.services == ["checkout", "z"]
    assert [e.index for e in batch.errors] == [1, 2]
    assert "malformed" in batch.errors[0].error
