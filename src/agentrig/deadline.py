"""A hard deadline that reads the running loop's clock, so under the virtual clock it is virtual.

Usage::

    deadline = Deadline(seconds=120, name="supervisor")
    while not deadline.expired():
        await step()                      # polls: cheap, never raises

    async with deadline:                  # or cancel a block at expiry
        await long_job()                  # -> DeadlineExceeded (a TimeoutError) at t=120

When the clock starts: a Deadline created while a loop runs starts at once, on that loop's
clock. One created where no loop runs (at import time, in a sync fixture) starts at its first
use inside a loop: ``Deadline(seconds=120)`` at module level means "120 s from when the run
first looks at it", which is what a module-level deadline in an agent app intends. Where no
loop ever runs, ``time.monotonic()`` is the clock.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

from agentrig._errors import DeadlineExceeded
from agentrig._secrets import redact_secrets
from agentrig.checks import check_seconds
from agentrig.mutate import hook as _mutation
from agentrig.recording import active_recording
from agentrig.vocabulary import EntryKind

__all__ = ["Deadline"]


class Deadline:
    """A point in (loop) time after which work must stop.

    Args:
        seconds: how long from the start (see the module notes) until expiry; >= 0.
        name: a label shown in errors, reprs and the recording.

    Raises:
        ConfigurationError: ``seconds`` is negative, NaN, infinite or not a number.
    """

    __slots__ = ("_at", "_clock", "_expiry_recorded", "_scopes", "name", "seconds")

    def __init__(self, seconds: float, *, name: str | None = None) -> None:
        value = check_seconds(seconds, "seconds", owner="Deadline")
        self.name = name if name is not None else "deadline"
        self.seconds = _mutation.deadline_seconds(self.name, value)  # agentrig mutate's switch
        self._clock: Any = None  # the loop (or time module) whose clock this deadline reads
        self._at: float | None = None
        self._expiry_recorded = False
        self._scopes: dict[asyncio.Task[Any] | None, list[asyncio.Timeout]] = {}
        self._pin()

    # -- the clock ----------------------------------------------------------------------------

    def _pin(self) -> None:
        """Fix the clock and the expiry instant, if a loop runs now (or when forced)."""
        if self._at is not None:
            return
        try:
            loop: Any = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._clock = loop
        self._at = loop.time() + self.seconds

    def _now(self) -> float:
        self._pin()
        if self._at is None:  # never inside a loop: fall back to the monotonic clock
            self._clock = None
            self._at = time.monotonic() + self.seconds
        clock = self._clock
        return clock.time() if clock is not None else time.monotonic()

    @property
    def at(self) -> float:
        """The clock reading at which this deadline expires (a loop time, not a duration)."""
        self._now()
        assert self._at is not None
        return self._at

    def remaining(self) -> float:
        """Seconds left before expiry; 0.0 once expired (never negative)."""
        now = self._now()
        assert self._at is not None
        return max(0.0, self._at - now)

    def expired(self) -> bool:
        """True once the clock has reached the deadline (recorded once in the recording)."""
        now = self._now()
        assert self._at is not None
        if now >= self._at:
            self._record_expiry()
            return True
        return False

    def check(self) -> None:
        """Raise :class:`DeadlineExceeded` if the deadline has passed; do nothing otherwise."""
        if self.expired():
            raise DeadlineExceeded(self._exceeded_message())

    def _exceeded_message(self) -> str:
        return (
            f"Deadline {self.name!r} of {self.seconds:g}s expired at t={self.at:g}; "
            "the work under it was cancelled. Give it more seconds, or make the work "
            "stop earlier (check deadline.expired() in the loop)."
        )

    def _record_expiry(self) -> None:
        if self._expiry_recorded:
            return
        self._expiry_recorded = True
        rec = active_recording()
        if rec is not None:
            rec.add_entry(
                EntryKind.DEADLINE_EXPIRED,
                {"deadline": self.name, "seconds": self.seconds, "at": self.at},
            )

    # -- as an async context manager ----------------------------------------------------------

    async def __aenter__(self) -> Deadline:
        timeout = asyncio.timeout_at(self.at)
        await timeout.__aenter__()
        self._scopes.setdefault(asyncio.current_task(), []).append(timeout)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        task = asyncio.current_task()
        stack = self._scopes[task]
        timeout = stack.pop()
        if not stack:
            del self._scopes[task]
        try:
            await timeout.__aexit__(exc_type, exc, tb)
        except TimeoutError as err:
            self._record_expiry()
            raise DeadlineExceeded(self._exceeded_message()) from err
        return None

    def __repr__(self) -> str:
        if self._at is None:
            return redact_secrets(f"<Deadline {self.name!r} {self.seconds:g}s (not started)>")
        return redact_secrets(
            f"<Deadline {self.name!r} {self.seconds:g}s at={self._at:g}"
            f" remaining={self.remaining():g}>"
        )
