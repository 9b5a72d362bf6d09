"""The built-in failures a script injects (rate limit, timeout, server error), checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from agentrig._errors import (
    ConfigurationError,
)
from agentrig.checks import check_seconds

#: An injected failure.
ErrorSpec: TypeAlias = (
    "BaseException | type[BaseException]"
    " | Literal['rate_limit', 'timeout', 'overloaded', 'server_error']"
    " | RateLimit | Timeout | ServerError"
)
# An injected failure once the strings are resolved.
Failure: TypeAlias = "BaseException | type[BaseException] | RateLimit | Timeout | ServerError"


# -- built-in failures ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateLimit:
    """An injected rate limit: raises :class:`~agentrig.FakeRateLimitError` at once.

    Attributes:
        retry_after: the seconds the "provider" asks to wait, put on the error.
    """

    retry_after: float = 1.0

    def __post_init__(self) -> None:
        check_seconds(self.retry_after, "retry_after")


@dataclass(frozen=True, slots=True)
class Timeout:
    """An injected timeout: waits, then raises :class:`~agentrig.FakeTimeoutError`.

    Attributes:
        after: virtual seconds the call takes before it times out; ``None``: the call's
            latency (of the rule, agent or model).
    """

    after: float | None = None

    def __post_init__(self) -> None:
        if self.after is not None:
            check_seconds(self.after, "after")


@dataclass(frozen=True, slots=True)
class ServerError:
    """An injected provider error after the call's latency: HTTP 500, or 529 (overloaded).

    Raises :class:`~agentrig.FakeServerError` from ``run``; an SDK client receives the HTTP
    status with ``retry-after: <retry_after>`` (and retries it, as it would in production;
    the header keeps the SDK's randomly jittered backoff out of the virtual timings).
    """

    status: int = 500
    retry_after: float = 1.0

    def __post_init__(self) -> None:
        check_seconds(self.retry_after, "retry_after")
        if self.status not in (500, 502, 503, 529):
            raise ConfigurationError(
                f"ServerError `status` must be 500, 502, 503 or 529, got {self.status!r}"
            )


def overloaded() -> ServerError:
    """An "overloaded" failure (Anthropic's 529) for ``error=`` (same as ``"overloaded"``)."""
    return ServerError(529)


def server_error(*, status: int = 500, retry_after: float = 1.0) -> ServerError:
    """A server failure (HTTP 500 by default) for ``error=`` (same as ``"server_error"``)."""
    return ServerError(status, retry_after)


def rate_limit(*, retry_after: float = 1.0) -> RateLimit:
    """A rate-limit failure for ``error=`` (``error="rate_limit"`` is ``rate_limit()``).

    Usage::

        web = fake_model.agent("web", error=rate_limit(retry_after=20), fail_times=2, reply="ok")
    """
    return RateLimit(retry_after=check_seconds(retry_after, "retry_after"))


def timeout(*, after: float | None = None) -> Timeout:
    """A timeout failure for ``error=`` (``error="timeout"`` is ``timeout()``).

    Usage::

        deep = fake_model.agent("deep", error=timeout(after=60))   # 60 virtual s, then raises
    """
    return Timeout(after=None if after is None else check_seconds(after, "after"))


def check_error(value: object, param: str) -> Failure:
    if value == "rate_limit":
        return RateLimit()
    if value == "timeout":
        return Timeout()
    if value == "overloaded":
        return ServerError(529)
    if value == "server_error":
        return ServerError(500)
    if isinstance(value, (BaseException, RateLimit, Timeout, ServerError)):
        return value
    if isinstance(value, type) and issubclass(value, BaseException):
        return value
    raise ConfigurationError(
        f"`{param}` must be an exception instance or class, 'rate_limit', 'timeout',"
        f" 'overloaded', 'server_error', rate_limit(...), timeout(...) or server_error(...),"
        f" got {value!r}"
    )
