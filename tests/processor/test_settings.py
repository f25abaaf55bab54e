"""Processor settings: combinations that cannot work are refused with the variable named."""

from __future__ import annotations

import pytest

from tracer_core.settings import SettingsError, load_settings
from tracer_processor.app import bucket_config, detector_config
from tracer_processor.settings import ProcessorSettings


def test_defaults_build_consistent_bucket_and_detector_configs() -> None:
    settings = load_settings(ProcessorSettings)
    detector = detector_config(settings)
    buckets = bucket_config(settings, detector)
    assert (detector.bucket_seconds, detector.window_buckets) == (10, 360)
    assert buckets.bucket_seconds == detector.bucket_seconds
    assert buckets.skip_gap_after > 2 * detector.window_buckets


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"warmup_buckets": 500}, "TRACER_WARMUP_BUCKETS=500"),
        ({"allowed_lateness_seconds": 900}, "TRACER_ALLOWED_LATENESS_SECONDS=900"),
        ({"bucket_seconds": 0}, "TRACER_BUCKET_SECONDS=0"),
        ({"max_body_bytes": 10}, "TRACER_MAX_BODY_BYTES=10"),
    ],
)
def test_impossible_settings_name_their_variable(
    overrides: dict[str, object], variable: str
) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(ProcessorSettings, **overrides)
