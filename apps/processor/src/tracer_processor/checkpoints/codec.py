"""Binary form of one service's detector state, for baseline checkpoints.

A checkpoint is a 12-byte header (magic, format version, layout digest) followed by one
record of a numpy structured type whose fields are exactly what `Detector.export` returns,
so every array is written as raw little-endian bytes without per-value work. The layout
digest covers the field names, types and shapes (window and recent ring lengths, alert
types) and the bucket size: a checkpoint taken under another configuration or by another
version is refused, never misread - except the layouts of earlier releases listed in
`_ADDED_SINCE`: their fields are read and the state added since starts at zero (a new
statistic starts learning; the baseline is kept, not warmed up again). Decoded records
are checked (finite floats, counts that match their rings) because a checkpoint is data
from outside this process.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tracer_processor.detection.detector import Detector

FORMAT_VERSION = 2  # 2: pooled error counts, burst trackers and the seasonal profile
_MAGIC = b"TRBC"
_HEADER = struct.Struct("<4sHI")  # magic, format version, layout digest
_NO_SLOTS = np.empty(0, np.intp)
# Per earlier layout still restored: the fields added since it (name suffixes). Zero must be
# a valid starting value for each. Newest first.
_ADDED_SINCE: tuple[tuple[str, ...], ...] = (
    (".carried", ".last", ".followed", ".continued"),  # burst runs (bursts.<metric>.*)
)


class CheckpointError(ValueError):
    """A checkpoint that cannot be restored (corrupt, or from another layout)."""


class CheckpointCodec:
    def __init__(self, detector: Detector) -> None:
        layout = detector.export(_NO_SLOTS)
        self.dtype = np.dtype(
            [(name, a.dtype.newbyteorder("<"), a.shape[1:]) for name, a in layout.items()]
        )
        self.window = detector.config.window_buckets
        self.recent = detector.config.recent_buckets
        self.metrics = (*detector.baselines, *(f"pool.{name}" for name in detector.pools))
        bucket_seconds = detector.config.bucket_seconds
        self._header = _header(self.dtype, bucket_seconds)
        # header -> the dtype of an earlier release's layout that upgrades to this one
        self._earlier: dict[bytes, np.dtype[np.void]] = {}
        for added in _ADDED_SINCE:
            names = [
                name
                for name in self.dtype.names or ()
                if not (name.startswith("bursts.") and name.endswith(added))
            ]
            earlier = np.dtype([(name, *_field(self.dtype, name)) for name in names])
            self._earlier[_header(earlier, bucket_seconds)] = earlier

    @property
    def size(self) -> int:
        return _HEADER.size + self.dtype.itemsize

    def encode(self, state: dict[str, npt.NDArray[Any]]) -> list[bytes]:
        """One checkpoint per service of an exported state (services on the first axis)."""
        count = len(state["steps"])
        records = np.empty(count, self.dtype)
        for name in self.dtype.names or ():
            records[name] = state[name]
        raw = memoryview(records.tobytes())
        width, header = self.dtype.itemsize, self._header
        return [header + raw[i * width : (i + 1) * width] for i in range(count)]

    def decode(self, blobs: Sequence[bytes]) -> tuple[npt.NDArray[np.void], list[int], list[str]]:
        """Records of the checkpoints that can be restored, their positions in `blobs`, and
        why each other one cannot (one message per refused checkpoint)."""
        kept: list[int] = []
        problems: list[str] = []
        for position, blob in enumerate(blobs):
            problem = self._framing_problem(blob)
            if problem:
                problems.append(problem)
            else:
                kept.append(position)
        records = np.zeros(len(kept), self.dtype)
        for row, position in enumerate(kept):
            blob = blobs[position]
            layout = self._earlier.get(blob[: _HEADER.size], self.dtype)
            record = np.frombuffer(blob, layout, 1, _HEADER.size)
            if layout is self.dtype:
                records[row] = record[0]
            else:  # an earlier release's: its fields, the ones added since left at zero
                for name in layout.names or ():
                    records[name][row] = record[name][0]
        sound = self._sound(records)
        if not sound.all():
            problems.extend(["inconsistent or non-finite state"] * int((~sound).sum()))
            records = records[sound]
            kept = [p for p, ok in zip(kept, sound.tolist(), strict=True) if ok]
        return records.copy(), kept, problems

    def _framing_problem(self, blob: bytes) -> str | None:
        if len(blob) < _HEADER.size:
            return "too short"
        magic, version, _ = _HEADER.unpack_from(blob)
        if magic != _MAGIC:
            return "not a baseline checkpoint"
        if version != FORMAT_VERSION:
            return f"format version {version}, this processor reads {FORMAT_VERSION}"
        header = blob[: _HEADER.size]
        layout = self.dtype if header == self._header else self._earlier.get(header)
        if layout is None:
            return "taken with another detector layout or bucket size"
        if len(blob) != _HEADER.size + layout.itemsize:
            return f"{len(blob)} bytes, expected {_HEADER.size + layout.itemsize}"
        return None

    def _sound(self, records: npt.NDArray[np.void]) -> npt.NDArray[np.bool_]:
        """Per record: every float finite, every counter in range and matching its ring."""
        ok = np.ones(records.size, np.bool_)
        for name in self.dtype.names or ():
            field = records[name]
            values = field.reshape(records.size, field[0].size if records.size else 0)
            if values.dtype.kind == "f":
                ok &= np.isfinite(values).all(axis=1)
            elif values.dtype.kind == "i" and name != "alerts.start":  # counters
                ok &= (values >= 0).all(axis=1)
        ok &= (records["alerts.severity"] <= 3).all(axis=1)
        for metric in self.metrics:
            valid, recent_valid = records[f"{metric}.valid"], records[f"{metric}.recent_valid"]
            ok &= records[f"{metric}.n"] == valid.sum(axis=1)
            ok &= records[f"{metric}.recent_n"] == recent_valid.sum(axis=1)
        return ok


def _header(dtype: np.dtype[np.void], bucket_seconds: float) -> bytes:
    digest = zlib.crc32(f"{dtype.descr!r}/{bucket_seconds}".encode())
    return _HEADER.pack(_MAGIC, FORMAT_VERSION, digest)


def _field(dtype: np.dtype[np.void], name: str) -> tuple[np.dtype[Any], tuple[int, ...]]:
    fields = dtype.fields
    assert fields is not None
    sub: np.dtype[Any] = fields[name][0]
    if sub.subdtype is not None:
        return sub.subdtype[0], sub.subdtype[1]
    return sub, ()
