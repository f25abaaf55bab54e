"""Collects scored buckets on the hot path and folds them into minute rows on demand.

`observe` only keeps references to arrays the detector already produced, so detection pays
for one list append per bucket close. `drain` (called by the writer, between requests) sorts
and reduces everything collected by (service, minute) with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from tracer_processor.detection.scoring import MetricSignals

_PART_FIELDS = 13


@dataclass(frozen=True, slots=True)
class RollupRow:
    """One service's minute: totals, the highest bucket p95 and score, the latest baselines."""

    project: str
    service: str
    minute: datetime
    count: int
    errors: int
    p95_ms: float | None
    baselines: dict[str, tuple[float | None, float | None]]  # metric -> (mean, std)
    score: float
    anomalous: bool


_METRICS = ("error_rate", "count", "latency_p95_ms")


class RollupAccumulator:
    def __init__(self, *, bucket_seconds: int, max_parts: int = 100_000) -> None:
        self._bucket_seconds = bucket_seconds
        self._max_parts = max_parts
        self._parts: list[tuple[Any, ...]] = []
        self.dropped = 0

    def observe(
        self,
        bucket: int,
        slots: npt.NDArray[np.intp],
        counts: npt.NDArray[Any],
        errors: npt.NDArray[Any],
        p95_ms: npt.NDArray[Any],
        timed: npt.NDArray[Any],
        signals: dict[str, MetricSignals],
    ) -> None:
        if len(self._parts) >= self._max_parts:  # the database is away: keep memory bounded
            self.dropped += 1
            return
        minute = bucket * self._bucket_seconds // 60
        stats = [(signals[m].mean, signals[m].std, signals[m].warm) for m in _METRICS]
        score = np.maximum.reduce([signals[m].score for m in _METRICS])
        anomalous = np.logical_or.reduce(
            [signals[m].outlier & signals[m].observed for m in _METRICS]
        )
        self._parts.append((minute, slots, counts, errors, p95_ms, timed, stats, score, anomalous))

    def __len__(self) -> int:
        return len(self._parts)

    def drain(self, names: Any) -> list[RollupRow]:
        """Minute rows of everything observed since the last drain; `names(slot)` gives a
        slot's (project, service) or None when the service was forgotten meanwhile."""
        parts, self._parts = self._parts, []
        if not parts:
            return []
        slots = np.concatenate([p[1] for p in parts]).astype(np.int64)
        minutes = np.concatenate([np.full(p[1].size, p[0], np.int64) for p in parts])
        counts = np.concatenate([p[2] for p in parts]).astype(np.float64)
        errors = np.concatenate([p[3] for p in parts]).astype(np.float64)
        timed = np.concatenate([p[5] for p in parts]) > 0
        p95 = np.where(timed, np.concatenate([p[4] for p in parts]), np.nan)
        score = np.concatenate([p[7] for p in parts])
        anomalous = np.concatenate([p[8] for p in parts])
        stats = [
            tuple(np.concatenate([p[6][i][j] for p in parts]) for j in range(3))
            for i in range(len(_METRICS))
        ]
        order = np.lexsort((np.arange(slots.size), minutes, slots))  # stable: last = newest
        slots, minutes = slots[order], minutes[order]
        change = np.flatnonzero((np.diff(slots) != 0) | (np.diff(minutes) != 0)) + 1
        starts = np.concatenate([[0], change])
        lasts = np.concatenate([change - 1, [slots.size - 1]])
        sums_c = np.add.reduceat(counts[order], starts)
        sums_e = np.add.reduceat(errors[order], starts)
        top_p95 = np.fmax.reduceat(p95[order], starts)
        top_score = np.fmax.reduceat(score[order], starts)
        any_anomalous = np.logical_or.reduceat(anomalous[order], starts)
        rows: list[RollupRow] = []
        for g, first in enumerate(starts.tolist()):
            key = names(int(slots[first]))
            if key is None:
                continue
            last = int(order[lasts[g]])
            baselines = {
                metric: _baseline(mean[last], std[last], warm[last])
                for metric, (mean, std, warm) in zip(_METRICS, stats, strict=True)
            }
            rows.append(
                RollupRow(
                    project=key[0],
                    service=key[1],
                    minute=datetime.fromtimestamp(int(minutes[first]) * 60, UTC),
                    count=int(sums_c[g]),
                    errors=int(sums_e[g]),
                    p95_ms=None if np.isnan(top_p95[g]) else float(top_p95[g]),
                    baselines=baselines,
                    score=float(np.nan_to_num(top_score[g])),
                    anomalous=bool(any_anomalous[g]),
                )
            )
        return rows


def _baseline(mean: float, std: float, warm: bool) -> tuple[float | None, float | None]:
    if not warm or not np.isfinite(mean):
        return (None, None)
    return (float(mean), float(std) if np.isfinite(std) else None)
