"""Per-service alert state: when an anomaly becomes an alert, is re-reported, and resolves.

Kept as arrays (slot x alert type) so one bucket's decisions for every service are a few
vectorised comparisons. An anomaly opens an alert once it has lasted `confirm_buckets`
(at once when already high or critical, and service_down counts its silence itself); an
open alert is re-reported when its severity rises and every `report_every` anomalous
buckets; it resolves after `resolve_buckets` healthy buckets in a row. The store, not this
state, decides what is new across replicas: this only decides what to tell it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tracer_core.models import AlertType
from tracer_processor.buckets.registry import Rows
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.detection.scoring import HIGH, Verdict

ALERT_TYPES: tuple[AlertType, ...] = tuple(AlertType)
TYPE_INDEX = {alert_type: index for index, alert_type in enumerate(ALERT_TYPES)}
SlotArray = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class Transitions:
    """Positions (into the scored slots) that must be reported or recovered, per type, and
    the state rows of the scored slots (columns in `ALERT_TYPES` order)."""

    report: dict[AlertType, npt.NDArray[np.intp]]
    recover: dict[AlertType, npt.NDArray[np.intp]]
    incident_start: npt.NDArray[np.int64]  # first anomalous bucket of the current run
    anomalous_for: npt.NDArray[np.int64]
    healthy_for: npt.NDArray[np.int64]


class AlertLifecycle:
    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        types = len(ALERT_TYPES)
        self.open = np.zeros((0, types), np.bool_)
        self.severity = np.zeros((0, types), np.int8)  # highest reported while open
        self._anomalous = np.zeros((0, types), np.int64)
        self._healthy = np.zeros((0, types), np.int64)
        self._start = np.zeros((0, types), np.int64)
        self._since_report = np.zeros((0, types), np.int64)

    def ensure_capacity(self, capacity: int) -> None:
        grow = capacity - self.open.shape[0]
        if grow <= 0:
            return
        types = len(ALERT_TYPES)

        def pad(array: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
            return np.concatenate([array, np.zeros((grow, types), array.dtype)])

        self.open = pad(self.open)  # type: ignore[assignment]
        self.severity = pad(self.severity)  # type: ignore[assignment]
        self._anomalous = pad(self._anomalous)  # type: ignore[assignment]
        self._healthy = pad(self._healthy)  # type: ignore[assignment]
        self._start = pad(self._start)  # type: ignore[assignment]
        self._since_report = pad(self._since_report)  # type: ignore[assignment]

    def reset(self, slots: SlotArray) -> None:
        for array in self._state().values():
            array[slots] = 0

    def _state(self) -> dict[str, npt.NDArray[np.generic]]:
        """Every per-service array, by name (slot x alert type)."""
        return {
            "open": self.open,
            "severity": self.severity,
            "anomalous": self._anomalous,
            "healthy": self._healthy,
            "start": self._start,
            "since_report": self._since_report,
        }

    def export(self, slots: SlotArray) -> dict[str, npt.NDArray[np.generic]]:
        """Copies of the alert state of `slots` (for checkpoints)."""
        return {name: array[slots] for name, array in self._state().items()}

    def restore(self, slots: SlotArray, state: dict[str, npt.NDArray[np.generic]]) -> None:
        for name, array in self._state().items():
            array[slots] = state[name]

    def has_open(self, slots: SlotArray) -> npt.NDArray[np.bool_]:
        return np.asarray(self.open[slots].any(axis=1), np.bool_)

    def step(self, bucket: int, rows: Rows, verdicts: dict[AlertType, Verdict]) -> Transitions:
        config = self.config
        # Rows read once (views when `rows` is a slice), columns worked on, rows written back.
        is_open_rows, severity_rows = self.open[rows], self.severity[rows]
        anomalous_rows, healthy_rows = self._anomalous[rows], self._healthy[rows]
        start_rows, since_rows = self._start[rows], self._since_report[rows]
        report: dict[AlertType, npt.NDArray[np.intp]] = {}
        recover: dict[AlertType, npt.NDArray[np.intp]] = {}
        for alert_type, verdict in verdicts.items():
            column = TYPE_INDEX[alert_type]
            anomalous = verdict.anomalous
            healthy = verdict.healthy & ~anomalous
            streak = np.where(anomalous, anomalous_rows[:, column] + 1, 0)
            calm = healthy_rows[:, column]
            calm = np.where(healthy, calm + 1, np.where(anomalous, 0, calm))
            is_open = is_open_rows[:, column]
            confirm = 1 if alert_type is AlertType.SERVICE_DOWN else config.confirm_buckets
            opens = ~is_open & anomalous & ((streak >= confirm) | (verdict.severity >= HIGH))
            ongoing = is_open & anomalous
            since = np.where(ongoing, since_rows[:, column] + 1, 0)
            reported = severity_rows[:, column]
            escalates = ongoing & (verdict.severity > reported)
            due = opens | escalates | (ongoing & (since >= config.report_every))
            resolves = is_open & ~anomalous & (calm >= config.resolve_buckets)

            anomalous_rows[:, column] = streak
            healthy_rows[:, column] = calm
            start_rows[:, column] = np.where(
                anomalous & (streak == 1), bucket, start_rows[:, column]
            )
            since_rows[:, column] = np.where(due, 0, since)
            is_open_rows[:, column] = (is_open | opens) & ~resolves
            severity_rows[:, column] = np.where(
                opens | escalates, verdict.severity, np.where(resolves, 0, reported)
            )
            report[alert_type] = np.flatnonzero(due)
            recover[alert_type] = np.flatnonzero(resolves)
        self.open[rows], self.severity[rows] = is_open_rows, severity_rows
        self._anomalous[rows], self._healthy[rows] = anomalous_rows, healthy_rows
        self._start[rows], self._since_report[rows] = start_rows, since_rows
        return Transitions(report, recover, start_rows, anomalous_rows, healthy_rows)
