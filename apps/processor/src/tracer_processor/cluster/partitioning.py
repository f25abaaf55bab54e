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
    """The records of one partition: distinct (project, service) keys and rows."""

    partition: int
    keys: list[tuple[str, str]]
    key_index: npt.NDArray[np.uint32]  # per record: position in `keys`
    rows: npt.NDArray[np.intp]  # per record: row in the batch


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

    def split(self, batch: LogBatch) -> list[PartitionSlice]:
        """Group a batch's records by partition (record order is kept within each)."""
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
        key_partition = np.array([self.of(key) for key in keys], np.intp)
        record_partition = key_partition[codes]
        slices: list[PartitionSlice] = []
        for partition in np.unique(key_partition).tolist():
            rows = np.flatnonzero(record_partition == partition)
            members = np.flatnonzero(key_partition == partition)
            local = np.full(len(keys), -1, np.int64)
            local[members] = np.arange(members.size)
            slices.append(
                PartitionSlice(
                    partition=partition,
                    keys=[keys[i] for i in members.tolist()],
                    key_index=local[codes[rows]].astype(np.uint32),
                    rows=rows,
                )
            )
        return slices
