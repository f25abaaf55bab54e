"""Processor settings (environment variables TRACER_*, DATABASE_URL, TRACER_HOME)."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from tracer_core.settings import BaseTracerSettings
from tracer_processor.detection.config import DETECTOR_DEFAULTS as DEFAULTS

MAX_OPEN_BUCKETS = 64


class ProcessorSettings(BaseTracerSettings):
    host: str = Field(default="127.0.0.1", validation_alias="TRACER_PROCESSOR_HOST")
    port: int = Field(default=4318, ge=0, le=65535, validation_alias="TRACER_PROCESSOR_PORT")
    processor_id: str | None = Field(
        default=None, description="Replica identity recorded on alerts; generated when unset."
    )

    # Ingest limits: a request beyond them is refused whole (413), a record beyond them alone.
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    max_records_per_request: int = Field(default=100_000, ge=1, le=10_000_000)
    max_services: int = Field(default=50_000, ge=1, le=10_000_000)
    max_event_age_seconds: float = Field(default=7 * 86_400, gt=0)
    max_future_seconds: float = Field(default=30.0, ge=0, le=3600)
    require_ingest_key: bool = Field(
        default=False,
        description="Require `Authorization: Bearer <key>` (role ingest or admin) on ingest "
        "and a valid key of any role on the read endpoints. Implied whenever the processor "
        "listens on a non-loopback address, unless TRACER_ALLOW_UNAUTHENTICATED is set.",
    )
    allow_unauthenticated: bool = Field(
        default=False,
        description="Serve without API keys even on a non-loopback address (logged loudly).",
    )
    allowed_origins: str = Field(
        default="",
        description="Comma-separated browser origins allowed to call the API; requests "
        "carrying any other Origin header are refused.",
    )
    allowed_hosts: str = Field(
        default="",
        description="Comma-separated Host names served (empty: any); guards against DNS "
        "rebinding when set.",
    )
    max_services_per_project: int = Field(
        default=10_000,
        ge=1,
        le=10_000_000,
        description="Services one project may hold; beyond it (or TRACER_MAX_SERVICES), the "
        "project's least established service without an open alert makes room.",
    )
    max_services_per_key: int = Field(
        default=10_000,
        ge=1,
        le=10_000_000,
        description="Services one ingest key may create (when keys are in use); beyond it, "
        "the key's own least established service makes room, so a leaked key cannot crowd "
        "out the services of others.",
    )
    api_key_cache_seconds: float = Field(default=30.0, ge=0, le=3600)

    # Event time.
    bucket_seconds: int = Field(default=DEFAULTS.bucket_seconds, ge=1, le=3600)
    allowed_lateness_seconds: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="How far behind a service's newest event a record may be and still count "
        "in its bucket; older records are counted as late.",
    )
    silence_seconds: float = Field(
        default=45.0,
        gt=0,
        le=3600,
        description="A service from which no replica has received anything for this long "
        "is silent: only then does the clock close its buckets (and service_down follow).",
    )
    arrivals_share_seconds: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="How often a replica shares in PostgreSQL when it last received each "
        "service, and reads what the others saw; 0 turns sharing off (one replica).",
    )
    live_horizon_seconds: float = Field(
        default=120.0,
        gt=0,
        description="A service whose newest event is this close to the processor clock is "
        "live: once silent, its buckets close on the clock, so the silence is noticed.",
    )
    tick_seconds: float = Field(default=1.0, gt=0, le=60)
    service_idle_ttl_seconds: float = Field(default=86_400.0, gt=0)

    # Detection (defaults: `DetectorConfig`).
    window_seconds: int = Field(
        default=DEFAULTS.window_buckets * DEFAULTS.bucket_seconds, ge=60, le=7 * 86_400
    )
    warmup_buckets: int = Field(default=DEFAULTS.warmup_buckets, ge=1)
    z_threshold: float = Field(default=DEFAULTS.z_threshold, gt=0, le=100)
    score_threshold: float = Field(
        default=DEFAULTS.score_threshold,
        gt=0,
        le=50,
        description="-log10 tail probability under a service's own baseline that alerts "
        "(6: one chance in a million), the same for every service and metric.",
    )
    error_pool_buckets: int = Field(
        default=DEFAULTS.pool_buckets,
        ge=1,
        le=1000,
        description="A quiet service's errors are judged over up to this many buckets.",
    )
    seasonal_profile: bool = Field(
        default=DEFAULTS.seasonal,
        description="Judge volume against the same hour of day and week as well.",
    )
    min_count: int = Field(
        default=DEFAULTS.min_count, ge=1, description="Records a bucket needs to be judged."
    )
    min_errors: int = Field(default=DEFAULTS.min_errors, ge=1)
    confirm_buckets: int = Field(default=DEFAULTS.confirm_buckets, ge=1, le=100)
    resolve_buckets: int = Field(default=DEFAULTS.resolve_buckets, ge=1, le=1000)
    silence_buckets: int = Field(default=DEFAULTS.silence_buckets, ge=1, le=1000)
    adopt_buckets: int = Field(default=DEFAULTS.adopt_buckets, ge=1)
    never_normal_error_rate: float = Field(
        default=DEFAULTS.never_normal_error_rate,
        gt=0,
        le=1,
        description="An error rate this high is never taken in as a service's normal.",
    )
    never_normal_traffic_share: float = Field(
        default=DEFAULTS.never_normal_traffic_share,
        ge=0,
        lt=1,
        description="Volume at or below this share of its usual level is never taken in "
        "as a service's normal.",
    )
    never_normal_latency_ratio: float = Field(
        default=DEFAULTS.never_normal_latency_ratio,
        gt=1,
        description="A p95 latency this many times its usual is never taken in as a "
        "service's normal.",
    )
    traffic_spike_alerts: bool = DEFAULTS.traffic_spike

    writer_max_buffer: int = Field(default=10_000, ge=1, le=10_000_000)
    checkpoint_seconds: float = Field(
        default=60.0,
        ge=0,
        le=86_400,
        description="How often the baselines are checkpointed to PostgreSQL (and at shutdown), "
        "so a restarted processor detects at once; 0 turns checkpoints off.",
    )
    rollup_retention_days: float = Field(
        default=7.0,
        ge=0,
        le=366,
        description="How long per-service minute rollups (the console's charts) are kept; "
        "0 turns rollups off.",
    )
    rollup_flush_seconds: float = Field(default=10.0, gt=0, le=600)

    # Clustered mode (NATS JetStream); unset: one process, everything in memory.
    nats_url: str | None = Field(
        default=None,
        validation_alias="TRACER_NATS_URL",
        description="NATS server with JetStream: receivers publish, processors own partitions.",
    )
    cluster_role: Literal["both", "receiver", "processor"] = Field(
        default="both",
        description="In clustered mode: publish ingested logs (receiver), consume partitions "
        "(processor), or both.",
    )
    partitions: int = Field(default=64, ge=1, le=4096, description="Partitions of the stream.")
    stream_name: str = Field(default="TRACER_LOGS", pattern=r"^[A-Za-z0-9_-]+$")
    stream_max_bytes: int = Field(default=8 * 1024**3, ge=1024 * 1024)
    stream_max_age_seconds: float = Field(default=86_400.0, gt=0)
    lease_seconds: float = Field(default=10.0, ge=1, le=600)
    partition_checkpoint_seconds: float = Field(default=5.0, gt=0, le=3600)
    publish_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @field_validator("warmup_buckets")
    @classmethod
    def _window_holds_warmup(cls, value: int, info: ValidationInfo) -> int:
        window, bucket = info.data.get("window_seconds"), info.data.get("bucket_seconds")
        if window and bucket and window // bucket < value:
            raise ValueError(
                f"the window ({window} s of {bucket} s buckets) must hold at least "
                f"{value} buckets; lower TRACER_WARMUP_BUCKETS or raise TRACER_WINDOW_SECONDS"
            )
        return value

    @field_validator("allowed_lateness_seconds")
    @classmethod
    def _open_buckets_bounded(cls, value: float, info: ValidationInfo) -> float:
        future, bucket = info.data.get("max_future_seconds"), info.data.get("bucket_seconds")
        if future is not None and bucket and (value + future) / bucket > MAX_OPEN_BUCKETS:
            raise ValueError(
                "TRACER_ALLOWED_LATENESS_SECONDS + TRACER_MAX_FUTURE_SECONDS may span at most "
                f"{MAX_OPEN_BUCKETS} buckets (each service keeps that many open)"
            )
        return value

    @property
    def listens_on_loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def keys_required(self) -> bool:
        """Keys are on when asked for, and whenever the API is reachable from elsewhere."""
        if self.require_ingest_key:
            return True
        return not self.listens_on_loopback and not self.allow_unauthenticated


def split_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
