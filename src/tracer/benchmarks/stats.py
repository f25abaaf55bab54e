"""Quantiles of benchmark samples, one definition for every benchmark."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def quantile(values: Sequence[float], q: float) -> float:
    """The `q` quantile (0 <= q <= 1, e.g. 0.99 for p99) of `values`, in their own unit,
    interpolated linearly between the two nearest samples; 0.0 when there are none."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} is outside [0, 1]")
    if len(values) == 0:
        return 0.0
    return float(np.quantile(np.asarray(values, dtype=np.float64), q))
