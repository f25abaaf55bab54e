"""Clustered mode inside one processor process: the NATS connection, the receiver's
publisher, and the processor's coordinator and consumer, started and stopped with the app."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
import nats
from nats.aio.client import Client as NatsClient
from prometheus_client import CollectorRegistry

from tracer_core.clock import Clock
from tracer_processor.alerts.store import PostgresAlertStore
from tracer_processor.alerts.writer import AlertWriter
from tracer_processor.checkpoints.store import CheckpointStore
from tracer_processor.cluster.clock import StreamClock
from tracer_processor.cluster.consumer import PartitionConsumer
from tracer_processor.cluster.coordinator import Coordinator
from tracer_processor.cluster.leases import LeaseStore
from tracer_processor.cluster.ledger import Ledger
from tracer_processor.cluster.metrics import ClusterMetrics
from tracer_processor.cluster.owner import PartitionOwner
from tracer_processor.cluster.partitioning import Partitioner
from tracer_processor.cluster.publisher import Publisher, ensure_stream, stream_config
from tracer_processor.pipeline import Pipeline
from tracer_processor.settings import ProcessorSettings

log = logging.getLogger(__name__)
STOP_SECONDS = 10.0


class ClusterRuntime:
    def __init__(self, settings: ProcessorSettings, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.metrics = ClusterMetrics(registry)
        self.publisher: Publisher | None = None
        self._nc: NatsClient | None = None
        self._coordinator: Coordinator | None = None
        self._consumer: PartitionConsumer | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def consumes(self) -> bool:
        return self.settings.cluster_role in ("both", "processor")

    @property
    def receives(self) -> bool:
        return self.settings.cluster_role in ("both", "receiver")

    async def start(
        self,
        *,
        wall_clock: Clock,
        stream_clock: StreamClock,
        pipeline: Pipeline,
        writer: AlertWriter,
        alerts: PostgresAlertStore,
        pool: asyncpg.Pool,
        member_id: str,
    ) -> None:
        settings = self.settings
        assert settings.nats_url is not None
        self._nc = nc = await nats.connect(
            settings.nats_url,
            name=member_id,
            connect_timeout=5,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            reconnected_cb=self._reconnected,
        )
        await ensure_stream(
            nc,
            stream_config(
                settings.stream_name,
                max_bytes=settings.stream_max_bytes,
                max_age_seconds=settings.stream_max_age_seconds,
            ),
        )
        if self.receives:
            self.publisher = Publisher(
                nc,
                stream=settings.stream_name,
                partitions=settings.partitions,
                clock=wall_clock,
                metrics=self.metrics,
                timeout=settings.publish_timeout_seconds,
            )
        if not self.consumes:
            return
        ledger = Ledger(settings.partitions)
        pipeline.on_closed = ledger.on_closed
        leases = LeaseStore(pool, member_id=member_id, lease_seconds=settings.lease_seconds)
        owner = PartitionOwner(
            pipeline=pipeline,
            writer=writer,
            alerts=alerts,
            leases=leases,
            checkpoints=CheckpointStore(pool, saved_by=member_id),
            ledger=ledger,
            partitioner=Partitioner(settings.partitions),
            clock=wall_clock,
            metrics=self.metrics,
        )
        self._consumer = PartitionConsumer(
            nc,
            stream=settings.stream_name,
            pipeline=pipeline,
            ledger=ledger,
            clock=stream_clock,
            metrics=self.metrics,
        )
        self._coordinator = Coordinator(
            leases=leases,
            owner=owner,
            consumer=self._consumer,
            clock=stream_clock,
            metrics=self.metrics,
            partitions=settings.partitions,
            checkpoint_seconds=settings.partition_checkpoint_seconds,
        )
        self._tasks = [
            asyncio.create_task(self._consumer.run(), name="cluster-consumer"),
            asyncio.create_task(self._coordinator.run(), name="cluster-coordinator"),
        ]

    async def _reconnected(self) -> None:
        """A restarted server may have lost the consumer: subscribe again from the ledger."""
        log.info("reconnected to NATS")
        if self._consumer is not None:
            self._consumer.owned_changed()

    async def stop(self) -> None:
        """Stop consuming, hand the partitions back with final checkpoints, disconnect."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._coordinator is not None:
            try:
                async with asyncio.timeout(STOP_SECONDS):
                    await self._coordinator.stop()
            except TimeoutError:
                log.warning("handing the partitions back took too long; their leases expire")
        if self._consumer is not None:
            await self._consumer.stop()
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.drain()
