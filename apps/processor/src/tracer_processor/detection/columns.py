"""Per-service state kept as named float64 columns, one entry per service slot."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt


class ServiceColumns:
    """Grows, resets, exports and restores the columns `COLUMNS` names together; the
    subclass creates them (empty, float64) and says what they mean."""

    COLUMNS: ClassVar[tuple[str, ...]] = ()

    def _state(self) -> dict[str, npt.NDArray[np.float64]]:
        return {name: getattr(self, name) for name in self.COLUMNS}

    def ensure_capacity(self, capacity: int) -> None:
        grow = capacity - getattr(self, self.COLUMNS[0]).size
        if grow > 0:
            for name, array in self._state().items():
                setattr(self, name, np.concatenate([array, np.zeros(grow)]))

    def reset(self, slots: npt.NDArray[np.intp]) -> None:
        for array in self._state().values():
            array[slots] = 0.0

    def export(self, slots: npt.NDArray[np.intp]) -> dict[str, npt.NDArray[Any]]:
        return {name: array[slots] for name, array in self._state().items()}

    def restore(self, slots: npt.NDArray[np.intp], state: dict[str, npt.NDArray[Any]]) -> None:
        for name, array in self._state().items():
            array[slots] = state[name]
