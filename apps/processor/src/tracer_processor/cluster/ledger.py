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
        self.next_seq = seq + 1
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
        # The partition of the message being folded: every bucket closed meanwhile is its.
        self.current: int | None = None

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
        if self.current is not None:
            self.folded[self.current] += int(closed.counts.sum())
            return
        slots = closed.slots[closed.slots < self._slot_partition.size]
        if slots.size == 0:
            return
        partitions = self._slot_partition[slots]
        bound = partitions >= 0
        counts = closed.counts[closed.slots < self._slot_partition.size]
        np.add.at(self.folded, partitions[bound], counts[bound])
