"""Agent settings (environment variables TRACER_*, DATABASE_URL, OPENAI_*, COMPOSIO_*)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr

from tracer_core.settings import BaseTracerSettings


class AgentSettings(BaseTracerSettings):
    host: str = Field(default="127.0.0.1", validation_alias="TRACER_AGENT_HOST")
    port: int = Field(default=8000, ge=0, le=65535, validation_alias="TRACER_AGENT_PORT")
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url")
    )
    llm_model: str = Field(
        default="gpt-4.1-mini", validation_alias=AliasChoices("TRACER_LLM_MODEL", "llm_model")
    )
    composio_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("COMPOSIO_API_KEY", "composio_api_key")
    )
    composio_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("COMPOSIO_BASE_URL", "composio_base_url")
    )
    routing_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("TRACER_ROUTING_FILE", "routing_file")
    )
