"""`GET /api/services` where no detector state is held: a clustered receiver.

The partitions' owners write each service's detector state to `baseline_checkpoints`; a
receiver reads a page of those rows, restores them into a throwaway pipeline built with
the same configuration, and answers with the rows that pipeline gives - the same shape as
a processor's live view, as of each service's last checkpoint (`as_of`), never `live`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry

from tracer_core.clock import Clock
from tracer_processor.alerts.reports import AlertCandidate, Recovery
from tracer_processor.buckets.aggregator import BucketConfig
from tracer_processor.checkpoints.codec import CheckpointCodec
from tracer_processor.checkpoints.store import CheckpointStore
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.metrics import ProcessorMetrics
from tracer_processor.pipeline import Pipeline


class _NoAlerts:
    """Nothing is folded into the view's pipeline, so it never decides anything."""

    def submit(self, item: AlertCandidate | Recovery) -> None:
        raise AssertionError("the checkpoint view decided an alert")


class CheckpointView:
    def __init__(
        self,
        store: CheckpointStore,
        *,
        buckets: BucketConfig,
        detector: DetectorConfig,
        clock: Clock,
    ) -> None:
        self._store = store
        self._buckets = buckets
        self._detector = detector
        self._clock = clock
        self._metrics = ProcessorMetrics(CollectorRegistry())  # the view's counts are no one's

    async def page(
        self,
        *,
        project: str | None,
        service: str | None,
        limit: int,
        after: tuple[str, str] | None,
    ) -> tuple[list[dict[str, Any]], tuple[str, str] | None]:
        """A page of services as of their checkpoints, and the key the next page starts
        after (None on the last page). A checkpoint this version cannot read is left out."""
        saved = await self._store.page(project=project, service=service, after=after, limit=limit)
        pipeline = Pipeline(
            buckets=self._buckets,
            detector=self._detector,
            sink=_NoAlerts(),
            clock=self._clock,
            metrics=self._metrics,
            max_services=max(len(saved), 1),
        )
        codec = CheckpointCodec(pipeline.detector)
        records, kept, _ = codec.decode([s.checkpoint.state for s in saved])
        keys = [(saved[i].checkpoint.project, saved[i].checkpoint.service) for i in kept]
        pipeline.restore(keys, {name: records[name] for name in codec.dtype.names or ()})
        as_of: dict[tuple[str, str], datetime] = {
            (s.checkpoint.project, s.checkpoint.service): s.saved_at for s in saved
        }
        size = self._detector.bucket_seconds
        rows: list[dict[str, Any]] = []
        for key, slot in pipeline.registry.items():
            row = pipeline.service_row(key[0], key[1], slot, size)
            row["live"] = False  # a receiver cannot tell: the owner's view is the live one
            row["as_of"] = as_of[key].isoformat()
            rows.append(row)
        last = saved[-1].checkpoint if len(saved) == limit else None
        return rows, (last.project, last.service) if last is not None else None
