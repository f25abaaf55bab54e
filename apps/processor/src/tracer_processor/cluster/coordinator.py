"""Membership and partition assignment: even shares, rebalanced on join and leave.

Every round (a third of the lease time) a processor records its heartbeat, reads the live
members, renews the leases it holds, and computes its share: partition p belongs to the
member at position p mod n of the sorted live members. Partitions outside its share are
checkpointed and handed back; partitions in its share are taken as soon as they are free
(handed back, or their owner's lease expired). A processor that cannot renew for most of a
lease stops working on its partitions before anyone else may take them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import asyncpg

from tracer_processor.cluster.clock import StreamClock
from tracer_processor.cluster.consumer import PartitionConsumer
from tracer_processor.cluster.leases import LeaseStore
from tracer_processor.cluster.metrics import ClusterMetrics
from tracer_processor.cluster.owner import PartitionOwner

log = logging.getLogger(__name__)
_DATABASE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


def share_of(member: str, members: list[str], partitions: int) -> set[int]:
    """The partitions `member` should own among `members` (sorted, live)."""
    if member not in members:
        return set()
    rank, count = members.index(member), len(members)
    return {p for p in range(partitions) if p % count == rank}


class Coordinator:
    def __init__(
        self,
        *,
        leases: LeaseStore,
        owner: PartitionOwner,
        consumer: PartitionConsumer,
        clock: StreamClock,
        metrics: ClusterMetrics,
        partitions: int,
        checkpoint_seconds: float,
    ) -> None:
        self._leases = leases
        self._owner = owner
        self._consumer = consumer
        self._clock = clock
        self._metrics = metrics
        self._partitions = partitions
        self._checkpoint_seconds = checkpoint_seconds
        self.interval = leases.lease_seconds / 3
        self._renewed_at = time.monotonic()
        self._next_checkpoint = time.monotonic() + checkpoint_seconds

    async def run(self) -> None:
        await self._leases.seed(self._partitions)
        while True:
            try:
                await self.round()
            except _DATABASE_ERRORS as exc:
                log.warning("partition leases: database unavailable (retrying): %s", exc)
                self._give_up_if_stale()
            except Exception:  # a bug here must not end partition ownership for good
                log.exception("partition coordination round failed")
                self._give_up_if_stale()
            await asyncio.sleep(self.interval)

    async def round(self) -> None:
        owned = self._owner.ledger.owned
        members = await self._leases.heartbeat()
        held = {p: state.token for p, state in owned.items()}
        renewed = await self._leases.renew(held)
        self._renewed_at = time.monotonic()
        changed = False
        for partition in set(held) - renewed:
            log.warning("lost the lease of partition %d", partition)
            self._owner.drop(partition, reason="lost")
            changed = True
        share = share_of(self._leases.member_id, members, self._partitions)
        for partition in sorted(set(owned) - share):
            await self._owner.release(partition)
            changed = True
        wanted = sorted(share - set(owned))
        if wanted:
            taken = await self._leases.acquire(wanted)
            await self._owner.take(taken)
            changed = changed or bool(taken)
        if changed:
            self._consumer.owned_changed()
        if time.monotonic() >= self._next_checkpoint:
            self._next_checkpoint = time.monotonic() + self._checkpoint_seconds
            await self._owner.checkpoint_all()
        self._report()

    def _give_up_if_stale(self) -> None:
        """Past most of a lease without renewing: others may take over soon, so stop."""
        if time.monotonic() - self._renewed_at < self._leases.lease_seconds * 0.6:
            return
        owned = list(self._owner.ledger.owned)
        for partition in owned:
            self._owner.drop(partition, reason="expired")
        if owned:
            log.warning("could not renew leases; stopped working on %d partitions", len(owned))
            self._consumer.owned_changed()

    def _report(self) -> None:
        owned = self._owner.ledger.owned
        self._metrics.partitions_owned.set(len(owned))
        now = time.time()
        for partition, state in owned.items():
            lag = now - state.last_accepted_at if self._clock.behind else 0.0
            self._metrics.consumer_lag.labels(str(partition)).set(max(lag, 0.0))

    async def stop(self) -> None:
        """Hand every partition back with a final checkpoint, and leave."""
        for partition in sorted(self._owner.ledger.owned):
            await self._owner.release(partition)
        self._consumer.owned_changed()
        with contextlib.suppress(*_DATABASE_ERRORS):
            await self._leases.leave()
