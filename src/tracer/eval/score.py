"""Score the detector's decisions against labelled incident windows.

Decisions become alarms as an operator would see them: a run of flagged points (gaps of up
to `MERGE_GAP` points merged) is one alarm. A run that starts while the product's alert
lifecycle (`detection.lifecycle`, run by the backtest) still holds an alert of the series
open continues that alarm: the product tells the store nothing new then. An alarm that
starts inside an incident window, or within `GRACE` points after it, belongs to that
incident; any other alarm after the learning day is a false alarm. Each window detected
earns up to 1 point - the full point when detected at once, half when detected only at the
end of its window and grace - and each false alarm costs `FALSE_ALARM_COST`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tracer.eval.corpus import DAY_POINTS, LEARNING_POINTS, STEP

GRACE = 12  # points (an hour) after a window during which an alarm still counts for it
MERGE_GAP = 6  # flagged points this close are one alarm
FALSE_ALARM_COST = 0.5


@dataclass
class FamilyScore:
    series: int = 0
    windows: int = 0
    detected: int = 0
    true_alarms: int = 0
    false_alarms: int = 0
    reward: float = 0.0
    weeks: float = 0.0
    delays: list[float] = field(default_factory=list)  # minutes

    def add(self, other: FamilyScore) -> None:
        self.series += other.series
        self.windows += other.windows
        self.detected += other.detected
        self.true_alarms += other.true_alarms
        self.false_alarms += other.false_alarms
        self.reward += other.reward
        self.weeks += other.weeks
        self.delays.extend(other.delays)

    @property
    def recall(self) -> float:
        return self.detected / self.windows if self.windows else 1.0

    @property
    def precision(self) -> float:
        alarms = self.true_alarms + self.false_alarms
        return self.true_alarms / alarms if alarms else 1.0

    @property
    def false_per_week(self) -> float:
        return self.false_alarms / self.weeks if self.weeks else 0.0

    @property
    def median_delay(self) -> float:
        return float(np.median(self.delays)) if self.delays else 0.0

    @property
    def score(self) -> float:
        """100 for every window detected at once and no false alarm; can go negative."""
        return 100.0 * (self.reward - FALSE_ALARM_COST * self.false_alarms) / max(self.windows, 1)


def alarms(
    flags: npt.NDArray[np.int8], alert_open: npt.NDArray[np.int8] | None = None
) -> list[int]:
    """Start points of the alarms in a series' flags; with `alert_open` (per point, an
    alert open after it), a run starting while an alert is open continues that alarm."""
    flagged = np.flatnonzero(flags)
    if flagged.size == 0:
        return []
    starts = flagged[np.r_[True, np.diff(flagged) > MERGE_GAP + 1]]
    if alert_open is not None:
        starts = starts[(starts == 0) | (alert_open[np.maximum(starts - 1, 0)] == 0)]
    return [int(s) for s in starts.tolist()]


def score_one(
    flags: npt.NDArray[np.int8],
    windows: list[tuple[int, int]],
    alert_open: npt.NDArray[np.int8] | None = None,
) -> FamilyScore:
    points = flags.size
    result = FamilyScore(series=1, windows=len(windows),
                         weeks=(points - LEARNING_POINTS) / (7 * DAY_POINTS))  # fmt: skip
    for start, end in windows:
        hits = np.flatnonzero(flags[start : end + GRACE])
        if hits.size:
            result.detected += 1
            delay = int(hits[0])
            result.delays.append(delay * STEP / 60.0)
            result.reward += 1.0 - 0.5 * min(delay / (end - start + GRACE), 1.0)
    for begin in alarms(flags, alert_open):
        if begin < LEARNING_POINTS:
            continue
        if any(start <= begin < end + GRACE for start, end in windows):
            result.true_alarms += 1
        else:
            result.false_alarms += 1
    return result
