"""Which partition a service's logs go to, and one request's records split by partition.

The partition is a stable hash (CRC-32) of (project, service), so every receiver sends a
service's records to the same subject, whatever process or version computes it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tracer_processor.ingest.batch import LogBatch

SUBJECT_PREFIX = "tracer.logs"


def partition_of(project: str, service: str, partitions: int) -> int:
    return zlib.crc32(f"{project}\x00{service}".encode()) % partitions


def subject_of(partition: int) -> str:
    return f"{SUBJECT_PREFIX}.{partition}"


def partition_of_subject(subject: str) -> int:
    return int(subject.rsplit(".", 1)[1])


@dataclass(frozen=True, slots=True)
class PartitionSlice:
    """The records of one partition: rows `start:stop` of the split's columns."""

    partition: int
    keys: list[tuple[str, str]]  # distinct (project, service) keys of the partition
    start: int
    stop: int


@dataclass(frozen=True, slots=True)
class SplitBatch:
    """A batch's columns reordered by partition (stable), and where each partition lies."""

    parts: list[PartitionSlice]
    rows: npt.NDArray[np.intp]  # batch row of each position
    key_index: npt.NDArray[np.uint32]  # per position: index in its partition's `keys`
    timestamps: npt.NDArray[np.float64]
    is_error: npt.NDArray[np.bool_]
    durations: npt.NDArray[np.float64]


class Partitioner:
    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self._cache: dict[tuple[str, str], int] = {}

    def of(self, key: tuple[str, str]) -> int:
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > 1_000_000:
                self._cache.clear()
            found = self._cache[key] = partition_of(key[0], key[1], self.partitions)
        return found

    def split(self, batch: LogBatch) -> SplitBatch:
        """Group a batch's records by partition (record order is kept within each), with
        a few vectorised passes rather than one per partition."""
        key_ids: dict[tuple[str, str], int] = {}
        codes = np.fromiter(
            (
                key_ids.setdefault(key, len(key_ids))
                for key in zip(batch.projects, batch.services, strict=True)
            ),
            np.intp,
            batch.size,
        )
        keys = list(key_ids)
        key_partition = np.fromiter(map(self.of, keys), np.intp, len(keys))
        key_order = np.argsort(key_partition, kind="stable")
        key_counts = np.bincount(key_partition, minlength=self.partitions)
        key_starts = np.cumsum(key_counts) - key_counts
        local = np.empty(len(keys), np.intp)
        local[key_order] = np.arange(len(keys)) - key_starts[key_partition[key_order]]
        record_partition = key_partition[codes]
        order = np.argsort(record_partition, kind="stable")
        counts = np.bincount(record_partition, minlength=self.partitions)
        stops = np.cumsum(counts)
        parts = [
            PartitionSlice(
                partition=partition,
                keys=[keys[i] for i in key_order[key_starts[partition] :][
                    : key_counts[partition]].tolist()],
                start=int(stops[partition] - counts[partition]),
                stop=int(stops[partition]),
            )
            for partition in np.flatnonzero(counts).tolist()
        ]  # fmt: skip
        return SplitBatch(
            parts=parts,
            rows=order,
            key_index=local[codes[order]].astype(np.uint32),
            timestamps=batch.timestamps[order],
            is_error=batch.is_error[order],
            durations=batch.durations[order],
        )
