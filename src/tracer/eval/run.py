"""Run the detector over the whole corpus (one threshold) and score it per family."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tracer.eval.corpus import corpus
from tracer.eval.score import FamilyScore, score_one
from tracer_processor.detection.backtest import Kind, score_series
from tracer_processor.detection.config import DetectorConfig


@dataclass(frozen=True, slots=True)
class Evaluation:
    families: dict[str, FamilyScore]
    overall: FamilyScore
    points: int
    seconds: float  # detector time, all series of a kind stepped together


def evaluate(seed: int, per_family: int, days: int, config: DetectorConfig) -> Evaluation:
    series = corpus(seed, per_family, days)
    started = time.perf_counter()
    flags: dict[int, npt.NDArray[np.int8]] = {}
    alert_open: dict[int, npt.NDArray[np.int8] | None] = {}
    for kind in Kind:
        members = [i for i, s in enumerate(series) if s.kind is kind]
        if not members:
            continue
        volumes = [series[i].volumes for i in members]
        scored = score_series(
            [(series[i].times, series[i].values) for i in members],
            kind=kind,
            config=config,
            volumes=[v for v in volumes if v is not None] if kind is Kind.ERROR_RATE else None,
            alerts=True,
        )
        for i, result in zip(members, scored, strict=True):
            flags[i] = result.flags
            alert_open[i] = result.alert_open
    seconds = time.perf_counter() - started
    families: dict[str, FamilyScore] = {}
    overall = FamilyScore()
    for index, item in enumerate(series):
        one = score_one(flags[index], item.windows, alert_open[index])
        families.setdefault(item.family, FamilyScore()).add(one)
        overall.add(one)
    points = sum(s.values.size for s in series)
    return Evaluation(families, overall, points, seconds)
