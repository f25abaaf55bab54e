"""Typed failures of the outside services Tracer's AI layer talks to.

::

    TracerAiError
    ├── LlmError                 the LLM call did not give a usable answer
    │   ├── LlmUnavailable       not configured, connection refused, 5xx, 401, 400 ...
    │   │   └── LlmRequestRejected   400/422: the server refused a parameter of the request
    │   ├── LlmTimeout           no answer within the configured time
    │   ├── LlmRateLimited       429 from the LLM server
    │   └── LlmBadOutput         an answer arrived but is empty or not the requested shape
    ├── ToolRouterError          the tool router (Composio) refused or failed a request
    │   ├── ToolRouterAuthError      401/403: the API key is wrong or lacks permission
    │   ├── ToolRouterRateLimited    429: slow down (``retry_after_s`` when the server said)
    │   ├── ToolRouterUnavailable    5xx, connection failures, timeouts: try again later
    │   ├── ToolRouterBadResponse    the answer was not the JSON the SDK expects
    │   ├── ToolRouterNotFound       404: unknown session or connection
    │   └── ToolRouterConfigError    local misconfiguration (no key, non-https base URL ...)
    └── McpToolboxError          the MCP session itself could not be opened or kept
        └── McpConnectError      connecting or the MCP handshake failed

Callers on the delivery path decide from the class alone whether to retry
(`retryable` is true for rate limits, timeouts and unavailability) or give up.
"""

from __future__ import annotations


class TracerAiError(Exception):
    """Base class of every error raised by tracer_ai."""

    retryable: bool = False


class LlmError(TracerAiError):
    """The LLM call did not produce a usable answer."""

    reason: str = "error"


class LlmUnavailable(LlmError):  # noqa: N818 - the public names read as outcomes
    reason = "unavailable"
    retryable = True


class LlmRequestRejected(LlmUnavailable):
    """The server refused the request as malformed (400/422), typically an unsupported
    parameter; retrying the same request is pointless, a different one may work."""

    reason = "rejected"
    retryable = False

    def __init__(self, message: str, *, status_code: int, detail: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail


class LlmTimeout(LlmError):  # noqa: N818 - the public names read as outcomes
    reason = "timeout"
    retryable = True


class LlmRateLimited(LlmError):  # noqa: N818 - the public names read as outcomes
    reason = "rate_limited"
    retryable = True


class LlmBadOutput(LlmError):  # noqa: N818 - the public names read as outcomes
    reason = "bad_output"


class ToolRouterError(TracerAiError):
    """A tool-router request failed; `status_code` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class ToolRouterAuthError(ToolRouterError):
    pass


class ToolRouterRateLimited(ToolRouterError):  # noqa: N818 - the public names read as outcomes
    retryable = True

    def __init__(
        self, message: str, *, status_code: int | None = 429, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after_s = retry_after_s


class ToolRouterUnavailable(ToolRouterError):  # noqa: N818 - the public names read as outcomes
    retryable = True


class ToolRouterBadResponse(ToolRouterError):  # noqa: N818 - the public names read as outcomes
    retryable = True


class ToolRouterNotFound(ToolRouterError):  # noqa: N818 - the public names read as outcomes
    pass


class ToolRouterConfigError(ToolRouterError):
    pass


class McpToolboxError(TracerAiError):
    """The MCP session could not be opened or was lost."""

    retryable = True


class McpConnectError(McpToolboxError):
    pass
