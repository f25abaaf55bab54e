"""Drive one service through the detector bucket by bucket (the bucket number is the
clock), recording every candidate and every metric's score."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tests.processor.checks import all_finite
from tracer_core.models import AlertType
from tracer_processor.alerts.reports import AlertCandidate
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.detection.detector import BucketInput, Detector

START_BUCKET_SECONDS = 1_772_409_600  # 2026-03-02 00:00 UTC, a Monday


class Drive:
    def __init__(self, bucket_seconds: int = 10, **config: Any) -> None:
        self.config = DetectorConfig(bucket_seconds=bucket_seconds, **config)
        self.detector = Detector(self.config, lambda _slot: ("p", "svc"))
        self.detector.ensure_capacity(1)
        self.first_bucket = START_BUCKET_SECONDS // bucket_seconds
        self.start = float(START_BUCKET_SECONDS)
        self.candidates: list[AlertCandidate] = []
        self.buckets_of: list[int] = []
        self.recoveries: list[tuple[AlertType, int]] = []  # alert type, bucket offset
        self.scores: dict[str, list[float]] = {"error_rate": [], "latency_p95_ms": [], "count": []}
        self.numbers_finite = True
        self.done = 0

    def run(self, buckets: Iterable[tuple[float, float]], first: int | None = None) -> None:
        """Step `(count, errors)` buckets, from bucket offset `first` (default: next)."""
        offset = self.done if first is None else first
        for index, (count, errors) in enumerate(buckets):
            at = offset + index
            result = self.detector.step(
                BucketInput(
                    bucket=self.first_bucket + at,
                    slots=np.zeros(1, np.intp),
                    counts=np.array([count]),
                    errors=np.array([errors]),
                    p95_ms=np.array([50.0]),
                    latency_samples=np.array([count]),
                    partial=np.zeros(1, np.bool_),
                    samples={},
                )
            )
            for name, signals in result.signals.items():
                self.scores[name].append(float(signals.score[0]))
                for field in ("value", "mean", "std", "z", "ewma", "ewma_z", "score"):
                    self.numbers_finite &= bool(np.isfinite(getattr(signals, field)).all())
            for item in result.items:
                if isinstance(item, AlertCandidate):
                    self.candidates.append(item)
                    self.buckets_of.append(at)
                    self.numbers_finite &= all_finite(item.details)
                else:
                    self.recoveries.append((item.alert_type, at))
            self.done = at + 1

    def alerts(self, alert_type: AlertType | None = None) -> list[AlertCandidate]:
        return [c for c in self.candidates if alert_type in (None, c.alert_type)]

    def recovered_at(self, alert_type: AlertType) -> list[int]:
        """Bucket offsets at which an alert of this type resolved."""
        return [at for kind, at in self.recoveries if kind is alert_type]

    def first_alert_bucket(self, alert_type: AlertType) -> int:
        return next(b for c, b in zip(self.candidates, self.buckets_of, strict=True)
                    if c.alert_type is alert_type)  # fmt: skip

    def all_finite(self) -> bool:
        return self.numbers_finite
