"""Settings read from the environment with pydantic-settings.

Each app defines one settings class deriving from `BaseTracerSettings`, builds it in its
`main()` / `create_app()` with `load_settings`, and passes it down: nothing is read at import.
Most variables are `TRACER_<FIELD>`; the few that other tools share (`DATABASE_URL`,
`OPENAI_*`, `COMPOSIO_*`) keep their usual names through `validation_alias`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """Raised for invalid configuration; the message names the environment variable."""


class BaseTracerSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRACER_",
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
    )

    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="PostgreSQL URL; unset means the embedded server under TRACER_HOME.",
    )
    home: Path = Field(
        default=Path(".tracer"),
        validation_alias="TRACER_HOME",
        description="Directory for the embedded PostgreSQL and local state.",
    )
    db_pool_min_size: int = Field(default=1, ge=0, le=100)
    db_pool_max_size: int = Field(default=10, ge=1, le=500)
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")


S = TypeVar("S", bound=BaseSettings)


def env_name(settings_cls: type[BaseSettings], field: str) -> str:
    """The environment variable that feeds `field` of `settings_cls`.

    `field` may already be a variable name: pydantic reports an aliased field's errors under
    its alias, and prefixing that again would name a variable that does not exist.
    """
    if field not in settings_cls.model_fields and _is_alias(settings_cls, field):
        return field
    info = settings_cls.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, AliasChoices):
        first = info.validation_alias.choices[0]
        if isinstance(first, str):
            return first
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def _is_alias(settings_cls: type[BaseSettings], name: str) -> bool:
    for info in settings_cls.model_fields.values():
        alias = info.validation_alias
        if alias == name or (isinstance(alias, AliasChoices) and name in alias.choices):
            return True
    return False


def load_settings(settings_cls: type[S], **overrides: Any) -> S:
    """Build settings from the environment plus explicit overrides (None overrides ignored).

    Raises `SettingsError` whose message names each offending variable, e.g.
    ``TRACER_BUCKET_SECONDS=abc: Input should be a valid number``.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return settings_cls(**given)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            name = env_name(settings_cls, field)
            value = error.get("input")
            shown = "" if isinstance(value, dict) else f"={value!r}"
            problems.append(f"{name}{shown}: {error['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
