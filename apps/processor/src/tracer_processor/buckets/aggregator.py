"""Per-service event-time buckets, the watermark, and when a bucket closes.

Each service has a small ring of open buckets (counts, errors, a latency histogram), all
services side by side in numpy arrays, so a batch of records is folded in with a few
vectorised operations. A bucket closes when the service's watermark passes its end:

* while records keep arriving, the watermark is event time: the newest timestamp seen for
  the service minus the allowed lateness, however far behind the clock that is, so a backlog
  or a replay closes buckets exactly as the live stream did and nothing in it is late;
* the clock closes buckets only for a service from which nothing has *arrived* for the
  silence period (`silence`; arrivals seen by other replicas count too, see
  `note_arrivals`): a live service (its newest event was within `live_horizon` of the clock)
  then closes on `now - lateness`, so the detector sees the silence; a replay that went idle
  closes every bucket before its newest record.

A record for a bucket that has already closed is late: counted, never folded in. Gaps
longer than the detector can remember are skipped in one step rather than bucket by bucket.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from tracer_processor.buckets.histogram import BINS, bin_index, quantile
from tracer_processor.buckets.registry import rows_of, take
from tracer_processor.buckets.templates import ErrorSamples
from tracer_processor.ingest.batch import LogBatch

IntArray = npt.NDArray[np.int64]
SlotArray = npt.NDArray[np.intp]
_NEVER = -1.0e18  # "no event yet", finite on purpose
_NOT_RESUMED = np.iinfo(np.int64).min // 4  # no bucket restored from a checkpoint


@dataclass(frozen=True, slots=True)
class ClosedBuckets:
    """Bucket `bucket` (event time [bucket * size, (bucket + 1) * size)) of several services."""

    bucket: int
    slots: SlotArray
    counts: IntArray
    errors: IntArray
    p95_ms: npt.NDArray[np.float64]  # 0.0 where no record had a duration
    timed: IntArray  # records with a duration
    first: npt.NDArray[np.bool_]  # the service's first bucket (likely partial)
    samples: dict[int, ErrorSamples] = field(default_factory=dict)  # slot -> error sample


@dataclass(frozen=True, slots=True)
class BucketConfig:
    bucket_seconds: int = 10
    allowed_lateness: float = 10.0
    max_future: float = 30.0
    live_horizon: float = 120.0
    silence: float = 45.0  # no arrival for this long: the clock closes the service's buckets
    skip_gap_after: int = 400  # empty buckets processed one by one before a gap is skipped

    @property
    def ring(self) -> int:
        """Open buckets a service can hold: lateness behind, max_future ahead, plus slack."""
        span = self.allowed_lateness + self.max_future
        return math.ceil(span / self.bucket_seconds) + 2


ClosedHandler = Callable[[ClosedBuckets], None]
SkipHandler = Callable[[SlotArray, IntArray], None]  # slots, empty buckets skipped


class BucketAggregator:
    def __init__(
        self, config: BucketConfig, *, on_close: ClosedHandler, on_skip: SkipHandler
    ) -> None:
        self.config = config
        self._on_close = on_close
        self._on_skip = on_skip
        self._k = config.ring
        self._capacity = 0
        self.started = np.zeros(0, np.bool_)
        self.live = np.zeros(0, np.bool_)
        self.open_base = np.zeros(0, np.int64)  # oldest open bucket = next to close
        self.first_bucket = np.zeros(0, np.int64)
        self.max_ts = np.zeros(0, np.float64)
        self.last_arrival = np.zeros(0, np.float64)  # processor clock
        # Last bucket a restored checkpoint already scored: the service's first records
        # after a restart never reopen it, so no bucket enters the baseline twice.
        self.resume_after = np.zeros(0, np.int64)
        # Open buckets: ring position first, so one bucket of all services is one block.
        self._counts = np.zeros((self._k, 0), np.int64)
        self._errors = np.zeros((self._k, 0), np.int64)
        self._hist = np.zeros((self._k, 0, BINS), np.uint32)
        self._samples: dict[int, dict[int, ErrorSamples]] = {}  # bucket -> slot -> sample

    # -- capacity and lifecycle -------------------------------------------------------------

    def ensure_capacity(self, needed: int) -> None:
        if needed <= self._capacity:
            return
        size = max(needed, self._capacity * 2, 64)
        grow = size - self._capacity

        def extend(array: npt.NDArray[Any], fill: float, axis: int = 0) -> npt.NDArray[Any]:
            shape = list(array.shape)
            shape[axis] = grow
            return np.concatenate([array, np.full(shape, fill, array.dtype)], axis=axis)

        self.started = extend(self.started, False)
        self.live = extend(self.live, False)
        self.open_base = extend(self.open_base, 0)
        self.first_bucket = extend(self.first_bucket, 0)
        self.max_ts = extend(self.max_ts, _NEVER)
        self.last_arrival = extend(self.last_arrival, _NEVER)
        self.resume_after = extend(self.resume_after, _NOT_RESUMED)
        self._counts = extend(self._counts, 0, axis=1)
        self._errors = extend(self._errors, 0, axis=1)
        self._hist = extend(self._hist, 0, axis=1)
        self._capacity = size

    def reset(self, slots: SlotArray) -> None:
        """Forget everything about `slots` (evicted services; their slots get reused)."""
        self.started[slots] = False
        self.live[slots] = False
        self.max_ts[slots] = _NEVER
        self.last_arrival[slots] = _NEVER
        self.resume_after[slots] = _NOT_RESUMED
        self._counts[:, slots] = 0
        self._errors[:, slots] = 0
        self._hist[:, slots] = 0
        gone = set(slots.tolist())
        for bucket in list(self._samples):
            by_slot = self._samples[bucket]
            for slot in gone.intersection(by_slot):
                del by_slot[slot]
            if not by_slot:
                del self._samples[bucket]

    def resume(self, slots: SlotArray, last_buckets: IntArray, now: float) -> None:
        """Services restored from a checkpoint: they continue after `last_buckets`, and count
        as arrived `now` (so one that never comes back is forgotten after the idle TTL)."""
        self.resume_after[slots] = last_buckets
        self.last_arrival[slots] = now

    def note_arrivals(self, slots: SlotArray, when: npt.NDArray[np.float64]) -> None:
        """Arrivals seen elsewhere (another replica received these services at `when`): a
        service that moved to another replica is not silent here."""
        known = self.started[slots] | (self.resume_after[slots] != _NOT_RESUMED)
        slots, when = slots[known], when[known]
        self.last_arrival[slots] = np.maximum(self.last_arrival[slots], when)

    def tracked(self) -> SlotArray:
        """Slots with state: started by records, or restored and waiting for them."""
        return np.flatnonzero(self.started | (self.resume_after != _NOT_RESUMED))

    # -- ingest -----------------------------------------------------------------------------

    def add(self, batch: LogBatch, slots: SlotArray, now: float) -> int:
        """Fold a batch in; returns how many records were late (dropped, counted)."""
        if batch.size == 0:
            return 0
        ts = batch.timestamps
        buckets = np.floor(ts / self.config.bucket_seconds).astype(np.int64)
        pairs = _Pairs.of(buckets, slots, self._capacity)
        newest = np.full(pairs.size, _NEVER)
        np.maximum.at(newest, pairs.inverse, ts)
        fresh = ~self.started[pairs.slot]
        if fresh.any():
            oldest = np.full(pairs.size, -_NEVER)
            np.minimum.at(oldest, pairs.inverse, ts)
            self._start_services(pairs.slot[fresh], oldest[fresh])
        if pairs.one_bucket:  # the live case: each service appears in one pair only
            touched, touched_newest = pairs.slot, newest
        else:
            touched = np.unique(pairs.slot)
            touched_newest = np.full(touched.size, _NEVER)
            np.maximum.at(touched_newest, np.searchsorted(touched, pairs.slot), newest)
        self.max_ts[touched] = np.maximum(self.max_ts[touched], touched_newest)
        self.last_arrival[touched] = now
        self.live[touched] |= self.max_ts[touched] >= now - self.config.live_horizon

        late_pair = pairs.bucket < self.open_base[pairs.slot]
        late = int(pairs.count[late_pair].sum())
        on_time = ~late_pair
        errors = np.bincount(pairs.inverse, weights=batch.is_error, minlength=pairs.size)
        timed = batch.durations >= 0
        hist = np.bincount(
            pairs.inverse[timed] * BINS + bin_index(batch.durations[timed]),
            minlength=pairs.size * BINS,
        ).reshape(pairs.size, BINS)
        if errors.any():
            failed = batch.is_error & on_time[pairs.inverse] if late else batch.is_error
            self._sample_errors(batch, slots, buckets, failed)
        kept = np.flatnonzero(on_time)
        first = self.first_bucket[pairs.slot[kept]]
        self.first_bucket[pairs.slot[kept]] = np.minimum(first, pairs.bucket[kept])
        self._fold(pairs, kept, errors.astype(np.int64), hist)
        self._close_until(touched, self._event_targets(touched))
        return late

    def _start_services(self, slots: SlotArray, oldest: npt.NDArray[np.float64]) -> None:
        """A service's first records: its watermark starts `lateness` before the oldest."""
        unique = np.unique(slots)
        first = np.full(unique.size, -_NEVER)
        np.minimum.at(first, np.searchsorted(unique, slots), oldest)
        size, lateness = self.config.bucket_seconds, self.config.allowed_lateness
        floor = self.resume_after[unique] + 1
        self.open_base[unique] = np.maximum(np.floor((first - lateness) / size), floor)
        self.first_bucket[unique] = np.maximum(np.floor(first / size), floor)
        self.started[unique] = True

    def _fold(
        self,
        pairs: _Pairs,
        pending: npt.NDArray[np.intp],
        errors: IntArray,
        hist: npt.NDArray[np.int64],
    ) -> None:
        """Add each (bucket, service) pair's totals to that service's ring of open buckets."""
        while pending.size:
            fits = pairs.bucket[pending] < self.open_base[pairs.slot[pending]] + self._k
            now_in = pending[fits]
            if now_in.size:
                rows = pairs.slot[now_in]
                positions = pairs.bucket[now_in] % self._k
                self._counts[positions, rows] += pairs.count[now_in]
                self._errors[positions, rows] += errors[now_in]
                self._hist[positions, rows] += hist[now_in].astype(np.uint32)
            pending = pending[~fits]
            if pending.size:
                # A batch reaching further ahead than the ring: close the oldest buckets of
                # those services first (pairs are in bucket order, so theirs are all folded).
                ahead, first_index = np.unique(pairs.slot[pending], return_index=True)
                targets = pairs.bucket[pending][first_index] - self._k + 1
                self._close_until(ahead, targets)

    def _sample_errors(
        self,
        batch: LogBatch,
        slots: SlotArray,
        buckets: IntArray,
        failed: npt.NDArray[np.bool_],
    ) -> None:
        messages = batch.messages
        samples = self._samples
        rows = np.flatnonzero(failed)
        for row, slot, bucket in zip(
            rows.tolist(), slots[rows].tolist(), buckets[rows].tolist(), strict=True
        ):
            by_slot = samples.get(bucket)
            if by_slot is None:
                by_slot = samples[bucket] = {}
            sample = by_slot.get(slot)
            if sample is None:
                sample = by_slot[slot] = ErrorSamples()
            elif sample.full:
                continue
            sample.add(messages[row])

    # -- closing ----------------------------------------------------------------------------

    def _event_targets(self, slots: SlotArray) -> IntArray:
        """First bucket that stays open for each slot under its event-time watermark."""
        mark = self.max_ts[slots] - self.config.allowed_lateness
        return np.floor(mark / self.config.bucket_seconds).astype(np.int64)

    def tick(self, now: float) -> None:
        """Clock-driven closing, only for services silent for the silence period: live ones
        close on the clock (the detector sees the silence), idle replays up to their newest
        record. Services still arriving are left to event time."""
        active = np.flatnonzero(self.started)
        if active.size == 0:
            return
        silent = now - self.last_arrival[active] >= self.config.silence
        if not silent.any():
            return
        active = active[silent]
        size = self.config.bucket_seconds
        clock = np.floor((now - self.config.allowed_lateness) / size)
        newest_bucket = np.floor(self.max_ts[active] / size)
        targets = np.where(self.live[active], clock, newest_bucket).astype(np.int64)
        self._close_until(active, targets)

    def _close_until(self, slots: SlotArray, targets: IntArray) -> None:
        """Close every open bucket before `targets[i]` for `slots[i]`, oldest first."""
        need = targets > self.open_base[slots]
        if not need.any():
            return
        slots, targets = slots[need], targets[need]
        gap = targets - self.open_base[slots]
        skip_after = self._k + self.config.skip_gap_after
        long_gap = gap > skip_after
        skipped_slots = slots[long_gap]
        skip_to = targets[long_gap]
        if skipped_slots.size:
            targets = targets.copy()
            targets[long_gap] = self.open_base[skipped_slots] + skip_after
        while slots.size:
            base = self.open_base[slots]
            bucket = int(base.min())
            self._emit(bucket, slots[base == bucket])
            open_ = self.open_base[slots] < targets
            if not open_.all():
                slots, targets = slots[open_], targets[open_]
        if skipped_slots.size:
            # Only empty buckets remain (the ring was drained above): skip them at once.
            self._on_skip(skipped_slots, skip_to - self.open_base[skipped_slots])
            self.open_base[skipped_slots] = skip_to

    def _emit(self, bucket: int, slots: SlotArray) -> None:
        position = bucket % self._k
        rows = rows_of(slots)
        counts = take(self._counts[position], rows)
        errors = take(self._errors[position], rows)
        p95, timed = quantile(self._hist[position, rows], 0.95)
        self._counts[position, rows] = 0
        self._errors[position, rows] = 0
        self._hist[position, rows] = 0
        self.open_base[rows] = bucket + 1
        samples: dict[int, ErrorSamples] = {}
        by_slot = self._samples.get(bucket)
        if by_slot:
            closing = np.zeros(self._capacity, np.bool_)
            closing[rows] = True
            if bool(closing[list(by_slot)].all()):  # the usual case: the bucket closes for all
                samples = self._samples.pop(bucket)
            else:
                samples = {slot: by_slot.pop(slot) for slot in list(by_slot) if closing[slot]}
                if not by_slot:
                    del self._samples[bucket]
        first_bucket = take(self.first_bucket, rows)
        scored = bucket >= first_bucket
        if not scored.all():  # before a service's first record: nothing to say yet
            slots, counts, errors = slots[scored], counts[scored], errors[scored]
            p95, timed, first_bucket = p95[scored], timed[scored], first_bucket[scored]
            if slots.size == 0:
                return
        self._on_close(
            ClosedBuckets(
                bucket=bucket,
                slots=slots,
                counts=counts,
                errors=errors,
                p95_ms=p95,
                timed=timed,
                first=first_bucket == bucket,
                samples=samples,
            )
        )


@dataclass(frozen=True, slots=True)
class _Pairs:
    """A batch grouped by (bucket, service): one entry per pair, in bucket order."""

    bucket: IntArray
    slot: SlotArray
    count: IntArray
    inverse: npt.NDArray[np.intp]  # each record's pair
    one_bucket: bool  # every record in the same bucket (slots are then unique and sorted)

    @property
    def size(self) -> int:
        return int(self.bucket.size)

    @staticmethod
    def of(buckets: IntArray, slots: SlotArray, capacity: int) -> _Pairs:
        lowest, highest = int(buckets.min()), int(buckets.max())
        keys = slots if lowest == highest else (buckets - lowest) * capacity + slots
        span = (highest - lowest + 1) * capacity
        if span <= 8 * keys.size:  # few buckets: counting beats sorting
            counts = np.bincount(keys, minlength=span)
            present = np.flatnonzero(counts)
            rank = np.cumsum(counts > 0) - 1
            inverse = rank[keys]
            unique, count = present, counts[present]
        else:
            unique, inverse, count = np.unique(keys, return_inverse=True, return_counts=True)
        return _Pairs(
            bucket=unique // capacity + lowest,
            slot=(unique % capacity).astype(np.intp, copy=False),
            count=count.astype(np.int64, copy=False),
            inverse=inverse.astype(np.intp, copy=False),
            one_bucket=lowest == highest,
        )
