"""The benchmarks' synthetic traffic decodes as valid, current logs."""

from __future__ import annotations

from tracer.traffic.synthetic import TrafficShape, body_templates, stamp
from tracer_processor.ingest.batch import IngestLimits
from tracer_processor.ingest.records import parse_logs


def test_synthetic_bodies_are_valid_current_logs() -> None:
    template = body_templates(TrafficShape(services=7, batch_size=300, seed=1), 1)[0]
    batch = parse_logs(stamp(template, 1_772_452_770), ndjson=False, now=1_772_452_771.0,
                       limits=IngestLimits())  # fmt: skip
    assert (batch.size, batch.rejected) == (300, 0)
    assert 1_772_452_770 <= batch.timestamps.min() <= batch.timestamps.max() < 1_772_452_771
    assert len(set(batch.services)) == 7
