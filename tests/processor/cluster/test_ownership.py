"""Even shares, the resume point, the stream clock, and leases fenced by their token."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import numpy as np
import pytest

from tracer_core.clock import ManualClock
from tracer_processor.cluster.clock import StreamClock
from tracer_processor.cluster.coordinator import share_of
from tracer_processor.cluster.leases import LeaseLostError, LeaseStore
from tracer_processor.cluster.ledger import PartitionState


def test_shares_are_even_and_cover_every_partition_once() -> None:
    members = ["a", "b", "c"]
    shares = [share_of(m, members, 64) for m in members]
    assert sorted(len(s) for s in shares) == [21, 21, 22]
    assert set().union(*shares) == set(range(64))
    assert share_of("gone", members, 64) == set()


def test_the_resume_point_is_the_oldest_message_still_feeding_an_open_bucket() -> None:
    state = PartitionState(partition=0, token=1, next_seq=10)
    slots = np.array([0, 1], np.intp)
    state.record(10, slots, np.array([5, 5], np.int64))
    state.record(11, slots[:1], np.array([6], np.int64))
    state.record(12, slots[1:], np.array([7], np.int64))
    state.next_seq = 13  # the consumer moves it on as it takes messages
    open_base = np.array([6, 6], np.int64)  # buckets 5 closed for both services
    assert state.resume_seq(open_base) == 11
    open_base = np.array([7, 7], np.int64)
    assert state.resume_seq(open_base) == 12
    open_base = np.array([7, 8], np.int64)
    assert state.resume_seq(open_base) == 13  # nothing feeds an open bucket any more


def test_the_stream_clock_follows_the_backlog_then_the_wall() -> None:
    wall = ManualClock(datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC))
    clock = StreamClock(wall)
    behind = wall.now().timestamp() - 30
    clock.advance(behind, caught_up=False)
    assert clock.now().timestamp() == behind
    clock.advance(behind - 5, caught_up=False)  # never backwards
    assert clock.now().timestamp() == behind
    clock.caught_up()
    assert clock.now() == wall.now()


async def test_a_lease_taken_over_fences_the_previous_owner(pool: asyncpg.Pool) -> None:
    first = LeaseStore(pool, member_id="a", lease_seconds=5)
    second = LeaseStore(pool, member_id="b", lease_seconds=5)
    await first.seed(4)
    assert await first.heartbeat() == ["a"]
    assert await second.heartbeat() == ["a", "b"]
    [lease] = await first.acquire([2])
    assert await second.acquire([2]) == []  # held and not expired
    await pool.execute("UPDATE partition_leases SET expires_at = now() - interval '1 s'")
    [taken] = await second.acquire([2])
    assert taken.token == lease.token + 1
    assert await first.renew({2: lease.token}) == set()
    with pytest.raises(LeaseLostError):
        await first.save_cursor(2, lease.token, checkpoints=[], resume_seq=99, folded=7)
    await second.save_cursor(2, taken.token, checkpoints=[], resume_seq=40, folded=3)
    row = await pool.fetchrow("SELECT resume_seq, folded FROM partition_leases WHERE partition = 2")
    assert row is not None
    assert (row["resume_seq"], row["folded"]) == (40, 3)
    await second.release(2, taken.token)
    [again] = await first.acquire([2])
    assert (again.token, again.resume_seq, again.folded) == (taken.token + 1, 40, 3)
