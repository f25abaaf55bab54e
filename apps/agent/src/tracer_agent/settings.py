"""Agent settings (environment variables TRACER_*, DATABASE_URL, OPENAI_*, COMPOSIO_*)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from tracer_core.settings import BaseTracerSettings


class AgentSettings(BaseTracerSettings):
    host: str = Field(default="127.0.0.1", validation_alias="TRACER_AGENT_HOST")
    port: int = Field(default=8000, ge=0, le=65535, validation_alias="TRACER_AGENT_PORT")
    public_url: str | None = Field(
        default=None,
        validation_alias="TRACER_AGENT_PUBLIC_URL",
        description="How browsers and this agent reach the agent (OAuth callbacks, the sink).",
    )
    tracer_public_url: str | None = Field(
        default=None,
        validation_alias="TRACER_PUBLIC_URL",
        pattern=r"^https?://[^\s<>|]+$",
        description="Where people open Tracer: messages link to {this}/incidents/{id}. "
        "Unset: the agent's own address (TRACER_AGENT_PUBLIC_URL, else host and port).",
    )
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    llm_model: str = Field(default="gpt-4.1-mini", validation_alias="TRACER_LLM_MODEL")
    llm_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    composio_api_key: SecretStr | None = Field(default=None, validation_alias="COMPOSIO_API_KEY")
    composio_base_url: str | None = Field(default=None, validation_alias="COMPOSIO_BASE_URL")
    routing_file: Path | None = Field(default=None, validation_alias="TRACER_ROUTING_FILE")
    routing_user_id: str = Field(
        default="tracer-org",
        min_length=1,
        max_length=200,
        description="The tool-router user whose connected apps receive routed alerts.",
    )
    sink_url: str | None = Field(
        default=None,
        description="MCP URL of the local sink; unset: this agent's own /sink/mcp.",
    )
    sink_token: SecretStr | None = Field(
        default=None,
        description="Token the agent presents to and accepts at the local sink; unset: a "
        "random one shared by all replicas through the database. Its length is checked by "
        "create_app, where the error cannot echo the value.",
    )

    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest request body accepted (413 above), checked before parsing and auth.",
    )
    auth_max_failures: int = Field(
        default=20, ge=1, le=100_000, description="Wrong API keys per client address per window."
    )
    auth_failure_window_seconds: float = Field(default=60.0, gt=0, le=86400)

    delivery_worker: bool = Field(default=True, description="Run the delivery worker here.")
    delivery_concurrency: int = Field(default=8, ge=1, le=256)
    delivery_poll_seconds: float = Field(default=2.0, gt=0, le=300)
    tool_call_timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    delivery_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    delivery_max_attempts: int = Field(default=8, ge=1, le=100)
    delivery_backoff_base_seconds: float = Field(default=1.0, gt=0, le=3600)
    delivery_backoff_max_seconds: float = Field(default=300.0, gt=0, le=86400)

    renotify_after_seconds: float = Field(
        default=1800.0,
        gt=0,
        le=7 * 86400,
        description="A critical incident not acknowledged this long after its last "
        "notification is notified again (a reply in its threads, a PagerDuty re-notification).",
    )
    renotify_max: int = Field(
        default=3, ge=0, le=100, description="At most this many re-notifications per incident."
    )

    chat_max_steps: int = Field(default=6, ge=1, le=50)
    chat_max_tokens: int = Field(default=1200, ge=64, le=32000)
    chat_token_budget: int = Field(default=40000, ge=1000, le=2_000_000)
    chat_history_messages: int = Field(default=30, ge=0, le=500)
    # How far back the chat's incident tools look for incidents, open or resolved.
    chat_incident_lookback_hours: float = Field(default=24.0, gt=0, le=24 * 90)

    @field_validator(
        "openai_api_key", "openai_base_url", "composio_api_key", "composio_base_url",
        "routing_file", "public_url", "tracer_public_url", "sink_url", "sink_token",
        "llm_model", mode="before",
    )  # fmt: skip
    @classmethod
    def _blank_is_unset(cls, value: object, info: ValidationInfo) -> object:
        # docker compose passes `${VAR:-}` as an empty string: that means "not set".
        if isinstance(value, str) and not value.strip():
            return "gpt-4.1-mini" if info.field_name == "llm_model" else None
        return value

    @field_validator("delivery_lease_seconds")
    @classmethod
    def _lease_outlives_a_call(cls, value: float, info: ValidationInfo) -> float:
        # A lease that can expire while its call is in flight lets a second worker send again.
        timeout = info.data.get("tool_call_timeout_seconds")
        if timeout is not None and value <= timeout * 2 + 5:
            raise ValueError(
                "must exceed twice TRACER_TOOL_CALL_TIMEOUT_SECONDS plus 5 s "
                f"(here {timeout * 2 + 5:g} s)"
            )
        return value

    @property
    def llm_configured(self) -> bool:
        return self.openai_api_key is not None or bool(self.openai_base_url)

    @property
    def agent_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def incident_link_base(self) -> str:
        return (self.tracer_public_url or self.agent_url).rstrip("/")

    @property
    def local_sink_url(self) -> str:
        return self.sink_url or f"{self.agent_url}/sink/mcp/"
