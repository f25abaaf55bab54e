"""Benchmark sections for `tracer bench`. Each section is a module here exposing
`run(options: BenchOptions) -> list[BenchRow]`, registered in `SECTIONS` below; the command
prints every row in one table. Figures come from here, never from timed test assertions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BenchRow:
    section: str
    metric: str
    value: float
    unit: str
    target: str = ""  # e.g. ">= 250000"; empty when the figure has no target
    met: bool | None = None  # None when there is no target


@dataclass(frozen=True, slots=True)
class BenchOptions:
    database_url: str | None  # None: the section may start its own embedded PostgreSQL
    quick: bool  # smaller counts (CI smoke runs); figures are then indicative only
    seed: int


Section = Callable[[BenchOptions], list[BenchRow]]

# name -> "module:function", imported lazily so one section's dependencies never slow another.
SECTIONS: dict[str, str] = {
    "dedup": "tracer.benchmarks.dedup:run",
    "delivery": "tracer.benchmarks.delivery:run",
    "console": "tracer.benchmarks.console:run",
    "processor": "tracer.benchmarks.processor:run",
    "cluster": "tracer.benchmarks.cluster:run",
}
