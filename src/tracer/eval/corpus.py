"""A seeded corpus of labelled series shaped like production metrics.

Each family is one way real series behave (daily and weekly rhythms, heavy-tailed bursts,
low volume, level shifts, slow drifts, dropouts, error-rate incidents of many sizes), with
the incident windows a person would call incidents. Every series starts with a day the
detector may learn from (no incident, false alarms not counted) and runs `days` in all, in
5-minute points. The same seed always gives the same corpus.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tracer_processor.detection.backtest import Kind

FloatArray = npt.NDArray[np.float64]
STEP = 300.0  # seconds between points
START = 1_772_409_600.0  # 2026-03-02 00:00 UTC, a Monday
DAY_POINTS = int(86_400 / STEP)
LEARNING_POINTS = DAY_POINTS  # the first day: no incidents, no false alarms counted


@dataclass(frozen=True, slots=True)
class LabelledSeries:
    family: str
    kind: Kind
    times: FloatArray
    values: FloatArray
    windows: list[tuple[int, int]]  # incident [start, end) point indices
    volumes: FloatArray | None = None  # records behind each error-rate point


def _rhythm(rng: np.random.Generator, points: int, depth: float) -> FloatArray:
    """Daily and weekly multiplicative rhythm (busy days, quiet nights, calmer weekends)."""
    hours = (np.arange(points) * STEP / 3600.0) % 24
    day = np.arange(points) * STEP // 86_400 % 7
    peak = rng.uniform(11, 16)
    daily = np.exp(-0.5 * ((hours - peak) / rng.uniform(3, 5)) ** 2)
    weekly = np.where(day >= 5, rng.uniform(0.5, 0.9), 1.0)
    return np.asarray((1 - depth) + depth * daily * weekly * 1.6, np.float64)


def _windows(
    rng: np.random.Generator, points: int, count: int, shortest: int, longest: int
) -> list[tuple[int, int]]:
    """`count` non-overlapping incident windows after the learning day, well apart."""
    made: list[tuple[int, int]] = []
    for _ in range(200):
        if len(made) == count:
            break
        length = int(rng.integers(shortest, longest + 1))
        start = int(rng.integers(LEARNING_POINTS + 12, points - length - 12))
        if all(start > end + DAY_POINTS // 2 or start + length < begin - DAY_POINTS // 2
               for begin, end in made):  # fmt: skip
            made.append((start, start + length))
    return sorted(made)


def seasonal_counts(rng: np.random.Generator, points: int) -> LabelledSeries:
    level = float(np.exp(rng.uniform(np.log(100), np.log(20_000))))
    expected = level * _rhythm(rng, points, rng.uniform(0.5, 0.9))
    expected *= rng.lognormal(0.0, 0.05, points)
    windows = _windows(rng, points, int(rng.integers(1, 3)), 3, 24)
    for start, end in windows:
        expected[start:end] *= rng.uniform(0.0, 0.4)  # an outage or a partial one
    return LabelledSeries("seasonal counts", Kind.COUNT, _times(points),
                          rng.poisson(expected).astype(np.float64), windows)  # fmt: skip


def bursty_counts(rng: np.random.Generator, points: int) -> LabelledSeries:
    level = float(np.exp(rng.uniform(np.log(200), np.log(5_000))))
    expected = level * rng.lognormal(0.0, 0.1, points)
    bursts = rng.random(points) < 0.02
    expected[bursts] *= 1.0 + rng.pareto(1.5, int(bursts.sum()))
    windows = _windows(rng, points, int(rng.integers(0, 2)), 3, 24)
    for start, end in windows:
        expected[start:end] *= rng.uniform(0.0, 0.3)
    return LabelledSeries("bursty counts", Kind.COUNT, _times(points),
                          rng.poisson(expected).astype(np.float64), windows)  # fmt: skip


def low_volume_counts(rng: np.random.Generator, points: int) -> LabelledSeries:
    expected = rng.uniform(20, 80) * _rhythm(rng, points, rng.uniform(0.0, 0.6))
    windows = _windows(rng, points, int(rng.integers(1, 3)), 3, 24)
    for start, end in windows:
        expected[start:end] *= rng.uniform(0.0, 0.15)
    return LabelledSeries("low-volume counts", Kind.COUNT, _times(points),
                          rng.poisson(expected).astype(np.float64), windows)  # fmt: skip


def _noise(rng: np.random.Generator, points: int) -> FloatArray:
    """AR(1) noise with Student-t innovations: correlated and somewhat heavy-tailed."""
    phi = rng.uniform(0.0, 0.6)
    shocks = rng.standard_t(5, points) * np.sqrt(1 - phi * phi)
    out = np.empty(points)
    out[0] = shocks[0]
    for i in range(1, points):
        out[i] = phi * out[i - 1] + shocks[i]
    return out


def level_shifts(rng: np.random.Generator, points: int) -> LabelledSeries:
    scale = rng.uniform(1, 50)
    base = rng.uniform(-100, 1000)
    values = base + scale * (_noise(rng, points) + 0.5 * _rhythm(rng, points, 0.8))
    ((start, end),) = _windows(rng, points, 1, 24, 24)
    size = rng.uniform(4, 12) * rng.choice([-1.0, 1.0])
    values[start:] += size * scale  # persists: the window is its first two hours
    return LabelledSeries("level shifts", Kind.VALUE, _times(points), values, [(start, end)])


def slow_drifts(rng: np.random.Generator, points: int) -> LabelledSeries:
    scale = rng.uniform(1, 20)
    values = rng.uniform(0, 500) + scale * _noise(rng, points)
    ((start, end),) = _windows(rng, points, 1, 72, 144)  # 6 to 12 hours of drift
    ramp = np.clip((np.arange(points) - start) / (end - start), 0.0, 1.0)
    values += rng.uniform(10, 20) * scale * ramp * rng.choice([-1.0, 1.0])
    return LabelledSeries("slow drifts", Kind.VALUE, _times(points), values, [(start, end)])


def dropouts(rng: np.random.Generator, points: int) -> LabelledSeries:
    level = rng.uniform(50, 500)
    values = level * (1 + 0.05 * _noise(rng, points)) * _rhythm(rng, points, 0.3)
    windows = _windows(rng, points, int(rng.integers(1, 3)), 2, 12)
    for start, end in windows:
        values[start:end] = 0.0  # a sensor or a pipeline stops reporting
    return LabelledSeries("dropouts", Kind.VALUE, _times(points), values, windows)


def heavy_tailed_quiet(rng: np.random.Generator, points: int) -> LabelledSeries:
    """Nothing happens: heavy-tailed noise with occasional spikes. Only false alarms count."""
    values = rng.uniform(10, 100) + rng.uniform(1, 5) * rng.standard_t(3, points)
    spikes = rng.random(points) < 0.01
    values[spikes] += rng.uniform(1, 5) * rng.pareto(2.0, int(spikes.sum())) * 10
    return LabelledSeries("heavy-tailed, no incident", Kind.VALUE, _times(points), values, [])


def error_rates(rng: np.random.Generator, points: int) -> LabelledSeries:
    """Error rates at volumes from one record a minute to thousands a second."""
    per_point = float(np.exp(rng.uniform(np.log(5), np.log(300_000))))
    volumes = rng.poisson(per_point * _rhythm(rng, points, rng.uniform(0, 0.8))).astype(float)
    usual = rng.uniform(0.001, 0.03)
    rate = np.clip(usual * rng.lognormal(0, 0.2, points), 0, 1)
    windows = _windows(rng, points, int(rng.integers(1, 3)), 2, 12)
    for start, end in windows:
        rate[start:end] = np.clip(rng.uniform(0.05, 1.0) + usual, 0, 1)
    errors = rng.binomial(volumes.astype(np.int64), rate).astype(float)
    observed = errors / np.maximum(volumes, 1.0)
    return LabelledSeries("error rates", Kind.ERROR_RATE, _times(points), observed, windows,
                          volumes)  # fmt: skip


def _one_window_or_none(
    rng: np.random.Generator, points: int, shortest: int, longest: int
) -> list[tuple[int, int]]:
    """Half the series of a family hold one incident; the others none (false alarms only)."""
    return _windows(rng, points, 1, shortest, longest) if rng.random() < 0.5 else []


def random_walks(rng: np.random.Generator, points: int) -> LabelledSeries:
    """A level that wanders (memory in use, a queue's backlog, a price); the incident is a
    jump far beyond its usual step, which then persists like any step of a walk."""
    step = float(np.exp(rng.uniform(np.log(0.01), np.log(100.0))))
    values = rng.uniform(-5, 5) * step * 100 + step * np.cumsum(rng.standard_normal(points))
    windows = _one_window_or_none(rng, points, 12, 12)
    for start, _end in windows:
        values[start:] += rng.uniform(10, 20) * step * rng.choice([-1.0, 1.0])
    return LabelledSeries("random walks", Kind.VALUE, _times(points), values, windows)


def trends(rng: np.random.Generator, points: int) -> LabelledSeries:
    """A steady climb or fall (disk filling, a growing user base) under correlated noise;
    the incident is an abrupt jump that persists."""
    scale = float(np.exp(rng.uniform(np.log(0.1), np.log(1000.0))))
    slope = rng.uniform(5, 60) * scale / points * rng.choice([-1.0, 1.0])
    values = rng.uniform(0, 100) * scale + slope * np.arange(points) + scale * _noise(rng, points)
    windows = _one_window_or_none(rng, points, 12, 12)
    for start, _end in windows:
        values[start:] += rng.uniform(8, 12) * scale * rng.choice([-1.0, 1.0])
    return LabelledSeries("trends", Kind.VALUE, _times(points), values, windows)


def sparse_spikes(rng: np.random.Generator, points: int) -> LabelledSeries:
    """Mostly zero, with routine spikes (a batch queue, retries, a disk's write bursts); the
    incident is a sustained rise or a spike far beyond the usual ones."""
    usual = float(np.exp(rng.uniform(np.log(0.1), np.log(1000.0))))
    values = np.zeros(points)
    spikes = rng.random(points) < rng.uniform(0.005, 0.03)
    values[spikes] = rng.exponential(usual, int(spikes.sum()))
    windows: list[tuple[int, int]] = []
    if rng.random() < 0.5:
        windows = _windows(rng, points, 1, 12, 72)
        ((start, end),) = windows
        values[start:end] = usual * rng.uniform(0.5, 2.0) * rng.lognormal(0, 0.2, end - start)
    elif rng.random() < 0.6:
        ((start, _end),) = _windows(rng, points, 1, 1, 1)
        values[start] = usual * rng.uniform(20, 40)
        windows = [(start, start + 1)]
    return LabelledSeries("sparse spikes", Kind.VALUE, _times(points), values, windows)


def _shifted(
    rng: np.random.Generator, values: FloatArray, sigma: float, points: int
) -> list[tuple[int, int]]:
    """An 8 to 12 sigma shift lasting 1 to 6 hours, in half the series."""
    windows = _one_window_or_none(rng, points, 12, 72)
    for start, end in windows:
        values[start:end] += rng.uniform(8, 12) * sigma * rng.choice([-1.0, 1.0])
    return windows


def huge_values(rng: np.random.Generator, points: int) -> LabelledSeries:
    """A high level with little relative noise (bytes stored, a counter's rate, Kelvin)."""
    level = float(10.0 ** rng.uniform(3, 13))
    sigma = level * float(10.0 ** rng.uniform(-5, -3))
    values = level + sigma * _noise(rng, points)
    windows = _shifted(rng, values, sigma, points)
    return LabelledSeries("huge, low noise", Kind.VALUE, _times(points), values, windows)


def tiny_values(rng: np.random.Generator, points: int) -> LabelledSeries:
    """A metric in tiny units (seconds of a fast call, a probability, a fraction)."""
    level = float(10.0 ** rng.uniform(-12, -5))
    sigma = level * rng.uniform(0.02, 0.2)
    values = level + sigma * _noise(rng, points)
    windows = _shifted(rng, values, sigma, points)
    return LabelledSeries("tiny scale", Kind.VALUE, _times(points), values, windows)


def quantised(rng: np.random.Generator, points: int) -> LabelledSeries:
    """CPU % rounded to whole numbers (or halves), with a daily rhythm; the incident is a
    shift of 8 to 12 of its deviations (at least a few units)."""
    quantum = rng.choice([1.0, 0.5])
    sigma = rng.uniform(0.3, 3.0)
    level = rng.uniform(5, 60) * _rhythm(rng, points, rng.uniform(0.0, 0.5))
    values = level + sigma * _noise(rng, points)
    windows = _shifted(rng, values, max(sigma, quantum), points)
    values = np.clip(np.round(values / quantum) * quantum, 0, 100)
    return LabelledSeries("quantised", Kind.VALUE, _times(points), values, windows)


def periodic_spikes(rng: np.random.Generator, points: int) -> LabelledSeries:
    """An hourly job (a cron, a backup) spiking one point an hour over a calm level; the
    incident is a spike out of its hour's rhythm and twice the usual size."""
    base = rng.uniform(5, 50)
    sigma = base * rng.uniform(0.02, 0.1)
    size = base * rng.uniform(2, 10)
    values = base + sigma * _noise(rng, points)
    minute = int(rng.integers(0, 12))
    at = np.arange(points) % 12 == minute
    values[at] += size * rng.lognormal(0, 0.1, int(at.sum()))
    windows: list[tuple[int, int]] = []
    if rng.random() < 0.5:
        ((start, _end),) = _windows(rng, points, 1, 1, 1)
        start += 6 if start % 12 == minute else 0
        values[start] += 2.0 * size
        windows = [(start, start + 1)]
    return LabelledSeries("periodic spikes", Kind.VALUE, _times(points), values, windows)


FAMILIES: tuple[Callable[[np.random.Generator, int], LabelledSeries], ...] = (
    seasonal_counts, bursty_counts, low_volume_counts, level_shifts, slow_drifts, dropouts,
    heavy_tailed_quiet, error_rates,
    # Shapes of real metrics beyond those above; appended, so the series above stay the same
    # for the same seed.
    random_walks, trends, sparse_spikes, huge_values, tiny_values, quantised, periodic_spikes,
)  # fmt: skip


def _times(points: int) -> FloatArray:
    return START + STEP * np.arange(points, dtype=np.float64)


def corpus(seed: int, per_family: int, days: int) -> list[LabelledSeries]:
    """`per_family` series of each family, `days` long, from one seed."""
    rng = np.random.default_rng(seed)
    points = days * DAY_POINTS
    return [family(rng, points) for family in FAMILIES for _ in range(per_family)]
