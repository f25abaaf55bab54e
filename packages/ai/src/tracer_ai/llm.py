"""One OpenAI-compatible chat client for summaries and the chat tool loop.

Any server speaking the OpenAI chat-completions API works (OpenAI, Ollama, vLLM, LM Studio):
`LlmConfig.base_url` points at it. Every call records an `LlmUsage` (tokens, cost from the
configured price table, latency, purpose) through the `usage_sink` callback, so the apps can
count spend without this module knowing about metrics or databases. SDK exceptions are mapped
to the typed errors of `tracer_ai.errors`, so callers never import openai.

Servers differ in what they accept, so the client learns per model and remembers it:
the answer limit goes as `max_completion_tokens` (OpenAI's current name, the only one its
reasoning models take) and as `max_tokens` for servers that refuse the new name; a refused
`temperature` is dropped; `complete_json` asks for `json_schema` output, then `json_object`,
then plain text whose JSON object is extracted leniently.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx2
import openai
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from tracer_ai.errors import (
    LlmBadOutput,
    LlmRateLimited,
    LlmRequestRejected,
    LlmTimeout,
    LlmUnavailable,
)

logger = logging.getLogger(__name__)

# Some OpenAI-compatible servers need no key, but the SDK insists on one.
_PLACEHOLDER_KEY = "not-needed"


class ModelPrice(BaseModel):
    """USD per one million tokens."""

    model_config = ConfigDict(frozen=True)

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)

    @field_validator("input_per_million", "output_per_million")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("price must be a finite number")
        return value


DEFAULT_PRICES: dict[str, ModelPrice] = {
    "gpt-4.1": ModelPrice(input_per_million=2.0, output_per_million=8.0),
    "gpt-4.1-mini": ModelPrice(input_per_million=0.4, output_per_million=1.6),
    "gpt-4.1-nano": ModelPrice(input_per_million=0.1, output_per_million=0.4),
    "gpt-4o": ModelPrice(input_per_million=2.5, output_per_million=10.0),
    "gpt-4o-mini": ModelPrice(input_per_million=0.15, output_per_million=0.6),
}


def parse_price_table(text: str) -> dict[str, ModelPrice]:
    """Parse ``model=input/output[,model=input/output...]`` (USD per 1M tokens).

    Meant for an environment variable such as ``TRACER_LLM_PRICES="llama3=0/0,gpt-4.1=2/8"``.
    Raises ValueError naming the bad entry.
    """
    prices: dict[str, ModelPrice] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        model, sep, numbers = entry.partition("=")
        parts = numbers.split("/")
        if not sep or not model.strip() or len(parts) != 2:
            raise ValueError(f"bad price entry {entry!r}: expected model=input/output")
        try:
            prices[model.strip()] = ModelPrice(
                input_per_million=float(parts[0]), output_per_million=float(parts[1])
            )
        except ValueError as exc:
            raise ValueError(f"bad price entry {entry!r}: {exc}") from None
    return prices


class LlmConfig(BaseModel):
    """How to reach the LLM. `enabled` is false when neither a key nor a base URL is set."""

    model_config = ConfigDict(frozen=True)

    api_key: SecretStr | None = None
    base_url: str | None = None
    model: str = Field(default="gpt-4.1-mini", min_length=1)
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    max_retries: int = Field(default=2, ge=0, le=10)
    prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_PRICES))

    @property
    def enabled(self) -> bool:
        return self.api_key is not None or bool(self.base_url)

    def price_for(self, model: str) -> ModelPrice | None:
        """The price of `model`, also matching dated names such as gpt-4.1-mini-2025-04-14."""
        if model in self.prices:
            return self.prices[model]
        best = max(
            (name for name in self.prices if model.startswith(name + "-")), key=len, default=None
        )
        return self.prices[best] if best else None


@dataclass(frozen=True)
class LlmUsage:
    """What one call cost. `cost_usd` is None when the model has no price in the table."""

    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    latency_ms: float
    purpose: str
    ok: bool = True
    error: str | None = None


@dataclass(frozen=True)
class LlmToolCall:
    """A function call the model asked for; `arguments` is None when its JSON is invalid."""

    id: str
    name: str
    arguments_json: str
    arguments: dict[str, Any] | None


@dataclass(frozen=True)
class ChatResult:
    content: str | None
    tool_calls: list[LlmToolCall]
    finish_reason: str | None
    usage: LlmUsage
    model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def assistant_message(self) -> dict[str, Any]:
        """This answer as a message to append to the conversation before tool results."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json},
                }
                for call in self.tool_calls
            ]
        return message


UsageSink = Callable[[LlmUsage], None]

OutputMode = Literal["json_schema", "json_object", "text"]
OUTPUT_MODES: tuple[OutputMode, ...] = ("json_schema", "json_object", "text")
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "structured", "format")


@dataclass(frozen=True)
class JsonAnswer:
    """A JSON object the model answered with, and the output mode that produced it."""

    data: dict[str, Any]
    mode: OutputMode
    result: ChatResult


def extract_json_object(content: str | None) -> dict[str, Any]:
    """The first JSON object in `content`, even when prose or a code fence surrounds it."""
    if not content or not content.strip():
        raise LlmBadOutput("empty answer")
    text = content.strip()
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        return whole
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    raise LlmBadOutput("answer is not JSON (no object found)")


def _parse_arguments(raw: str) -> dict[str, Any] | None:
    try:
        value = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class LlmClient:
    """Wraps `openai.AsyncOpenAI`; build one per process and close it on shutdown.

    `http_client` (an `httpx2.AsyncClient`) is how tests fake the server at the transport.
    """

    def __init__(
        self,
        config: LlmConfig,
        *,
        http_client: httpx2.AsyncClient | None = None,
        usage_sink: UsageSink | None = None,
    ) -> None:
        self._config = config
        self._usage_sink = usage_sink
        self._refused: dict[str, set[str]] = {}
        self._output_mode: dict[str, OutputMode] = {}
        key = config.api_key.get_secret_value() if config.api_key else _PLACEHOLDER_KEY
        self._client = openai.AsyncOpenAI(
            api_key=key,
            base_url=config.base_url or None,
            timeout=config.timeout_s,
            max_retries=config.max_retries,
            http_client=http_client,
        )

    @property
    def config(self) -> LlmConfig:
        return self._config

    @property
    def model(self) -> str:
        return self._config.model

    @property
    def enabled(self) -> bool:
        return self._config.enabled

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> LlmClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        response_format: Mapping[str, Any] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        purpose: str = "chat",
        timeout_s: float | None = None,
        model: str | None = None,
    ) -> ChatResult:
        """One chat completion. Raises LlmUnavailable / LlmTimeout / LlmRateLimited /
        LlmBadOutput; records usage (also for failed calls, with zero tokens)."""
        if not self.enabled:
            raise LlmUnavailable("no LLM configured (set OPENAI_API_KEY or OPENAI_BASE_URL)")
        use_model = model or self._config.model
        kwargs: dict[str, Any] = {"model": use_model, "messages": list(messages)}
        if tools:
            kwargs["tools"] = list(tools)
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        if response_format is not None:
            kwargs["response_format"] = dict(response_format)
        if timeout_s is not None:
            kwargs["timeout"] = timeout_s
        refused = self._refused.setdefault(use_model, set())
        # At most one retry per parameter the server may refuse (token limit name, temperature).
        for _ in range(3):
            attempt = dict(kwargs)
            if max_tokens is not None:
                name = (
                    "max_tokens" if "max_completion_tokens" in refused else "max_completion_tokens"
                )
                attempt[name] = max_tokens
            if temperature is not None and "temperature" not in refused:
                attempt["temperature"] = temperature
            try:
                return await self._complete(attempt, use_model, purpose, timeout_s)
            except LlmRequestRejected as exc:
                culprit = next(
                    (
                        p
                        for p in ("max_completion_tokens", "temperature")
                        if p in exc.detail and p in attempt
                    ),
                    None,
                )
                if culprit is None:
                    raise
                logger.info("model %s refuses %s; not sending it again", use_model, culprit)
                refused.add(culprit)
        raise LlmUnavailable("LLM refused every variant of the request")

    async def complete_json(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        schema_name: str,
        schema: Mapping[str, Any],
        max_tokens: int | None = None,
        temperature: float | None = None,
        purpose: str = "chat",
        timeout_s: float | None = None,
    ) -> JsonAnswer:
        """A JSON object from the model: `json_schema`, else `json_object`, else plain text.

        A mode the server refuses (400/422) is skipped; the first mode that works is
        remembered for the model, so later calls start there. The object is extracted
        leniently; checking its shape is the caller's job.
        """
        model = self._config.model
        start = OUTPUT_MODES.index(self._output_mode.get(model, "json_schema"))
        last: LlmRequestRejected | None = None
        for mode in OUTPUT_MODES[start:]:
            response_format: dict[str, Any] | None = None
            if mode == "json_schema":
                response_format = {
                    "type": "json_schema",
                    "json_schema": {"name": schema_name, "strict": True, "schema": dict(schema)},
                }
            elif mode == "json_object":
                response_format = {"type": "json_object"}
            try:
                result = await self.chat(
                    messages,
                    response_format=response_format,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    purpose=purpose,
                    timeout_s=timeout_s,
                )
            except LlmRequestRejected as exc:
                if mode == "text":
                    raise
                last = exc
                if any(word in exc.detail.lower() for word in _FORMAT_WORDS):
                    logger.info("model %s refuses %s output; trying the next mode", model, mode)
                    self._output_mode[model] = OUTPUT_MODES[OUTPUT_MODES.index(mode) + 1]
                continue
            self._output_mode[model] = mode
            return JsonAnswer(extract_json_object(result.content), mode, result)
        raise last or LlmUnavailable("LLM refused every output mode")

    def output_mode(self, model: str | None = None) -> OutputMode:
        """The output mode `complete_json` will try first for `model`."""
        return self._output_mode.get(model or self._config.model, "json_schema")

    async def _complete(
        self, kwargs: dict[str, Any], use_model: str, purpose: str, timeout_s: float | None
    ) -> ChatResult:
        started = time.monotonic()
        try:
            completion = await self._client.chat.completions.create(**kwargs)
        except openai.APITimeoutError as exc:
            self._record_failure(use_model, purpose, started, "timeout")
            raise LlmTimeout(
                f"LLM did not answer within {timeout_s or self._config.timeout_s} s"
            ) from exc
        except openai.RateLimitError as exc:
            self._record_failure(use_model, purpose, started, "rate_limited")
            raise LlmRateLimited(f"LLM rate limited: {_short(exc)}") from exc
        except openai.APIStatusError as exc:
            self._record_failure(use_model, purpose, started, f"http_{exc.status_code}")
            if exc.status_code in (400, 422):
                raise LlmRequestRejected(
                    f"LLM refused the request (HTTP {exc.status_code}): {_short(exc)}",
                    status_code=exc.status_code,
                    detail=str(exc),
                ) from exc
            raise LlmUnavailable(f"LLM answered HTTP {exc.status_code}: {_short(exc)}") from exc
        except openai.APIConnectionError as exc:
            self._record_failure(use_model, purpose, started, "connection")
            raise LlmUnavailable(f"LLM unreachable: {_short(exc)}") from exc
        except openai.APIResponseValidationError as exc:
            self._record_failure(use_model, purpose, started, "bad_output")
            raise LlmBadOutput(f"LLM answer did not parse: {_short(exc)}") from exc
        latency_ms = (time.monotonic() - started) * 1000.0
        usage = self._usage(completion, use_model, purpose, latency_ms)
        self._emit(usage)
        if not completion.choices:
            raise LlmBadOutput("LLM answer has no choices")
        choice = completion.choices[0]
        message = choice.message
        calls: list[LlmToolCall] = []
        for call in message.tool_calls or []:
            function = getattr(call, "function", None)
            if function is None:
                continue
            raw = function.arguments or ""
            calls.append(LlmToolCall(call.id, function.name, raw, _parse_arguments(raw)))
        return ChatResult(
            content=message.content,
            tool_calls=calls,
            finish_reason=choice.finish_reason,
            usage=usage,
            model=completion.model or use_model,
        )

    def _usage(self, completion: Any, model: str, purpose: str, latency_ms: float) -> LlmUsage:
        prompt = completion.usage.prompt_tokens if completion.usage else 0
        output = completion.usage.completion_tokens if completion.usage else 0
        price = self._config.price_for(model)
        cost = None
        if price is not None:
            cost = (prompt * price.input_per_million + output * price.output_per_million) / 1e6
        return LlmUsage(model, prompt, output, cost, latency_ms, purpose)

    def _record_failure(self, model: str, purpose: str, started: float, error: str) -> None:
        latency_ms = (time.monotonic() - started) * 1000.0
        self._emit(LlmUsage(model, 0, 0, 0.0, latency_ms, purpose, ok=False, error=error))

    def _emit(self, usage: LlmUsage) -> None:
        if self._usage_sink is None:
            return
        try:
            self._usage_sink(usage)
        except Exception:
            logger.exception("LLM usage sink failed")


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
