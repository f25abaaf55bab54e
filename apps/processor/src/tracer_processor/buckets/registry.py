"""Which dense slot each (project, service) owns.

The aggregator and the detector keep per-service state in numpy arrays indexed by slot, so
all services are scored together. Slots of evicted services are reused; the number of
services is capped so memory stays bounded whatever the senders do: in all, per project, and
per ingest key (the sender that first sent a service owns it), so one leaked key cannot
crowd out the services of others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Rows = slice | npt.NDArray[np.intp]


def rows_of(slots: npt.NDArray[np.intp]) -> Rows:
    """How to index per-service arrays for `slots` (sorted, unique): a slice when they are
    one contiguous run - numpy then works on views instead of gathering copies, which is
    what makes scoring thousands of services at once cheap."""
    if slots.size and int(slots[-1]) - int(slots[0]) + 1 == slots.size:
        return slice(int(slots[0]), int(slots[-1]) + 1)
    return slots


def take(array: npt.NDArray[Any], rows: Rows) -> npt.NDArray[Any]:
    """`array[rows]` as a copy of its own (a slice would give a view that later writes change)."""
    return array[rows].copy() if isinstance(rows, slice) else array[rows]


class ServiceRegistry:
    def __init__(
        self,
        max_services: int,
        max_per_project: int | None = None,
        max_per_sender: int | None = None,
    ) -> None:
        self.max_services = max_services
        self.max_per_project = max_per_project or max_services
        self.max_per_sender = max_per_sender or max_services
        self._by_key: dict[tuple[str, str], int] = {}
        self._by_project: dict[str, dict[str, int]] = {}  # project -> service -> slot
        self._by_sender: dict[str, set[int]] = {}  # ingest key -> slots it created
        self._sender_of: dict[int, str] = {}
        self._keys: list[tuple[str, str] | None] = []
        self._free: list[int] = []

    def __len__(self) -> int:
        return len(self._by_key)

    @property
    def high_water(self) -> int:
        """One more than the largest slot ever handed out (array sizes must cover it)."""
        return len(self._keys)

    def key(self, slot: int) -> tuple[str, str]:
        key = self._keys[slot]
        if key is None:
            raise KeyError(f"slot {slot} is free")
        return key

    def key_or_none(self, slot: int) -> tuple[str, str] | None:
        return self._keys[slot] if slot < len(self._keys) else None

    def slot_of(self, key: tuple[str, str]) -> int | None:
        """The slot of a known service (None when it is not tracked); never creates one."""
        return self._by_key.get(key)

    def items(self) -> list[tuple[tuple[str, str], int]]:
        return sorted(self._by_key.items())

    def lookup(
        self, projects: Sequence[str], services: Sequence[str], sender: str | None = None
    ) -> tuple[npt.NDArray[np.intp], list[int], list[int]]:
        """Slots for each record; also the new slots made and the positions refused (full).
        `sender`: the ingest key of the request (None: keys are off), owner of new slots."""
        if projects and projects.count(projects[0]) == len(projects):
            try:  # one project per request is the common case: one C-level map
                by_service = self._by_project[projects[0]]
                found = np.fromiter(map(by_service.__getitem__, services), np.intp, len(services))
                return found, [], []
            except KeyError:
                pass
        slots = np.empty(len(services), np.intp)
        created: list[int] = []
        refused: list[int] = []
        by_key = self._by_key
        for position, key in enumerate(zip(projects, services, strict=True)):
            slot = by_key.get(key)
            if slot is None:
                slot = self._add(key, sender)
                if slot < 0:
                    refused.append(position)
                else:
                    created.append(slot)
            slots[position] = slot
        return slots, created, refused

    def project_full(self, project: str) -> bool:
        return len(self._by_project.get(project, ())) >= self.max_per_project

    def sender_full(self, sender: str | None) -> bool:
        return sender is not None and len(self._by_sender.get(sender, ())) >= self.max_per_sender

    def slots_of(self, project: str) -> npt.NDArray[np.intp]:
        return np.fromiter(self._by_project.get(project, {}).values(), np.intp)

    def slots_of_sender(self, sender: str) -> npt.NDArray[np.intp]:
        return np.fromiter(sorted(self._by_sender.get(sender, ())), np.intp)

    def add(self, key: tuple[str, str], sender: str | None = None) -> int:
        """A slot for a new key; -1 when the service cap or the project's or the sender's
        quota is reached."""
        return self._add(key, sender)

    def _add(self, key: tuple[str, str], sender: str | None = None) -> int:
        if (
            len(self._by_key) >= self.max_services
            or self.project_full(key[0])
            or self.sender_full(sender)
        ):
            return -1
        slot = self._free.pop() if self._free else len(self._keys)
        if slot == len(self._keys):
            self._keys.append(key)
        else:
            self._keys[slot] = key
        self._by_key[key] = slot
        self._by_project.setdefault(key[0], {})[key[1]] = slot
        if sender is not None:
            self._by_sender.setdefault(sender, set()).add(slot)
            self._sender_of[slot] = sender
        return slot

    def remove(self, slot: int) -> None:
        key = self.key(slot)
        del self._by_key[key]
        services = self._by_project[key[0]]
        del services[key[1]]
        if not services:
            del self._by_project[key[0]]
        sender = self._sender_of.pop(slot, None)
        if sender is not None:
            owned = self._by_sender[sender]
            owned.discard(slot)
            if not owned:
                del self._by_sender[sender]
        self._keys[slot] = None
        self._free.append(slot)
