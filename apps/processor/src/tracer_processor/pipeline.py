"""The detection path, end to end: decoded batch -> buckets -> detector -> alert sink.

Everything here is synchronous and runs on the event loop between requests: a batch is
folded into the buckets, every bucket that closes is scored at once for all its services,
and decisions go to the sink (the buffered writer), which never waits on the database.
`tick()` is the clock: it closes the buckets of services silent for the silence period, flushes
idle replays, and forgets services idle for longer than the TTL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_client import Counter

from tracer_core.clock import Clock
from tracer_core.models import Alert, AlertStatus
from tracer_processor.alerts.reports import AlertSink
from tracer_processor.buckets.aggregator import BucketAggregator, BucketConfig, ClosedBuckets
from tracer_processor.buckets.registry import ServiceRegistry
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.detection.detector import BucketInput, Detector
from tracer_processor.detection.lifecycle import ALERT_TYPES
from tracer_processor.ingest.batch import LogBatch, RecordError
from tracer_processor.metrics import ProcessorMetrics
from tracer_processor.rollups.accumulator import RollupAccumulator

log = logging.getLogger(__name__)
_EVICTION_INTERVAL = 60.0


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    accepted: int
    rejected: int
    late: int
    errors: list[RecordError] = field(default_factory=list)


class Pipeline:
    def __init__(
        self,
        *,
        buckets: BucketConfig,
        detector: DetectorConfig,
        sink: AlertSink,
        clock: Clock,
        metrics: ProcessorMetrics,
        max_services: int,
        max_services_per_project: int | None = None,
        max_services_per_key: int | None = None,
        service_idle_ttl: float = 86_400.0,
        rollups: RollupAccumulator | None = None,
    ) -> None:
        if buckets.bucket_seconds != detector.bucket_seconds:
            raise ValueError("buckets and detector disagree on bucket_seconds")
        self.registry = ServiceRegistry(
            max_services, max_services_per_project, max_services_per_key
        )
        self.detector = Detector(detector, self.registry.key)
        self.buckets = BucketAggregator(
            buckets, on_close=self._scored, on_skip=self.detector.skip_empty
        )
        self._sink = sink
        self._clock = clock
        self.metrics = metrics
        self._ttl = service_idle_ttl
        self._next_eviction = 0.0
        # Set to a list to record (wall, CPU) seconds of every bucket close (benchmarks).
        self.detection_seconds: list[tuple[float, float]] | None = None
        self._by_source: dict[str, tuple[Counter, Counter]] = {}
        self.rollups = rollups
        # Called with every closed bucket before it is scored (clustered mode's accounting).
        self.on_closed: Callable[[ClosedBuckets], None] | None = None

    # -- ingest -----------------------------------------------------------------------------

    def ingest(self, batch: LogBatch, *, source: str = "json") -> IngestOutcome:
        """Fold a decoded batch in (closing and scoring whatever buckets it completes)."""
        now = self._clock.now().timestamp()
        late = 0
        if batch.size:
            slots, created, refused = self.registry.lookup(
                batch.projects, batch.services, batch.sender
            )
            if refused:
                refused = self._make_room(batch, slots, created, refused)
            if refused:
                for row in refused:
                    batch.reject(
                        batch.index_of(row),
                        f"too many services: this processor tracks at most "
                        f"{self.registry.max_services}, {self.registry.max_per_project} "
                        f"per project, {self.registry.max_per_sender} per ingest key",
                    )
                keep = np.ones(batch.size, np.bool_)
                keep[refused] = False
                batch.keep(keep)
                slots = slots[keep]
            if created:
                self._grow()
            late = self.buckets.add(batch, slots, now)
        accepted = batch.size
        accepted_counter, rejected_counter = self._counters(source)
        accepted_counter.inc(accepted)
        if batch.rejected:
            rejected_counter.inc(batch.rejected)
        if late:
            self.metrics.late.inc(late)
        return IngestOutcome(accepted, batch.rejected, late, batch.errors)

    def _make_room(
        self, batch: LogBatch, slots: npt.NDArray[np.intp], created: list[int], refused: list[int]
    ) -> list[int]:
        """Give refused new services the slots of the least established ones (fewest scored
        buckets, then least recently heard from, never one with an open alert or warmed up),
        so junk services cannot crowd real ones out. Fills `slots` and `created` in place;
        returns the rows still refused."""
        if created:
            self._grow()  # the arrays must cover the slots just handed out
        in_use = np.zeros(self.buckets_capacity, np.bool_)
        taken = np.delete(slots, refused)
        in_use[taken[taken >= 0]] = True
        rows_by_key: dict[tuple[str, str], list[int]] = {}
        for row in refused:
            rows_by_key.setdefault((batch.projects[row], batch.services[row]), []).append(row)
        still: list[int] = []
        evicted = 0
        sender = batch.sender
        for key, rows in rows_by_key.items():
            own_quota = self.registry.sender_full(sender)
            victim = self._junk_victim(key[0], sender, in_use)
            if victim is None:
                still.extend(rows)
                continue
            self._forget(np.array([victim], np.intp))
            evicted += 1
            if own_quota:
                self.metrics.services_evicted_for_key.inc()
            slot = self.registry.add(key, sender)
            if slot < 0:
                still.extend(rows)
                continue
            created.append(slot)
            slots[rows] = slot
            in_use[slot] = True
        if evicted:
            self.metrics.services_evicted.inc(evicted)
            log.info("evicted %d barely seen services to admit new ones (quota reached)", evicted)
        return sorted(still)

    def _junk_victim(
        self, project: str, sender: str | None, in_use: npt.NDArray[np.bool_]
    ) -> int | None:
        """A key at its quota makes room among its own services only, so a leaked key's
        junk evicts its own junk, never another key's services."""
        if sender is not None and self.registry.sender_full(sender):
            candidates = self.registry.slots_of_sender(sender)
        elif self.registry.project_full(project):
            candidates = self.registry.slots_of(project)
        else:
            candidates = self.buckets.tracked()
        candidates = candidates[candidates < in_use.size]
        steps = self.detector.steps[candidates]
        eligible = (
            ~in_use[candidates]
            & (steps < self.detector.config.warmup_buckets)
            & ~self.detector.lifecycle.has_open(candidates)
        )
        candidates = candidates[eligible]
        if candidates.size == 0:
            return None
        order = np.lexsort((self.buckets.last_arrival[candidates], self.detector.steps[candidates]))
        return int(candidates[order[0]])

    def _forget(self, gone: npt.NDArray[np.intp]) -> None:
        for slot in gone.tolist():
            self.registry.remove(slot)
        self.buckets.reset(gone)
        self.detector.reset(gone)
        self.metrics.services.set(len(self.registry))

    def _counters(self, source: str) -> tuple[Counter, Counter]:
        """The labelled counters of one ingest format (looked up once, not per request)."""
        pair = self._by_source.get(source)
        if pair is None:
            pair = self._by_source[source] = (
                self.metrics.accepted.labels(source),
                self.metrics.rejected.labels(source),
            )
        return pair

    def _grow(self) -> None:
        needed = self.registry.high_water
        self.buckets.ensure_capacity(needed)
        self.detector.ensure_capacity(self.buckets_capacity)
        self.metrics.services.set(len(self.registry))

    @property
    def buckets_capacity(self) -> int:
        return int(self.buckets.started.size)

    def resume_open(self, alerts: list[Alert]) -> int:
        """Take over alerts left open (by an earlier run of this processor, or another
        replica), so that this processor resolves them once their metric is healthy again
        instead of leaving them open forever. Returns how many were taken over."""
        resumed = 0
        for alert in alerts:
            if alert.status is not AlertStatus.OPEN:
                continue
            slots, created, refused = self.registry.lookup([alert.project], [alert.service])
            if refused:
                continue
            if created:
                self._grow()
            self.detector.resume(int(slots[0]), alert.alert_type, alert.severity.rank)
            resumed += 1
        return resumed

    def restore(self, keys: Sequence[tuple[str, str]], state: dict[str, npt.NDArray[Any]]) -> int:
        """Give services the detector state of a checkpoint (at start, before any traffic):
        they are scored as if this processor had never stopped. `state` holds one row per
        key, as `Detector.export` gives it. Services already known, or beyond the service
        cap, keep what they have. Returns how many were restored."""
        if not keys:
            return 0
        slots, created, _ = self.registry.lookup([k[0] for k in keys], [k[1] for k in keys])
        if not created:
            return 0
        self._grow()
        fresh = np.isin(slots, np.asarray(created, np.intp))
        rows = np.flatnonzero(fresh)
        fresh_slots = slots[rows]
        self.detector.restore(fresh_slots, {name: a[rows] for name, a in state.items()})
        last_buckets = state["last"][rows, 0].astype(np.int64)
        self.buckets.resume(fresh_slots, last_buckets, self._clock.now().timestamp())
        return int(rows.size)

    # -- arrivals shared between replicas ---------------------------------------------------

    def arrivals_since(self, since: float) -> list[tuple[str, str, float]]:
        """(project, service, last arrival) of the services received since `since`
        (processor clock, epoch seconds): what this replica tells the others."""
        active = self.buckets.tracked()
        times = self.buckets.last_arrival[active]
        recent = times >= since
        key = self.registry.key
        return [
            (*key(slot), when)
            for slot, when in zip(active[recent].tolist(), times[recent].tolist(), strict=True)
        ]

    def quiet_services(self, quiet_for: float) -> list[tuple[str, str]]:
        """Services nothing has arrived from for `quiet_for` seconds: the ones whose arrivals
        at other replicas matter before the clock closes their buckets here."""
        now = self._clock.now().timestamp()
        active = self.buckets.tracked()
        quiet = now - self.buckets.last_arrival[active] >= quiet_for
        return [self.registry.key(slot) for slot in active[quiet].tolist()]

    def note_arrivals(self, arrivals: Sequence[tuple[str, str, float]]) -> None:
        """Arrivals other replicas saw: a service another replica still receives is not
        silent here (a stream that moved is not an outage). Unknown services are ignored."""
        slots: list[int] = []
        times: list[float] = []
        for project, service, when in arrivals:
            slot = self.registry.slot_of((project, service))
            if slot is not None:
                slots.append(slot)
                times.append(when)
        if slots:
            self.buckets.note_arrivals(np.asarray(slots, np.intp), np.asarray(times, np.float64))

    def forget(self, keys: Sequence[tuple[str, str]]) -> int:
        """Drop every trace of these services (a partition handed to another processor,
        which continues from their checkpoints). Returns how many were known."""
        known = dict(self.registry.items())
        slots = [slot for key in keys if (slot := known.get(key)) is not None]
        if not slots:
            return 0
        gone = np.array(slots, np.intp)
        for slot in slots:
            self.registry.remove(slot)
        self.buckets.reset(gone)
        self.detector.reset(gone)
        self.metrics.services.set(len(self.registry))
        return len(slots)

    # -- the clock --------------------------------------------------------------------------

    def tick(self) -> None:
        now = self._clock.now().timestamp()
        self.buckets.tick(now)
        if now >= self._next_eviction:
            self._next_eviction = now + _EVICTION_INTERVAL
            self._evict_idle(now)
        self.metrics.open_alerts.set(int(self.detector.lifecycle.open.sum()))

    def _evict_idle(self, now: float) -> None:
        active = self.buckets.tracked()
        if active.size == 0:
            return
        idle = now - self.buckets.last_arrival[active] >= self._ttl
        idle &= ~self.detector.lifecycle.has_open(active)
        gone = active[idle]
        if gone.size == 0:
            return
        self._forget(gone)
        log.info("forgot %d services idle for more than %.0f s", gone.size, self._ttl)

    # -- scoring ----------------------------------------------------------------------------

    def _scored(self, closed: ClosedBuckets) -> None:
        started, cpu_started = time.perf_counter(), time.thread_time()
        if self.on_closed is not None:
            self.on_closed(closed)
        result = self.detector.step(
            BucketInput(
                bucket=closed.bucket,
                slots=closed.slots,
                counts=closed.counts.astype(np.float64),
                errors=closed.errors.astype(np.float64),
                p95_ms=closed.p95_ms,
                latency_samples=closed.timed.astype(np.float64),
                partial=closed.first,
                samples=closed.samples,
            )
        )
        for item in result.items:
            self._sink.submit(item)
        if self.rollups is not None:
            self.rollups.observe(
                closed.bucket, closed.slots, closed.counts, closed.errors, closed.p95_ms,
                closed.timed, result.signals,
            )  # fmt: skip
        elapsed = time.perf_counter() - started
        self.metrics.buckets_closed.inc(int(closed.slots.size))
        self.metrics.detection_seconds.observe(elapsed)
        if self.detection_seconds is not None:
            self.detection_seconds.append((elapsed, time.thread_time() - cpu_started))

    # -- the services view ------------------------------------------------------------------

    def services(
        self,
        *,
        project: str | None = None,
        service: str | None = None,
        limit: int = 1000,
        after: tuple[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Current stats and baselines of each service (GET /api/services), in (project,
        service) order, starting after the key `after` (a page cursor)."""
        size = self.detector.config.bucket_seconds
        rows: list[dict[str, Any]] = []
        for (proj, name), slot in self.registry.items():
            if (project is not None and proj != project) or (
                service is not None and name != service
            ):
                continue
            if after is not None and (proj, name) <= after:
                continue
            if len(rows) >= limit:
                break
            rows.append(self.service_row(proj, name, slot, size))
        return rows

    def service_row(self, project: str, service: str, slot: int, size: int) -> dict[str, Any]:
        """One service's row of the services view (`size`: the bucket length)."""
        detector, buckets = self.detector, self.buckets
        index = np.array([slot], np.intp)
        bucket, count, errors, p95, timed = detector.last[slot].tolist()
        baselines: dict[str, Any] = {}
        scores = detector.last_scores(slot)
        for name, baseline in detector.baselines.items():
            mean, std, n = (float(a[0]) for a in baseline.stats(index))
            ewma = float(baseline.ewma[slot])
            if name == "latency_p95_ms" and n:
                mean, std, ewma = _exp(mean), _exp(mean) * (_exp(std) - 1), _exp(ewma)
            baselines[name] = {
                "mean": _round(mean),
                "std": _round(std),
                "buckets": int(n),
                "ewma": _round(ewma) if baseline.ewma_ready[slot] else None,
                "last_score": _round(scores[name]),
            }
        open_alerts = [
            {"alert_type": ALERT_TYPES[column].value, "severity": _SEVERITY[int(level)]}
            for column, level in enumerate(detector.lifecycle.severity[slot].tolist())
            if detector.lifecycle.open[slot, column]
        ]
        has_bucket = detector.steps[slot] > 0
        return {
            "project": project,
            "service": service,
            "live": bool(buckets.live[slot]),
            "last_event_at": _iso(float(buckets.max_ts[slot])),
            "buckets_scored": int(detector.steps[slot]),
            "last_bucket": {
                "start": _iso(bucket * size),
                "count": int(count),
                "errors": int(errors),
                "error_rate": _round(errors / count) if count else 0.0,
                "latency_p95_ms": _round(p95) if timed else None,
            }
            if has_bucket
            else None,
            "silent_seconds": int(detector.silent_for[slot]) * size,
            "baselines": baselines,
            "open_alerts": open_alerts,
        }


_SEVERITY = ("low", "medium", "high", "critical")


def _exp(value: float) -> float:
    return float(np.exp(min(max(value, -30.0), 30.0)))


def _round(value: float) -> float:
    return round(value, 6) if value == value and abs(value) != float("inf") else 0.0


def _iso(epoch_seconds: float) -> str | None:
    if epoch_seconds < 0:
        return None
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat()
