"""The processor's ASGI app: routes, and the lifespan that owns the pool, the alert writer,
the detection pipeline and its clock tick."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import asyncpg
from prometheus_client import CollectorRegistry, ProcessCollector
from starlette.applications import Starlette
from starlette.middleware import Middleware

import tracer_scan
from tracer_core.auth_limit import FailedAuthLimiter
from tracer_core.clock import Clock, SystemClock
from tracer_core.db import create_pool
from tracer_core.health import health_routes
from tracer_core.ids import instance_id
from tracer_core.models import AlertStatus
from tracer_processor.alerts.store import PostgresAlertStore
from tracer_processor.alerts.writer import AlertWriter
from tracer_processor.buckets.aggregator import BucketConfig
from tracer_processor.buckets.arrival_sharing import ArrivalSharing
from tracer_processor.buckets.arrival_store import ArrivalStore
from tracer_processor.checkpoints.checkpointer import Checkpointer
from tracer_processor.checkpoints.store import CheckpointStore
from tracer_processor.checkpoints.view import CheckpointView
from tracer_processor.cluster.clock import StreamClock
from tracer_processor.cluster.runtime import ClusterRuntime
from tracer_processor.detection.config import DetectorConfig
from tracer_processor.ingest.auth import KeyVerifier
from tracer_processor.ingest.batch import IngestLimits
from tracer_processor.ingest.decode_pool import DecodePool
from tracer_processor.ingest.guard import RequestGuard
from tracer_processor.ingest.openapi import openapi_routes
from tracer_processor.ingest.routes import api_routes
from tracer_processor.metrics import ProcessorMetrics, WriterCollector
from tracer_processor.pipeline import Pipeline
from tracer_processor.rollups.accumulator import RollupAccumulator
from tracer_processor.rollups.store import RollupStore
from tracer_processor.rollups.writer import RollupWriter
from tracer_processor.settings import ProcessorSettings, split_list

log = logging.getLogger(__name__)
WRITER_FLUSH_SECONDS = 5.0
CHECKPOINT_SAVE_SECONDS = 10.0


def detector_config(settings: ProcessorSettings) -> DetectorConfig:
    return DetectorConfig(
        bucket_seconds=settings.bucket_seconds,
        window_buckets=settings.window_seconds // settings.bucket_seconds,
        warmup_buckets=settings.warmup_buckets,
        z_threshold=settings.z_threshold,
        score_threshold=settings.score_threshold,
        pool_buckets=settings.error_pool_buckets,
        seasonal=settings.seasonal_profile,
        min_count=settings.min_count,
        min_errors=settings.min_errors,
        confirm_buckets=settings.confirm_buckets,
        resolve_buckets=settings.resolve_buckets,
        silence_buckets=settings.silence_buckets,
        adopt_buckets=settings.adopt_buckets,
        never_normal_error_rate=settings.never_normal_error_rate,
        never_normal_traffic_share=settings.never_normal_traffic_share,
        never_normal_latency_ratio=settings.never_normal_latency_ratio,
        traffic_spike=settings.traffic_spike_alerts,
    )


def bucket_config(settings: ProcessorSettings, detector: DetectorConfig) -> BucketConfig:
    return BucketConfig(
        bucket_seconds=settings.bucket_seconds,
        allowed_lateness=settings.allowed_lateness_seconds,
        max_future=settings.max_future_seconds,
        live_horizon=settings.live_horizon_seconds,
        silence=settings.silence_seconds,
        skip_gap_after=detector.settle_buckets,
    )


def create_app(settings: ProcessorSettings, *, clock: Clock | None = None) -> Starlette:
    if not settings.database_url:
        raise ValueError("create_app needs a resolved database_url")
    database_url = settings.database_url
    clock = clock or SystemClock()
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)  # process_cpu_seconds_total, memory, open files
    metrics = ProcessorMetrics(registry)
    cluster = ClusterRuntime(settings, registry) if settings.nats_url else None

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = await create_pool(
            database_url,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            application_name="tracer-processor",
        )
        processor_id = settings.processor_id or instance_id("processor")
        store = PostgresAlertStore(pool, processor_id=processor_id)
        writer = AlertWriter(
            store, max_buffer=settings.writer_max_buffer, on_result=metrics.count_decision
        )
        registry.register(WriterCollector(writer))
        detector = detector_config(settings)
        stream_clock = StreamClock(clock)  # clustered: the clock follows the stream
        accumulator = (
            RollupAccumulator(bucket_seconds=detector.bucket_seconds)
            if settings.rollup_retention_days > 0
            else None
        )
        pipeline = Pipeline(
            buckets=bucket_config(settings, detector),
            detector=detector,
            sink=writer,
            clock=stream_clock if cluster is not None else clock,
            metrics=metrics,
            max_services=settings.max_services,
            max_services_per_project=settings.max_services_per_project,
            max_services_per_key=settings.max_services_per_key,
            service_idle_ttl=settings.service_idle_ttl_seconds,
            rollups=accumulator,
        )
        rollup_writer = (
            RollupWriter(
                accumulator,
                pipeline.registry,
                RollupStore(pool),
                clock=clock,
                interval=settings.rollup_flush_seconds,
                retention=timedelta(days=settings.rollup_retention_days),
            )
            if accumulator is not None
            else None
        )
        app.state.rollups = rollup_writer
        app.state.pool = pool
        app.state.store = store
        app.state.writer = writer
        app.state.pipeline = pipeline
        checkpointer: Checkpointer | None = None
        if settings.checkpoint_seconds > 0 and cluster is None:
            checkpointer = Checkpointer(
                pipeline,
                CheckpointStore(pool, saved_by=processor_id),
                clock=clock,
                interval=settings.checkpoint_seconds,
            )
            await checkpointer.restore()  # before serving: warm from the first bucket
        app.state.checkpointer = checkpointer
        if cluster is not None and not cluster.consumes:  # a receiver: no detector state
            app.state.checkpoint_view = CheckpointView(
                CheckpointStore(pool, saved_by=processor_id),
                buckets=bucket_config(settings, detector),
                detector=detector,
                clock=clock,
            )
        sharing: ArrivalSharing | None = None
        # Clustered, one owner sees all of a service's records: nothing to share.
        if settings.arrivals_share_seconds > 0 and cluster is None:
            sharing = ArrivalSharing(
                pipeline,
                ArrivalStore(pool),
                clock=clock,
                interval=settings.arrivals_share_seconds,
                silence=settings.silence_seconds,
            )
            await sharing.prune()
        app.state.arrival_sharing = sharing
        if settings.keys_required:
            app.state.keys = KeyVerifier(
                pool, clock=clock, cache_seconds=settings.api_key_cache_seconds
            )
        await writer.start()
        if cluster is None:
            await _resume_open_alerts(store, pipeline)
        else:  # partitions bring their own services, checkpoints and open alerts
            await cluster.start(
                wall_clock=clock,
                stream_clock=stream_clock,
                pipeline=pipeline,
                writer=writer,
                alerts=store,
                pool=pool,
                member_id=processor_id,
            )
            app.state.publisher = cluster.publisher
        ticker = asyncio.create_task(_tick(pipeline, settings.tick_seconds), name="tick")
        if checkpointer is not None:
            checkpointer.start()
        if sharing is not None:
            sharing.start()
        if rollup_writer is not None:
            rollup_writer.start()
        # Everything built so far lives as long as the process: keep it out of the garbage
        # collector's full passes, which would otherwise walk it all while requests wait.
        gc.freeze()
        log.info("processor %s ready (buckets of %s s)", processor_id, settings.bucket_seconds)
        if not tracer_scan.BUILT:
            log.warning(
                "the ingest scanners were not built (no C compiler at install time): "
                "OTLP/protobuf is decoded by the protobuf runtime and JSON records are read "
                "in Python, several times slower; install gcc and the Python headers, then "
                "`uv sync --reinstall-package tracer-scan`"
            )
        try:
            yield
        finally:
            if cluster is not None:
                await cluster.stop()
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            if sharing is not None:
                await sharing.stop()
            if checkpointer is not None:
                await checkpointer.stop(grace_seconds=CHECKPOINT_SAVE_SECONDS)
            if rollup_writer is not None:
                await rollup_writer.stop()
            await writer.stop(timeout=WRITER_FLUSH_SECONDS)
            await store.close()
            await pool.close()
            await asyncio.to_thread(app.state.decoders.shutdown)

    _log_access_mode(settings)
    guard = Middleware(
        RequestGuard,
        allowed_origins=split_list(settings.allowed_origins),
        allowed_hosts=split_list(settings.allowed_hosts),
    )
    app = Starlette(
        routes=[*health_routes(registry), *api_routes(), *openapi_routes()],
        middleware=[guard],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.registry = registry
    app.state.metrics = metrics
    app.state.clock = clock
    app.state.keys = None
    app.state.auth_limiter = FailedAuthLimiter(clock=clock)
    app.state.publisher = None
    app.state.checkpoint_view = None
    app.state.decoders = DecodePool()
    app.state.limits = IngestLimits(
        max_records=settings.max_records_per_request,
        max_event_age_seconds=settings.max_event_age_seconds,
        max_future_seconds=settings.max_future_seconds,
    )
    return app


def _log_access_mode(settings: ProcessorSettings) -> None:
    if settings.keys_required:
        log.info("API keys required on ingest and reads (tracer keys create --role ingest)")
    elif not settings.listens_on_loopback:
        log.warning(
            "TRACER_ALLOW_UNAUTHENTICATED is set: anyone who can reach %s may send logs and "
            "read alerts without a key",
            settings.host,
        )


async def _resume_open_alerts(store: PostgresAlertStore, pipeline: Pipeline) -> None:
    """Open alerts outlive processors: take them over so they resolve when healthy."""
    try:
        alerts = await store.list_alerts(status=AlertStatus.OPEN, service=None, limit=1000)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        log.warning("could not read the open alerts to take them over: %s", exc)
        return
    resumed = pipeline.resume_open(alerts)
    if resumed:
        log.info("took over %d open alerts; they resolve once their metric is healthy", resumed)


async def _tick(pipeline: Pipeline, interval: float) -> None:
    """The processor's clock: closes buckets of silent live services, flushes idle replays."""
    while True:
        await asyncio.sleep(interval)
        try:
            pipeline.tick()
        except Exception:  # a bug here must not stop the clock for good
            log.exception("pipeline tick failed")
