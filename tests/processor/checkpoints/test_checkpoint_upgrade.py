"""A checkpoint written by the previous release's detector (frozen in `data/`) still restores
after the detector gained state: its baseline is kept, the added statistics start at zero,
and the restored service detects an incident at once instead of warming up again.

`data/format2_release.ckpt` holds the service "checkout" (20 records/s, 2 % errors) after an
hour of traffic from `traffic.START`, saved by the release before burst runs were tracked.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np

from tests.processor.traffic import Harness, Service
from tracer_core.models import AlertType
from tracer_processor.checkpoints.codec import CheckpointCodec

RELEASED = (Path(__file__).parent / "data" / "format2_release.ckpt").read_bytes()
CHECKOUT = Service("checkout", rate=20.0, error_rate=0.02)


def after_the_hour(seed: int) -> Harness:
    harness = Harness(seed=seed)
    harness.event_time += 3600.0
    harness.clock.set(harness.clock.now() + timedelta(seconds=3601))
    return harness


def test_a_released_checkpoint_restores_with_the_added_state_at_zero() -> None:
    harness = after_the_hour(seed=5)
    codec = CheckpointCodec(harness.pipeline.detector)
    records, kept, problems = codec.decode([RELEASED])
    assert (kept, problems) == ([0], [])
    assert int(records["steps"][0]) == 358  # the baseline of the hour, not a fresh one
    for name in codec.dtype.names or ():
        if name.startswith("bursts.") and name.endswith((".carried", ".followed")):
            assert float(np.abs(records[name]).sum()) == 0.0
    # Cut short, it is refused like any other damaged checkpoint.
    assert codec.decode([RELEASED[:-8]])[1] == []


def test_the_restored_service_detects_at_once() -> None:
    warm, cold = after_the_hour(seed=5), after_the_hour(seed=5)
    codec = CheckpointCodec(warm.pipeline.detector)
    records, _, _ = codec.decode([RELEASED])
    state = {name: records[name] for name in codec.dtype.names or ()}
    assert warm.pipeline.restore([("default", "checkout")], state) == 1
    for harness in (warm, cold):
        harness.run([CHECKOUT], 120)
        harness.run([Service("checkout", rate=20.0, error_rate=0.15)], 60)
    assert {c.alert_type for c in warm.candidates()} == {AlertType.ERROR_SPIKE}
    assert cold.candidates() == []  # without the checkpoint: still warming up
