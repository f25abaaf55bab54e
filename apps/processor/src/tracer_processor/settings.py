"""Processor settings (environment variables TRACER_*, DATABASE_URL, TRACER_HOME)."""

from __future__ import annotations

from pydantic import Field

from tracer_core.settings import BaseTracerSettings


class ProcessorSettings(BaseTracerSettings):
    host: str = Field(default="127.0.0.1", validation_alias="TRACER_PROCESSOR_HOST")
    port: int = Field(default=4318, ge=0, le=65535, validation_alias="TRACER_PROCESSOR_PORT")
    processor_id: str | None = Field(
        default=None, description="Replica identity recorded on alerts; generated when unset."
    )
