"""Loading a compiled scanner, which is absent where no C compiler was found at install."""

from __future__ import annotations

import importlib
from types import ModuleType


def load(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"tracer_scan.{name}")
    except ImportError:
        return None
