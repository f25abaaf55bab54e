"""The C pass that reads decoded JSON records into columns gives the same batch as the Python
comprehensions it replaces, on every kind of record (timestamps in every accepted and refused
form, levels, statuses, durations, names that need cleaning)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.processor.ingest.test_records import record
from tracer_processor.ingest.batch import IngestLimits, LogBatch
from tracer_processor.ingest.records import LogLine, parse_logs
from tracer_scan import records as record_columns

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()
LIMITS = IngestLimits(max_records=1000, max_event_age_seconds=1000 * 86_400)

pytestmark = pytest.mark.skipif(not record_columns.BUILT, reason="the C extension is not built")


def both_ways(body: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[LogBatch, LogBatch]:
    in_c = parse_logs(body, ndjson=False, now=NOW, limits=LIMITS)
    with monkeypatch.context() as patch:
        patch.setattr(record_columns, "_BUILDER", None)
        in_python = parse_logs(body, ndjson=False, now=NOW, limits=LIMITS)
    return in_c, in_python


def assert_same(in_c: LogBatch, in_python: LogBatch) -> None:
    assert in_c.errors == in_python.errors
    assert in_c.rejected == in_python.rejected
    assert in_c.services == in_python.services
    assert in_c.projects == in_python.projects
    assert in_c.is_error.tolist() == in_python.is_error.tolist()
    assert in_c.durations.tolist() == in_python.durations.tolist()
    # Both read whole microseconds; the value-by-value parser may round the last bit apart.
    np.testing.assert_allclose(in_c.timestamps, in_python.timestamps, rtol=0, atol=1e-6)
    assert np.isfinite(in_c.timestamps).all()


def body_of(records: list[dict[str, object]]) -> bytes:
    return json.dumps(records).encode()  # the standard encoder writes integers of any size


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-03-02T11:59:30Z",
        "2026-03-02T11:59:30.1Z",
        "2026-03-02T11:59:30.123456Z",
        "2026-03-02T11:59:30.123456789Z",  # nanoseconds: truncated, as by both parsers
        "2024-02-29T00:00:00Z",  # a leap day
        "2026-03-02T12:59:30+01:00",  # an offset: read value by value
        "2026-03-02 11:59:30Z",
        "2026-03-02T11:59:30.Z",
        1772452770250,
        1772452770250.5,
    ],
)
def test_every_accepted_timestamp_form_gives_the_same_second(
    stamp: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_c, in_python = both_ways(body_of([record(timestamp=stamp), record()]), monkeypatch)
    assert in_c.size == 2
    assert_same(in_c, in_python)


@pytest.mark.parametrize(
    "stamp",
    [
        "2023-02-29T00:00:00Z",  # not a leap year
        "2026-03-02T24:00:00Z",
        "2026-03-02T11:59:60Z",  # a leap second
        "2026-13-02T11:59:30Z",
        "0000-03-02T11:59:30Z",
        "2026-03-02t11:59:30z",
        "2026-03-02T11:59:30",  # no offset
        "2026-03-02T11:59:3xZ",
        "yesterday",
        "",
        10**400,  # beyond a double
    ],
)
def test_refused_timestamps_get_the_same_error_and_spare_the_rest(
    stamp: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_c, in_python = both_ways(body_of([record(), record(timestamp=stamp), record()]), monkeypatch)
    assert in_c.size == 2
    assert [error.index for error in in_c.errors] == [1]
    assert_same(in_c, in_python)


def test_names_that_need_cleaning_are_cleaned_the_same_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records = [
        record(service="caf\u00e9"),
        record(service="pay\u001bments"),
        record(project="\u202eshop"),
        record(service="\u0007"),  # nothing printable left: refused
        record(),
    ]
    in_c, in_python = both_ways(body_of(records), monkeypatch)
    assert in_c.services == ["caf\u00e9", "payments", "checkout", "checkout"]
    assert in_c.projects == ["default", "default", "shop", "default"]
    assert [error.index for error in in_c.errors] == [3]
    assert_same(in_c, in_python)


class Lookalike(msgspec.Struct):
    timestamp: str
    service: str
    level: str
    project: str = "default"
    status_code: int | None = None
    duration_ms: float | None = None


class NoSlots:
    timestamp = service = level = project = "x"
    status_code = duration_ms = None


def test_a_record_of_another_type_is_refused_not_misread() -> None:
    line = LogLine(timestamp="2026-03-02T11:59:30Z", service="api", level="info", message="")
    lookalike = Lookalike(timestamp="2026-03-02T11:59:30Z", service="api", level="info")
    with pytest.raises(TypeError, match="record 1 is not a LogLine"):
        record_columns.columns([line, lookalike], LogLine, frozenset())
    with pytest.raises(TypeError, match="not an object slot"):
        record_columns.columns([NoSlots()], NoSlots, frozenset())


levels = st.sampled_from(["info", "INFO", "Warn", "error", "FATAL", "critical", "debug"])
stamps = st.one_of(
    st.datetimes(
        min_value=datetime(2025, 3, 1),
        max_value=datetime(2026, 3, 2, 12, 0),
        timezones=st.just(UTC),
    ).map(lambda moment: moment.isoformat().replace("+00:00", "Z")),
    st.integers(min_value=1_740_000_000_000, max_value=1_772_452_800_000),
    st.floats(min_value=1.74e12, max_value=1.7724528e12),
    st.text(max_size=30),
)
names = st.one_of(
    st.sampled_from(["checkout", "api", "a b", "caf\u00e9"]), st.text(min_size=1, max_size=12)
)
records = st.fixed_dictionaries(
    {"timestamp": stamps, "service": names, "level": levels, "message": st.text(max_size=20)},
    optional={
        "project": names,
        "status_code": st.one_of(st.none(), st.integers(min_value=0, max_value=999)),
        "duration_ms": st.one_of(st.none(), st.floats(min_value=0, max_value=1e9)),
    },
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(records, min_size=1, max_size=40))
def test_any_batch_reads_the_same_in_c_and_in_python(
    batch: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
) -> None:
    in_c, in_python = both_ways(body_of(batch), monkeypatch)
    assert_same(in_c, in_python)
