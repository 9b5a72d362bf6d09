"""A virtual wall clock: ``time.time()`` and ``datetime.now()`` follow the virtual loop.

Usage::

    from agentrig.wallclock import virtual_wall_clock

    with virtual_wall_clock():                       # from 2026-01-01T00:00:00Z
        agentrig.run(app())   # time.time() == epoch + loop.time(), also in tenacity's waits

Why it is shaped this way
-------------------------
* ``time.time()``, ``time.time_ns()``, ``datetime.now()``/``utcnow()``/``today()``,
  ``date.today()``, ``time.gmtime()``/``localtime()``/``strftime()`` without an argument are
  patched by `time-machine <https://pypi.org/project/time-machine/>`_ (the optional extra
  ``wallclock``): it patches the C functions themselves, so ``from time import time`` done at
  import time is covered too, which a module-attribute patch cannot do. Its traveller is
  stopped (``tick=False``) and its ``time_ns`` reads the virtual clock instead (the one place
  that touches time-machine beyond its public API: :meth:`VirtualWallClock._install`). These
  follow the virtual clock in every thread: executor threads see the run's virtual time.
* time-machine 3 no longer patches ``time.monotonic()``/``perf_counter()`` (measured: 3.6.0
  leaves both real). They are patched here as module attributes, and only calls *from a thread
  running a virtual loop* read virtual time (real monotonic at start + the loop's time: it
  does not go backwards while the loop runs); every other thread, pytest's own timing
  included, keeps real time. tenacity's ``stop_after_delay`` reads ``time.monotonic()`` at
  call time, so it stops after the same attempts as on a real clock. A ``from time import
  monotonic`` bound before the patch stays real.
* Which virtual clock: the loop running in the calling thread; otherwise the last virtual loop
  seen (or the one given), so a thread started from the run reads the run's time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from agentrig._errors import ConfigurationError
from agentrig.clock import VirtualEventLoop

__all__ = ["DEFAULT_EPOCH", "VirtualWallClock", "parse_epoch", "virtual_wall_clock"]

#: Where the virtual wall clock starts: virtual t=0 reads as this instant.
DEFAULT_EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

_real_monotonic = time.monotonic
_real_perf_counter = time.perf_counter


def parse_epoch(value: str | dt.datetime) -> dt.datetime:
    """An epoch from an ISO 8601 string or a datetime; naive values are taken as UTC.

    Raises:
        ConfigurationError: not an ISO 8601 date/time.
    """
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ConfigurationError(
                f"`wall_clock_epoch` must be an ISO 8601 date/time such as "
                f"'2026-01-01T00:00:00Z', got {value!r}"
            ) from None
    else:
        raise ConfigurationError(
            f"`wall_clock_epoch` must be an ISO 8601 string or a datetime, got {value!r}"
        )
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


class VirtualWallClock:
    """Makes the wall clock (and the loop thread's monotonic clocks) follow virtual time.

    Args:
        epoch: the instant virtual t=0 reads as (default :data:`DEFAULT_EPOCH`).
        loop: the virtual loop to read when the calling thread runs none (default: the last
            one seen running).
        fallback: a function giving the virtual loop to read when neither is known.

    Use as a context manager, or :meth:`start` / :meth:`stop`. Not re-entrant.
    """

    def __init__(
        self,
        *,
        epoch: dt.datetime | str = DEFAULT_EPOCH,
        loop: VirtualEventLoop | None = None,
        fallback: Callable[[], asyncio.AbstractEventLoop | None] | None = None,
    ) -> None:
        self.epoch = parse_epoch(epoch)
        self._epoch_ns = _datetime_ns(self.epoch)
        self._last: VirtualEventLoop | None = loop
        self._last_us = 0
        self._fallback = fallback
        self._traveller: Any = None
        self._travel: Any = None
        self._saved: dict[str, Any] = {}
        self._monotonic_base = 0.0
        self._perf_base = 0.0

    # -- reading the virtual clock ------------------------------------------------------------

    def _loop_of_this_thread(self) -> VirtualEventLoop | None:
        loop = asyncio._get_running_loop()  # None outside a running loop (thread-local)
        if isinstance(loop, VirtualEventLoop):
            self._last = loop
            return loop
        return None

    def virtual_us(self) -> int:
        """The virtual time in microseconds this clock shows now."""
        loop = self._loop_of_this_thread() or self._last
        if loop is None and self._fallback is not None:
            found = self._fallback()
            if isinstance(found, VirtualEventLoop):
                self._last = loop = found
        if loop is not None and not loop.is_closed():
            self._last_us = loop.time_us()
        return self._last_us

    def _time_ns(self) -> int:
        return self._epoch_ns + self.virtual_us() * 1000

    def _monotonic(self) -> float:
        loop = self._loop_of_this_thread()
        if loop is None:
            return _real_monotonic()
        return self._monotonic_base + loop.time()

    def _perf_counter(self) -> float:
        loop = self._loop_of_this_thread()
        if loop is None:
            return _real_perf_counter()
        return self._perf_base + loop.time()

    # -- patching ------------------------------------------------------------------------------

    def start(self) -> VirtualWallClock:
        """Patch the clocks (see the module notes)."""
        if self._traveller is not None:
            raise RuntimeError("this VirtualWallClock is already started; use a new one")
        self._install()
        self._monotonic_base = _real_monotonic()
        self._perf_base = _real_perf_counter()
        self._saved = {"monotonic": time.monotonic, "perf_counter": time.perf_counter}
        time.monotonic = self._monotonic
        time.perf_counter = self._perf_counter
        return self

    def _install(self) -> None:
        try:
            import time_machine
        except ImportError:
            raise ConfigurationError(
                "a virtual wall clock needs time-machine: pip install 'pytest-agentrig[wallclock]'"
                " (or time-machine)"
            ) from None
        self._travel = time_machine.travel(self.epoch, tick=False)
        self._traveller = self._travel.start()
        # time-machine reads the top traveller's ``time_ns()`` for every patched call: this
        # instance reads the virtual clock instead of a fixed destination.
        self._traveller.time_ns = self._time_ns

    def stop(self) -> None:
        """Restore every clock (idempotent)."""
        if self._traveller is None:
            return
        if time.monotonic == self._monotonic:
            time.monotonic = self._saved["monotonic"]
        if time.perf_counter == self._perf_counter:
            time.perf_counter = self._saved["perf_counter"]
        self._travel.stop()
        self._traveller = None
        self._travel = None

    def __enter__(self) -> VirtualWallClock:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._traveller is not None else "stopped"
        return f"<VirtualWallClock epoch={self.epoch.isoformat()} {state}>"


def virtual_wall_clock(
    *, epoch: dt.datetime | str = DEFAULT_EPOCH, loop: VirtualEventLoop | None = None
) -> VirtualWallClock:
    """A :class:`VirtualWallClock`, to use as ``with virtual_wall_clock(): ...``."""
    return VirtualWallClock(epoch=epoch, loop=loop)


def _datetime_ns(value: dt.datetime) -> int:
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
