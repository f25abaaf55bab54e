"""What a service's volume usually is at this time of day and of week.

One slot per hour of the day (24) and per hour of the week (168), each an exponentially
weighted mean and variance of the values seen in that hour, so memory per service is fixed
(192 slots x 3 float32). A slot learns as a plain average until it has seen
`season_memory_cycles` cycles' worth of buckets, then forgets old cycles at that pace. The
weekly slot is used once it has seen two weeks of its hour, otherwise the daily slot once it
has seen one day of its hour; before that the profile is not ready and the service is judged
on its recent past alone. Values that are far off the slot are clipped (at `SEASON_CLIP`
spreads) before they are learnt, and a slot that knows its hour learns only ordinary
buckets (below), so an incident does not move the profile however long it lasts.

The profile gives the shape of the rhythm; the level comes from the recent past. Each
service keeps an offset: an EWMA (over `adopt_buckets`) of how far the ordinary buckets lie
from the profile - those its recent baseline takes in as they are (outside any departure,
or adopted) at a level that could be normal (`MetricSignals.adoptable`). Zero while the
rhythm repeats, it follows a level shift that the recent baseline has taken in, so a
persisting shift stops counting as "unusual for this hour" at the pace the recent baseline
learns it, instead of days later. The slots learn each value less the offset, so they keep
the shape and the shift is counted once, in the offset.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from tracer_processor.detection.config import DetectorConfig

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
DAY_SLOTS, WEEK_SLOTS = 24, 168
SLOTS = DAY_SLOTS + WEEK_SLOTS
SEASON_CLIP = 2.5  # a slot learns fast (a dozen visits a day): clip tighter than the window
_THURSDAY = 72  # 1970-01-01 was a Thursday: shift so that slot 0 is Monday 00:00


def hour_slots(epoch_hours: IntArray) -> tuple[IntArray, IntArray]:
    """The daily and weekly slot indices (into the profile) of these hours since 1970."""
    daily = epoch_hours % DAY_SLOTS
    weekly = DAY_SLOTS + (epoch_hours + _THURSDAY) % WEEK_SLOTS
    return daily, weekly


class SeasonalProfile:
    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.per_hour = max(1.0, 3600.0 / config.bucket_seconds)  # buckets in one slot visit
        self.min_alpha = 1.0 / (config.season_memory_cycles * self.per_hour)
        self.memory = 2.0 / self.min_alpha - 1.0  # buckets a slot's estimates rest on, at most
        self.seen = np.zeros((SLOTS, 0), np.float32)
        self.mean = np.zeros((SLOTS, 0), np.float32)
        self.var = np.zeros((SLOTS, 0), np.float32)
        self.offset = np.zeros(0, np.float64)  # the level now, relative to the profile

    def ensure_capacity(self, capacity: int) -> None:
        grow = capacity - self.seen.shape[1]
        if grow > 0:
            pad = np.zeros((SLOTS, grow), np.float32)
            self.seen = np.concatenate([self.seen, pad], axis=1)
            self.mean = np.concatenate([self.mean, pad], axis=1)
            self.var = np.concatenate([self.var, pad], axis=1)
            self.offset = np.concatenate([self.offset, np.zeros(grow)])

    def _state(self) -> dict[str, npt.NDArray[Any]]:
        return {"seen": self.seen, "mean": self.mean, "var": self.var}

    def reset(self, slots: npt.NDArray[np.intp]) -> None:
        for array in self._state().values():
            array[:, slots] = 0
        self.offset[slots] = 0

    def export(self, slots: npt.NDArray[np.intp]) -> dict[str, npt.NDArray[Any]]:
        state = {name: array[:, slots].T.copy() for name, array in self._state().items()}
        return {**state, "offset": self.offset[slots]}

    def restore(self, slots: npt.NDArray[np.intp], state: dict[str, npt.NDArray[Any]]) -> None:
        for name, array in self._state().items():
            array[:, slots] = state[name].T
        self.offset[slots] = state["offset"]

    def expect(
        self, slots: npt.NDArray[np.intp], epoch_hours: IntArray
    ) -> tuple[FloatArray, FloatArray, BoolArray]:
        """Usual mean (at the current level) and variance at this hour, and whether the
        profile knows this hour.

        The variance is the slot's estimate taken one standard error wider (a spread
        estimated from n buckets is uncertain by about 1 / sqrt(2n) of itself): the
        deviation is judged in the tighter of this spread and the recent one, and a slot
        that has seen its hour once - a dozen 5-minute buckets of one day, correlated -
        would often win that choice with a spread that is low by chance."""
        daily, weekly = hour_slots(epoch_hours)
        week_seen = self.seen[weekly, slots].astype(np.float64)
        day_seen = self.seen[daily, slots].astype(np.float64)
        week_ready = week_seen >= 2 * self.per_hour
        use = np.where(week_ready, weekly, daily)
        mean = self.mean[use, slots].astype(np.float64)
        var = self.var[use, slots].astype(np.float64)
        points = np.minimum(np.where(week_ready, week_seen, day_seen), self.memory)
        wider = 1.0 / (1.0 - np.sqrt(0.5 / np.maximum(points, 2.0)))
        known = week_ready | (day_seen >= self.per_hour)
        return mean + self.offset[slots], var * wider * wider, known

    def learn(
        self,
        slots: npt.NDArray[np.intp],
        epoch_hours: IntArray,
        values: FloatArray,
        observed: BoolArray,
        ordinary: BoolArray,
    ) -> None:
        """Fold this bucket's values in, clipped to `SEASON_CLIP` spreads around each slot;
        `ordinary`: the recent baseline took the value in as it is (outside any departure,
        or adopted) at a level that could be normal. The offset follows only those, and a
        slot that knows its hour learns only those: an incident lasting hours, learnt
        clipped bucket after bucket, would drag the usual hour down to meet it."""
        if not observed.any():
            return
        slots, epoch_hours = slots[observed], epoch_hours[observed]
        ordinary = ordinary[observed]
        values = np.clip(values[observed], -1.0e15, 1.0e15)  # float32 storage
        offset = self.offset[slots]
        # The slots learn the rhythm at the profile's own level: the value less the offset.
        # Learning the raw value would count a shift twice - in the offset at once, and in
        # each slot as it catches up, unevenly from one hour to the next - and the offset
        # would have to unwind it again, lagging behind the level all along.
        shaped = values - offset
        clip = SEASON_CLIP
        before: list[tuple[FloatArray, FloatArray]] = []  # daily, weekly: seen and mean
        for index in hour_slots(epoch_hours):
            seen = self.seen[index, slots].astype(np.float64)
            mean = self.mean[index, slots].astype(np.float64)
            before.append((seen, mean))
            var = self.var[index, slots].astype(np.float64)
            known = seen >= self.per_hour
            band = clip * np.maximum(np.sqrt(var), noise_floor(self.config, mean + offset))
            x = np.where(known, np.clip(shaped, mean - band, mean + band), shaped)
            alpha = np.maximum(1.0 / (seen + 1.0), self.min_alpha)
            alpha = np.where(known & ~ordinary, 0.0, alpha)
            delta = x - mean
            self.mean[index, slots] = mean + alpha * delta
            # The mean learns the clipped value; the spread only from values within the band,
            # so an incident cannot widen the usual hour.
            widened = np.minimum((1 - alpha) * (var + alpha * delta * delta), 1e30)
            self.var[index, slots] = np.where(x == shaped, widened, var)
            self.seen[index, slots] = np.where(alpha > 0, np.minimum(seen + 1.0, 1.0e6), seen)
        (day_seen, day_mean), (week_seen, week_mean) = before
        week_ready = week_seen >= 2 * self.per_hour  # as `expect` chose the slot
        usual = np.where(week_ready, week_mean, day_mean)
        follow = ordinary & (week_ready | (day_seen >= self.per_hour))
        pace = 1.0 / max(self.config.adopt_buckets, 1)
        self.offset[slots] = np.where(follow, offset + pace * (values - usual - offset), offset)


def noise_floor(config: DetectorConfig, mean: FloatArray) -> FloatArray:
    """The least spread a value can have around `mean`: Poisson noise for counts, a tiny
    share of the level for any other metric (so a flat series never divides by zero; the
    scorer adds the series' own least step, `values.ValueScale`)."""
    if config.generic_values:
        return config.value_relative_floor * np.abs(mean) + 1.0e-290
    return np.sqrt(np.maximum(mean, 1.0))
