"""What a processor has folded in, per owned partition, and where a successor resumes.

For each partition: the next stream sequence to fold, the records folded into scored
buckets, and the messages that still feed open buckets. The resume point written with a
checkpoint is the oldest message still feeding an open bucket: every message before it is
entirely inside scored buckets (saved with the checkpoint) or was late, so a successor that
restores the checkpoint and replays from there folds every record exactly once - replayed
records of buckets the checkpoint already scored are late for it (the aggregator never
reopens a restored bucket), the rest land in the same buckets as before.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tracer_processor.buckets.aggregator import ClosedBuckets


@dataclass(slots=True)
class _Fed:
    seq: int
    slots: npt.NDArray[np.intp]
    newest_bucket: npt.NDArray[np.int64]  # per slot: the newest bucket the message fed


@dataclass(slots=True)
class PartitionState:
    partition: int
    token: int
    next_seq: int  # first stream sequence not folded in yet
    keys: set[tuple[str, str]] = field(default_factory=set)
    feeding: deque[_Fed] = field(default_factory=deque)
    last_accepted_at: float = 0.0

    def record(
        self, seq: int, slots: npt.NDArray[np.intp], newest_bucket: npt.NDArray[np.int64]
    ) -> None:
        """Messages from `seq` on (up to `next_seq`) fed these slots' buckets up to these."""
        self.feeding.append(_Fed(seq, slots, newest_bucket))

    def resume_seq(self, open_base: npt.NDArray[np.int64]) -> int:
        """The oldest message still feeding an open bucket (or the next one to fold)."""
        feeding = self.feeding
        while feeding:
            head = feeding[0]
            if not bool((open_base[head.slots] > head.newest_bucket).all()):
                return head.seq
            feeding.popleft()
        return self.next_seq


class Ledger:
    """The partitions this processor owns, and the records folded per partition."""

    def __init__(self, partitions: int) -> None:
        self.owned: dict[int, PartitionState] = {}
        self.folded = np.zeros(partitions, np.int64)  # records in scored buckets
        self._slot_partition = np.full(0, -1, np.int64)
        # While a batch is folded in, its services may be new (no partition bound yet):
        # buckets closed meanwhile are kept here and counted once the batch is bound.
        self._deferred: list[tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]] | None = None

    def bind(self, slots: npt.NDArray[np.intp], partition: int) -> None:
        if slots.size == 0:
            return
        needed = int(slots.max()) + 1
        if needed > self._slot_partition.size:
            grown = np.full(max(needed, self._slot_partition.size * 2, 64), -1, np.int64)
            grown[: self._slot_partition.size] = self._slot_partition
            self._slot_partition = grown
        self._slot_partition[slots] = partition

    def unbind(self, slots: npt.NDArray[np.intp]) -> None:
        self._slot_partition[slots[slots < self._slot_partition.size]] = -1

    def on_closed(self, closed: ClosedBuckets) -> None:
        """Count the records of every scored bucket against its partition."""
        if self._deferred is not None:
            self._deferred.append((closed.slots.copy(), closed.counts.copy()))
        else:
            self._count(closed.slots, closed.counts)

    def defer(self) -> None:
        self._deferred = []

    def settle(self) -> None:
        """Count the buckets closed since `defer` (their services are bound by now)."""
        deferred, self._deferred = self._deferred or [], None
        for slots, counts in deferred:
            self._count(slots, counts)

    def _count(self, slots: npt.NDArray[np.intp], counts: npt.NDArray[np.int64]) -> None:
        inside = slots < self._slot_partition.size
        partitions = self._slot_partition[slots[inside]]
        bound = partitions >= 0
        np.add.at(self.folded, partitions[bound], counts[inside][bound])
