"""The OTLP wire scanner against the reference decoder (protobuf runtime): the same columns on
any export it takes, a clean refusal (then the reference decides) on anything else, and
never a crash or an out-of-bounds read on mutated bodies."""

from __future__ import annotations

import contextlib
import random
import struct
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from tracer_processor.ingest.batch import BatchRejectedError, IngestLimits, LogBatch
from tracer_processor.ingest.otlp import decode_export, decode_request, to_batch, varint
from tracer_processor.ingest.otlp_wire import scan_export
from tracer_processor.ingest.text import BAD_TEXT_ERROR
from tracer_scan import otlp as otlp_scanner
from tracer_scan.otlp import scan

NOW = 1_772_452_800.0
NANOS = int(NOW * 1e9)
LIMITS = IngestLimits()
SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
WANTED_KEYS = [
    "http.response.status_code",
    "http.status_code",
    "duration_ms",
    "http.server.request.duration",
]


# --- protobuf wire encoding, by hand, so tests can build what the runtime would not ---------


def _ld(field: int, payload: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(payload)) + payload


@dataclass(frozen=True)
class Unknown:
    field: int
    wire: int
    payload: bytes

    def encode(self) -> bytes:
        tag = varint(self.field << 3 | self.wire)
        if self.wire == 2:
            return tag + varint(len(self.payload)) + self.payload
        return tag + self.payload


def _unknown_field() -> st.SearchStrategy[Unknown]:
    field = st.integers(min_value=13, max_value=(1 << 29) - 1)
    return st.one_of(
        st.builds(Unknown, field, st.just(0), st.integers(0, (1 << 64) - 1).map(varint)),
        st.builds(Unknown, field, st.just(1), st.binary(min_size=8, max_size=8)),
        st.builds(Unknown, field, st.just(2), st.binary(max_size=12)),
        st.builds(Unknown, field, st.just(5), st.binary(min_size=4, max_size=4)),
    )


def _unknowns() -> st.SearchStrategy[bytes]:
    return st.lists(_unknown_field(), max_size=2).map(lambda u: b"".join(f.encode() for f in u))


# --- exports of every shape the mapping cares about ----------------------------------------

_NUMERIC_TEXT = st.sampled_from(
    ["503", "200", " 12.5 ", "nan", "inf", "-1", "1_000", "1e3", "abc", "", "\u0665\u0660\u0663"]
)


_EDGES = [-1, 0, 200, 499, 500, 503, 999, 1000, 10**12, 10**12 + 1]  # around the thresholds


def _leaf() -> st.SearchStrategy[AnyValue]:
    return st.one_of(
        st.just(AnyValue()),
        st.builds(lambda s: AnyValue(string_value=s), st.one_of(_NUMERIC_TEXT, st.text())),
        st.builds(lambda b: AnyValue(bool_value=b), st.booleans()),
        st.builds(lambda i: AnyValue(int_value=i), st.integers(-(2**63), 2**63 - 1)),
        st.builds(lambda i: AnyValue(int_value=i), st.sampled_from(_EDGES)),
        st.builds(lambda f: AnyValue(double_value=f), st.floats()),
        st.builds(lambda f: AnyValue(double_value=f), st.sampled_from(_EDGES).map(float)),
        st.builds(lambda f: AnyValue(double_value=f), st.floats(0, 5_000)),
        st.builds(lambda b: AnyValue(bytes_value=b), st.binary(max_size=8)),
        st.builds(lambda i: AnyValue(string_value_strindex=i), st.integers(0, 5)),
    )


def _any_value() -> st.SearchStrategy[AnyValue]:
    def nested(children: st.SearchStrategy[AnyValue]) -> st.SearchStrategy[AnyValue]:
        def array(values: list[AnyValue]) -> AnyValue:
            value = AnyValue()
            value.array_value.values.extend(values)
            return value

        def kvlist(pairs: list[tuple[str, AnyValue]]) -> AnyValue:
            value = AnyValue()
            value.kvlist_value.values.extend(KeyValue(key=k, value=v) for k, v in pairs)
            return value

        return st.one_of(
            st.lists(children, max_size=3).map(array),
            st.lists(st.tuples(st.text(max_size=4), children), max_size=3).map(kvlist),
        )

    # scalars first: they are what the mapping reads
    return st.one_of(_leaf(), _leaf(), _leaf(), st.recursive(_leaf(), nested, max_leaves=6))


@st.composite
def _key_value(draw: st.DrawFn, keys: list[str]) -> bytes:
    key = draw(st.one_of(st.sampled_from(keys), st.text(max_size=6)))
    encoded = KeyValue(key=key, value=draw(_any_value())).SerializeToString()
    if draw(st.integers(0, 3)) == 0:  # a second `value`: the runtime merges it into the first
        encoded += _ld(2, draw(_any_value()).SerializeToString())
    return bytes(encoded) + draw(_unknowns())


_RECENT = st.integers(0, 3_600 * 10**9).map(lambda ago: NANOS - ago)
_STAMP = st.one_of(
    st.just(0),
    _RECENT,
    _RECENT,
    _RECENT,
    st.integers(0, 60 * 10**9).map(lambda ahead: NANOS + ahead),  # some too far ahead
    st.just(NANOS - 30 * 86_400 * 10**9),  # too old
    st.integers(0, (1 << 64) - 1),
)


@st.composite
def _record(draw: st.DrawFn) -> bytes:
    record = LogRecord(
        time_unix_nano=draw(_STAMP),
        observed_time_unix_nano=draw(_STAMP),
        severity_number=draw(  # type: ignore[arg-type]
            st.one_of(st.sampled_from([0, 9, 13, 17, 21]), st.integers(-(2**31), 2**31 - 1))
        ),
        severity_text=draw(
            st.one_of(
                st.sampled_from(["", "error", "ERROR", "Err", "warn", "Fatal", "crit", "K"]),
                st.text(max_size=10),
            )
        ),
        event_name=draw(st.text(max_size=4)),
        trace_id=draw(st.binary(max_size=16)),
        flags=draw(st.integers(0, 2**32 - 1)),
    )
    if draw(st.booleans()):
        record.body.CopyFrom(draw(_any_value()))
    encoded = bytes(record.SerializeToString())
    if draw(st.integers(0, 9)) == 0:  # a second body: merged into the first
        encoded += _ld(5, draw(_any_value()).SerializeToString())
    pairs = draw(st.lists(_key_value([*WANTED_KEYS, "code.function"]), max_size=4))
    encoded += b"".join(_ld(6, pair) for pair in pairs) + draw(_unknowns())
    return encoded


@st.composite
def _resource(draw: st.DrawFn) -> bytes:
    name = st.one_of(
        st.sampled_from(["api", "cart", "x" * 201, "pay\u001bments", ""]), st.text(max_size=8)
    )
    pairs = [
        KeyValue(key=key, value=AnyValue(string_value=draw(name))).SerializeToString()
        for key in ("service.name", "tracer.project", "service.namespace")
        if draw(st.booleans())
    ]
    pairs += draw(st.lists(_key_value(["service.name", "tracer.project", "host"]), max_size=2))
    draw(st.randoms()).shuffle(pairs)
    return b"".join(_ld(1, bytes(pair)) for pair in pairs) + draw(_unknowns())


@st.composite
def exports(draw: st.DrawFn) -> bytes:
    body = b""
    for _ in range(draw(st.integers(0, 3))):
        resource_logs = b""
        for _ in range(draw(st.integers(0, 2))):  # a repeated `resource` merges
            resource_logs += _ld(1, draw(_resource()))
        for _ in range(draw(st.integers(0, 2))):
            scope = b""
            if draw(st.booleans()):
                scope += _ld(1, _ld(1, draw(st.text(max_size=5)).encode()) + draw(_unknowns()))
            for record in draw(st.lists(_record(), max_size=5)):
                scope += _ld(2, record)
            resource_logs += _ld(2, scope + draw(_unknowns()))
        if draw(st.booleans()):
            resource_logs += _ld(3, b"https://opentelemetry.io/schemas/1.0")
        body += _ld(1, resource_logs + draw(_unknowns()))
    return body + draw(_unknowns())


# --- comparison ----------------------------------------------------------------------------


def _columns(batch: LogBatch) -> dict[str, object]:
    return {
        "received": batch.received,
        "timestamps": batch.timestamps.tolist(),
        "projects": batch.projects,
        "services": batch.services,
        "is_error": batch.is_error.tolist(),
        "durations": batch.durations.tolist(),
        "messages": [batch.messages[row] for row in range(batch.size)],
        "origin": [batch.index_of(row) for row in range(batch.size)],
        "errors": batch.errors,
        "rejected": batch.rejected,
    }


def _reference(body: bytes, limits: IngestLimits = LIMITS) -> LogBatch:
    return to_batch(decode_request(body, json=False), now=NOW, limits=limits, raw=body)


def _scanned(body: bytes, limits: IngestLimits = LIMITS) -> LogBatch:
    batch = scan_export(body, now=NOW, limits=limits)
    assert batch is not None, "the scanner refused a well-formed export"
    return batch


@SETTINGS
@given(body=exports())
def test_the_scanner_reads_the_same_columns_as_the_reference_decoder(body: bytes) -> None:
    assert _columns(_scanned(body)) == _columns(_reference(body))


def scan_export_or_fail(body: bytes, limits: IngestLimits) -> LogBatch:
    return _scanned(body, limits)


@settings(SETTINGS, max_examples=40)
@given(body=exports(), limit=st.integers(0, 12))
def test_the_record_limit_is_the_same(body: bytes, limit: int) -> None:
    limits = IngestLimits(max_records=limit)
    request = decode_request(body, json=False)
    count = sum(len(scope.log_records) for rl in request.resource_logs for scope in rl.scope_logs)
    if count > limit:
        for decode in (_reference, scan_export_or_fail):
            with pytest.raises(BatchRejectedError, match=f"more than {limit} log") as refused:
                decode(body, limits)
            assert refused.value.too_large
        return
    assert _columns(_scanned(body, limits)) == _columns(_reference(body, limits))


def _check_mutated(body: bytes) -> None:
    """Refused (the reference decides), or the reference's columns, or, where the reference
    rejects the export, the scanner rejected records for invalid UTF-8 instead."""
    try:
        expected: dict[str, object] | None = _columns(_reference(body))
    except BatchRejectedError:
        expected = None
    batch = scan_export(body, now=NOW, limits=LIMITS)
    if batch is None:
        return
    if expected is None:  # invalid UTF-8 where no record holds it (an empty resource) rejects none
        assert any(error.error == BAD_TEXT_ERROR for error in batch.errors) or not _utf8(body)
        _columns(batch)  # every kept message still reads
    else:
        assert _columns(batch) == expected


def _utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


@SETTINGS
@given(
    body=exports(),
    edits=st.lists(
        st.tuples(st.floats(0, 1), st.sampled_from(["set", "insert", "delete", "cut"]),
                  st.integers(0, 255)),
        min_size=1,
        max_size=4,
    ),
)  # fmt: skip
def test_mutated_exports_never_crash_and_never_disagree(
    body: bytes, edits: list[tuple[float, str, int]]
) -> None:
    data = bytearray(body)
    for where, edit, byte in edits:
        at = int(where * len(data))
        if edit == "set" and data:
            data[min(at, len(data) - 1)] = byte
        elif edit == "insert":
            data[at:at] = bytes([byte])
        elif edit == "delete":
            del data[at : at + 1]
        else:
            del data[at:]
    _check_mutated(bytes(data))


def test_random_byte_damage_is_survived() -> None:
    rng = random.Random(1234)
    corpus = [_fixed_export(rng) for _ in range(20)]
    for _ in range(3000):
        data = bytearray(rng.choice(corpus))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(data))
            data[at] = rng.randrange(256)
        _check_mutated(bytes(data))
        _check_mutated(bytes(data[: rng.randrange(len(data))]))
    for size in range(200):  # pure noise
        _check_mutated(rng.randbytes(size))


def test_a_damaged_string_rejects_the_records_around_it() -> None:
    """Every string of these exports lies in a unit holding records, so where a damaged
    byte makes the runtime refuse the export, the scanner rejects records instead."""
    rng = random.Random(77)
    corpus = [_fixed_export(rng) for _ in range(10)]
    compared = 0
    for _ in range(3000):
        data = bytearray(rng.choice(corpus))
        data[rng.randrange(len(data))] = rng.randrange(128, 256)
        body = bytes(data)
        with contextlib.suppress(BatchRejectedError):
            _reference(body)
            continue
        batch = scan_export(body, now=NOW, limits=LIMITS)
        if batch is not None:
            compared += 1
            assert any(error.error == BAD_TEXT_ERROR for error in batch.errors)
    assert compared > 100


def _fixed_export(rng: random.Random) -> bytes:
    records = b""
    for index in range(rng.randint(1, 6)):
        record = LogRecord(
            time_unix_nano=NANOS - rng.randrange(10**12),
            severity_number=rng.choice([0, 9, 17]),  # type: ignore[arg-type]
            severity_text=rng.choice(["", "error"]),
        )
        record.body.string_value = f"line {index} é"
        record.attributes.add(key="http.response.status_code").value.int_value = 503
        record.attributes.add(key="duration_ms").value.double_value = 1.5
        record.attributes.add(key="tags").value.array_value.values.add().string_value = "a"
        records += _ld(2, bytes(record.SerializeToString()))
    name = KeyValue(key="service.name", value=AnyValue(string_value="api")).SerializeToString()
    return _ld(1, _ld(1, _ld(1, bytes(name))) + _ld(2, records))


# --- the paths left to Python or to the reference decoder ----------------------------------


def _one_record(record: bytes, resource: bytes | None = None) -> bytes:
    if resource is None:
        name = KeyValue(key="service.name", value=AnyValue(string_value="api"))
        resource = _ld(1, bytes(name.SerializeToString()))
    return _ld(1, _ld(1, resource) + _ld(2, _ld(2, record)))


def _log(**attributes: AnyValue) -> LogRecord:
    record = LogRecord(time_unix_nano=NANOS - 10**9, severity_number=9)  # type: ignore[arg-type]
    record.body.string_value = "ok"
    for key, value in attributes.items():
        record.attributes.add(key=key, value=value)
    return record


def test_string_valued_numbers_and_structured_bodies_are_read_by_the_runtime() -> None:
    status = _log(**{"http.status_code": AnyValue(string_value=" 503 ")})
    duration = _log(duration_ms=AnyValue(string_value="1_250.5"))
    structured = _log()
    structured.severity_number = 17  # type: ignore[assignment]
    structured.body.kvlist_value.values.add(key="user", value=AnyValue(int_value=7))
    records = [status, duration, structured]
    body = _ld(1, _ld(2, b"".join(_ld(2, bytes(r.SerializeToString())) for r in records)))
    batch = _scanned(body)
    assert batch.is_error.tolist() == [True, False, True]
    assert batch.durations.tolist() == [-1.0, 1250.5, -1.0]
    assert (
        batch.messages[2] == '{"kvlistValue":{"values":[{"key":"user","value":{"intValue":"7"}}]}}'
    )
    assert _columns(batch) == _columns(_reference(body))


def test_exports_the_scanner_refuses_go_through_the_reference_decoder() -> None:
    group = bytes([15 << 3 | 3]) + b"\x08\x05" + bytes([15 << 3 | 4])  # an unknown group
    grouped = _one_record(bytes(_log().SerializeToString()) + group)
    deep = AnyValue(string_value="bottom")
    for _ in range(30):  # nested deeper than the scanner goes, within the runtime's limit
        outer = AnyValue()
        outer.array_value.values.append(deep)
        deep = outer
    nested = _log()
    nested.severity_number = 17  # type: ignore[assignment]
    nested.body.CopyFrom(deep)
    deep_body = _one_record(bytes(nested.SerializeToString()))
    for body in (grouped, deep_body):
        assert scan(body, LIMITS.max_records) is None
        batch = decode_export(body, json=False, now=NOW, limits=LIMITS)
        assert _columns(batch) == _columns(_reference(body))
    assert "bottom" in decode_export(deep_body, json=False, now=NOW, limits=LIMITS).messages[0]


@pytest.mark.parametrize(
    "body",
    [
        b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # varint past 64 bits
        b"\x0a\x05ab",  # length past the end
        b"\x0a\x02\x12\x7f",  # a nested length past its parent's end
        b"\x0a\x04\x12\x02\x12\xff",
        b"\x0e\x00",  # wire type 6
        b"\x0f",  # wire type 7
        b"\x00\x01",  # field number 0
        b"\x0b\x08\x01",  # a group never closed
        b"\x0a\x03\x12\x01",  # truncated inside a record
        b"\x0a\x8a\x80\x80\x80\x80\x80\x80\x80\x80\x01",  # a huge count
    ],
)
def test_malformed_bodies_are_rejected_cleanly(body: bytes) -> None:
    assert scan(body, LIMITS.max_records) is None
    with pytest.raises(BatchRejectedError, match="not a valid OTLP protobuf"):
        decode_export(body, json=False, now=NOW, limits=LIMITS)


def test_invalid_utf8_rejects_only_the_records_holding_it() -> None:
    def record(text: bytes, *, extra: bytes = b"") -> bytes:
        stamp = b"\x09" + struct.pack("<Q", NANOS - 10**9)
        return _ld(2, stamp + b"\x10\x11" + _ld(5, _ld(1, text)) + extra)

    def resource(service: bytes) -> bytes:
        return _ld(1, _ld(1, _ld(1, b"service.name") + _ld(2, _ld(1, service))))

    attribute = _ld(6, _ld(1, b"tag") + _ld(2, _ld(1, b"\xed\xa0\x80")))  # a surrogate
    scope_name = _ld(1, _ld(1, b"lib\xff"))
    body = (
        _ld(1, resource(b"pay") + _ld(2, record(b"ok") + record(b"bad \xff")))
        + _ld(1, resource(b"pay") + _ld(2, record(b"x", extra=attribute)))
        + _ld(1, resource(b"cart") + _ld(2, scope_name + record(b"in a bad scope")))
        + _ld(1, resource(b"bad\xc3") + _ld(2, record(b"in a bad resource")))
        + _ld(1, resource(b"shop") + _ld(2, record("café".encode())))
    )  # fmt: skip
    with pytest.raises(BatchRejectedError):
        decode_request(body, json=False)  # the runtime refuses the whole export
    batch = decode_export(body, json=False, now=NOW, limits=LIMITS)
    assert batch.received == 6
    assert batch.services == ["pay", "shop"]
    assert list(batch.messages) == ["ok", "café"]
    assert [(error.index, error.error) for error in batch.errors] == [
        (1, BAD_TEXT_ERROR),
        (2, BAD_TEXT_ERROR),
        (3, BAD_TEXT_ERROR),
        (4, BAD_TEXT_ERROR),
    ]


def test_a_long_body_is_cut_at_the_message_limit() -> None:
    record = _log()
    record.severity_number = 17  # type: ignore[assignment]
    record.body.string_value = "é" * 70_000 + "x" * 200_000
    body = _one_record(bytes(record.SerializeToString()))
    assert _scanned(body).messages[0] == "é" * 65_536
    assert _columns(_scanned(body)) == _columns(_reference(body))


def _records(*records: bytes) -> bytes:
    return _ld(1, _ld(2, b"".join(_ld(2, record) for record in records)))


def test_threshold_values_map_the_same() -> None:
    nan, inf = float("nan"), float("inf")
    statuses = [499, 500, 999, 1000, 499.99, 500.0, 999.0, 999.5, nan, inf, -(2**63)]
    durations = [0, -0.0, 1e12, 1e12 + 1, 10**12, 10**12 + 1, nan, inf, -1, 2.5]
    records = []
    for status in statuses:
        value = AnyValue(int_value=status) if isinstance(status, int) else AnyValue()
        if isinstance(status, float):
            value.double_value = status
        records.append(_log(**{"http.status_code": value}))
    for duration in durations:
        value = AnyValue(int_value=duration) if isinstance(duration, int) else AnyValue()
        if isinstance(duration, float):
            value.double_value = duration
        records.append(_log(duration_ms=value))
    for seconds in (1e9, 1e9 + 1e-3, 2.5e-3):
        records.append(_log(**{"http.server.request.duration": AnyValue(double_value=seconds)}))
    body = _records(*(bytes(record.SerializeToString()) for record in records))
    batch = _scanned(body)
    assert batch.is_error.tolist()[: len(statuses)] == [
        False, True, True, False, False, True, True, False, False, False, False,
    ]  # fmt: skip
    assert batch.durations.tolist()[len(statuses) :] == [
        0.0, -0.0, 1e12, -1.0, 1e12, -1.0, -1.0, -1.0, -1.0, 2.5, 1e12, -1.0, 2.5,
    ]  # fmt: skip
    assert _columns(batch) == _columns(_reference(body))


def test_repeated_fields_and_odd_severities_map_as_in_the_runtime() -> None:
    base = bytes(_log().SerializeToString())
    failed = _log()
    failed.severity_number = 17  # type: ignore[assignment]
    empty_second_body = bytes(failed.SerializeToString()) + _ld(5, b"")  # the first body stays
    int_then_empty = _ld(6, _ld(1, b"duration_ms") + _ld(2, b"\x18\x07") + _ld(2, b""))
    string_then_int = _ld(
        6, _ld(1, b"http.status_code") + _ld(2, _ld(1, b"200")) + _ld(2, b"\x18\xf7\x03")
    )
    last_pair_wins = _ld(6, _ld(1, b"duration_ms") + _ld(2, b"\x18\x05")) + _ld(
        6, _ld(1, b"duration_ms") + _ld(2, b"")
    )
    body = _records(
        empty_second_body,
        base + int_then_empty,
        base + string_then_int,
        base + last_pair_wins,
        bytes(LogRecord(severity_text="ERROR", time_unix_nano=NANOS).SerializeToString()),
        bytes(LogRecord(severity_text="K", observed_time_unix_nano=NANOS).SerializeToString()),
        bytes(_log().SerializeToString()) + b"\x10" + varint(-1) + _ld(3, b"error"),
        bytes(_log().SerializeToString()) + b"\x10" + varint(2**32 + 17),  # int32: 17
    )  # fmt: skip
    batch = _scanned(body)
    assert batch.messages[0] == "ok"
    assert batch.durations.tolist()[:4] == [-1.0, 7.0, -1.0, -1.0]
    assert batch.is_error.tolist() == [True, False, True, False, True, False, False, True]
    assert batch.messages[4] == ""
    assert _columns(batch) == _columns(_reference(body))


def test_without_the_built_scanner_every_body_goes_to_the_runtime(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Installed without a C compiler, the extension is missing: the same exports decode to
    the same columns through the protobuf runtime."""
    request = ExportLogsServiceRequest()
    for service in ("checkout", "search"):
        resource = request.resource_logs.add()
        resource.resource.attributes.add(key="service.name", value=AnyValue(string_value=service))
        records = resource.scope_logs.add().log_records
        for index in range(50):
            record = records.add(time_unix_nano=int((NOW - index) * 1e9), severity_number=9)
            record.body.string_value = f"GET /items/{index}"
            record.attributes.add(
                key="http.response.status_code", value=AnyValue(int_value=503 - index % 2 * 303)
            )
            record.attributes.add(key="duration_ms", value=AnyValue(double_value=index * 1.5))
    body = request.SerializeToString()
    limits = IngestLimits()
    scanned = decode_export(body, json=False, now=NOW, limits=limits)
    monkeypatch.setattr(otlp_scanner, "_SCANNER", None)
    assert scan(body, limits.max_records) is None
    assert scan_export(body, now=NOW, limits=limits) is None
    runtime = decode_export(body, json=False, now=NOW, limits=limits)
    assert runtime.services == scanned.services
    assert runtime.timestamps.tolist() == scanned.timestamps.tolist()
    assert runtime.is_error.tolist() == scanned.is_error.tolist()
    assert runtime.durations.tolist() == scanned.durations.tolist()
