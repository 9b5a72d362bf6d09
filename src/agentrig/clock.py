"""The virtual-time event loop: ``asyncio.sleep(120)`` returns at once, at exactly t=120.

Usage::

    import agentrig

    async def main() -> float:
        await asyncio.sleep(120)
        return asyncio.get_running_loop().time()

    assert agentrig.run(main()) == 120.0      # in a few milliseconds of wall time

Implementation notes
--------------------
Everything timed in asyncio goes through ``loop.time()``: ``sleep`` and ``call_later`` become
``call_at(loop.time() + delay)``, ``asyncio.timeout`` and ``wait_for`` (3.12+ built on
``timeouts``) schedule ``call_at`` too. The base loop's ``_run_once`` computes how long it may
block (``timeout``: 0 if callbacks are ready, the distance to the earliest timer, or ``None``
when nothing is scheduled) and calls ``self._selector.select(timeout)``. So a virtual loop needs
two things, and nothing else of asyncio is replaced:

1. ``time()`` is virtual. It is kept as an integer count of microsecond *ticks* (as looptime
   does) and converted to seconds on read: a long run of jumps never accumulates float error,
   and every reading is exactly reproducible. ``_clock_resolution`` is one tick, so a timer due
   within half a tick of "now" fires (the base loop fires timers with
   ``when < time() + _clock_resolution``).
2. ``select(timeout)`` never blocks for a timer. The selector is wrapped: it first polls with a
   zero timeout (real sockets and pipes keep working), and when that finds nothing:

   * thread work is pending (``run_in_executor`` / ``asyncio.to_thread`` futures not yet done,
     or the default executor shutting down): block in *real* time until something happens,
     and do not move the clock. A thread's result therefore arrives at the virtual instant
     its work was started, and no timer can fire "while" a thread runs: timestamps stay
     deterministic however long the thread takes in real time. (looptime jumps here and
     produces spurious TimeoutErrors.)
   * a timer is pending: jump the clock to the earliest timer and return no events; the base
     loop then fires it. Timers fire in the same order as in real time, because they are
     the same heap.
   * nothing is scheduled, nothing is ready, no thread work: the loop would wait forever in
     real time. Wait ``stall_timeout`` real seconds for outside I/O or a foreign thread's
     ``call_soon_threadsafe`` (both wake the selector); if nothing comes, raise
     :class:`~agentrig.StallError` naming the tasks still waiting and where. (looptime hangs.)

3. Timers due at the *same* virtual instant fire in the order they were scheduled. In real
   time two ``sleep(1)`` started one after the other are due microseconds apart, so the first
   started wakes first; in virtual time their deadlines are equal and asyncio's heap would
   order them arbitrarily. ``call_at`` therefore makes timers that break ties by a sequence
   number (:class:`_FifoTimerHandle`).

The earliest timer is read from ``loop._scheduled``, a private attribute of asyncio's base
loop that has had the same meaning (a heap of ``TimerHandle`` whose head is not cancelled when
``select`` runs) from Python 3.4 to 3.13; it is read in
:meth:`VirtualEventLoop._next_timer_when` and pushed to in :meth:`VirtualEventLoop.call_at`,
and nowhere else.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import selectors
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from agentrig._errors import ConfigurationError, StallError

__all__ = ["DEFAULT_STALL_TIMEOUT", "VirtualEventLoop", "new_virtual_loop", "run"]

_T = TypeVar("_T")

#: Real seconds the loop waits for outside I/O before declaring a stall.
DEFAULT_STALL_TIMEOUT = 2.0

_TICKS_PER_SECOND = 1_000_000
# Stall reports point at the innermost frame outside asyncio itself (the user's await).
_ASYNCIO_DIR = os.path.dirname(asyncio.__file__) + os.sep
# While thread work is pending the selector blocks in real time; this bounds one real wait so
# a missed wake-up can never hang the loop (a finished thread wakes it at once anyway).
_THREAD_POLL_SECONDS = 0.25


def _check_seconds(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"`{name}` must be a number of seconds, got {value!r}")
    seconds = float(value)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ConfigurationError(f"`{name}` must be a finite number of seconds, got {value!r}")
    if seconds < 0:
        raise ConfigurationError(f"`{name}` must be non-negative, got {value!r}")
    return seconds


class _FifoTimerHandle(asyncio.TimerHandle):
    """A timer handle ordered by (when, scheduling order): FIFO among equal deadlines."""

    __slots__ = ("_fifo_seq",)

    def __init__(self, seq: int, *args: Any) -> None:
        super().__init__(*args)
        self._fifo_seq = seq

    def __lt__(self, other: asyncio.TimerHandle) -> bool:
        # Hot: every heap push and pop compares. ``_when`` is the attribute ``when()`` reads.
        mine: float = self._when  # type: ignore[attr-defined]
        theirs: float = other._when  # type: ignore[attr-defined]
        if mine != theirs or type(other) is not _FifoTimerHandle:
            return mine < theirs
        return self._fifo_seq < other._fifo_seq


class _VirtualSelector:
    """Wraps the real selector: zero-timeout polls, and clock jumps instead of blocking."""

    def __init__(self, real: selectors.BaseSelector, loop: VirtualEventLoop):
        self._real = real
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        # register/unregister/modify/get_key/get_map/close go to the real selector.
        return getattr(self._real, name)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = self._real.select(0)
        if events or timeout == 0:
            return events
        loop = self._loop
        if loop.has_pending_thread_work():
            # Real time passes, virtual time does not: wait for the thread's wake-up.
            return self._real.select(_THREAD_POLL_SECONDS)
        if timeout is not None:
            loop._jump_to_next_timer()
            return []
        # Nothing ready, no timer, no thread: only the outside world can wake us now.
        events = self._real.select(loop.stall_timeout)
        if events or loop.has_pending_thread_work() or loop._next_timer_when() is not None:
            return events
        raise StallError(loop._describe_stall())


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An asyncio selector loop whose clock is virtual: it starts at 0 and jumps to timers.

    Args:
        stall_timeout: real seconds to wait for outside I/O when nothing is scheduled, nothing
            is ready and no thread work is pending, before raising ``StallError``.
        start: the virtual time the clock starts at (seconds).

    Everything else behaves exactly like the standard loop: callbacks, tasks, sockets, pipes,
    subprocesses and executors work as usual; only waiting for time costs nothing.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> VirtualEventLoop:
        # Validate before any object exists: a half-built loop would complain in __del__.
        _check_seconds("stall_timeout", kwargs.get("stall_timeout", DEFAULT_STALL_TIMEOUT))
        _check_seconds("start", kwargs.get("start", 0.0))
        return super().__new__(cls)

    def __init__(
        self,
        selector: selectors.BaseSelector | None = None,
        *,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        start: float = 0.0,
    ) -> None:
        self.stall_timeout = _check_seconds("stall_timeout", stall_timeout)
        self._ticks = round(_check_seconds("start", start) * _TICKS_PER_SECOND)
        super().__init__(selector)
        self._clock_resolution = 1 / _TICKS_PER_SECOND
        self._pending_thread_work = 0
        self._pending_lock = threading.Lock()
        self._timer_seq = itertools.count()
        # The base class stored the real selector; every select now goes through the wrapper.
        self._selector: Any = _VirtualSelector(self._selector, self)

    def __repr__(self) -> str:
        return (
            f"<VirtualEventLoop t={self.time():.6f} running={self.is_running()}"
            f" closed={self.is_closed()} thread_work={self._pending_thread_work}>"
        )

    # -- the clock ---------------------------------------------------------------------------

    def time(self) -> float:
        """The virtual time in seconds (starts at 0; moves only by jumps and ``advance``)."""
        return self._ticks / _TICKS_PER_SECOND

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``; timers now due fire on the next iteration.

        For tests that drive time by hand (``await asyncio.sleep(0)`` after ``advance`` lets
        the due callbacks run). The clock never moves backwards.

        Raises:
            ConfigurationError: ``seconds`` is negative, NaN or infinite.
        """
        delta = _check_seconds("seconds", seconds)
        self._ticks += round(delta * _TICKS_PER_SECOND)

    def call_at(  # type: ignore[override]
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: Any = None,
    ) -> asyncio.TimerHandle:
        """Like the standard method, but equal deadlines fire in scheduling order."""
        # Mirrors BaseEventLoop.call_at (3.11-3.13) with a FIFO tie-break; private state.
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()  # type: ignore[attr-defined]
        if self.get_debug():
            self._check_thread()  # type: ignore[attr-defined]
            self._check_callback(callback, "call_at")  # type: ignore[attr-defined]
        timer = _FifoTimerHandle(next(self._timer_seq), when, callback, args, self, context)
        if timer._source_traceback:  # type: ignore[attr-defined]
            del timer._source_traceback[-1]  # type: ignore[attr-defined]
        heapq.heappush(self._scheduled, timer)  # type: ignore[attr-defined]
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def rewind(self) -> None:
        """Set the clock back to 0, moving every pending timer by the same amount.

        For a loop shared by several tests (a loop scope wider than function): each test then
        starts at t=0 while timers still pending keep their relative delays and order.
        """
        now = self.time()
        if now == 0:
            return
        # Private asyncio state (see the module notes): shifting every ``_when`` by the same
        # amount keeps the heap valid.
        for handle in self._scheduled:  # type: ignore[attr-defined]
            handle._when -= now
        self._ticks = 0

    def _next_timer_when(self) -> float | None:
        # Private asyncio state, read here only (see the module notes).
        scheduled: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]
        for handle in scheduled[:1]:
            return handle.when()
        return None

    def _jump_to_next_timer(self) -> None:
        when = self._next_timer_when()
        if when is None:
            return
        target = round(when * _TICKS_PER_SECOND)
        if target > self._ticks:
            self._ticks = target

    # -- thread work --------------------------------------------------------------------------

    def has_pending_thread_work(self) -> bool:
        """True while executor work this loop awaits is still running in a thread."""
        return self._pending_thread_work > 0

    def _thread_work_started(self) -> None:
        with self._pending_lock:
            self._pending_thread_work += 1

    def _thread_work_done(self, _: object = None) -> None:
        with self._pending_lock:
            self._pending_thread_work -= 1

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., _T], *args: Any
    ) -> asyncio.Future[_T]:
        """Like the standard method; the clock does not move until the work is done."""
        future = super().run_in_executor(executor, func, *args)
        self._thread_work_started()
        future.add_done_callback(self._thread_work_done)
        return future

    async def shutdown_default_executor(self, *args: Any, **kwargs: Any) -> None:
        """Like the standard method; joining the executor's threads takes no virtual time.

        (On 3.12+ the join is bounded by a 300 s timer that would otherwise fire at once.)
        """
        self._thread_work_started()
        try:
            await super().shutdown_default_executor(*args, **kwargs)
        finally:
            self._thread_work_done()

    # -- stall diagnosis -----------------------------------------------------------------------

    def _describe_stall(self) -> str:
        lines = [
            f"agentrig virtual clock stalled at t={self.time():g}s: nothing is scheduled, "
            "nothing is ready and no thread work is pending, and no I/O arrived within "
            f"{self.stall_timeout:g} real seconds, so this loop would wait forever.",
            "Still waiting:",
        ]
        tasks = sorted(
            (t for t in asyncio.all_tasks(self) if not t.done()), key=lambda t: t.get_name()
        )
        for task in tasks:
            lines.append(f"  - {_describe_task(task)}")
        if not tasks:
            lines.append("  (no task; a bare future or callback is waiting)")
        lines.append(
            "What to do: make sure something resolves what these tasks await (a Future nobody "
            "sets, an Event nobody sets, a Queue nobody fills), run blocking work with "
            "asyncio.to_thread so the clock waits for it, or raise stall_timeout if the test "
            "really waits for outside I/O."
        )
        return "\n".join(lines)


def _describe_task(task: asyncio.Task[Any]) -> str:
    """``Task-3 outer() → inner() at file.py:12``: the await chain down to where it waits."""
    names: list[str] = []
    where = ""
    coro: Any = task.get_coro()
    while coro is not None and len(names) < 20:
        names.append(getattr(coro, "__qualname__", type(coro).__name__) + "()")
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None and not frame.f_code.co_filename.startswith(_ASYNCIO_DIR):
            where = f" at {frame.f_code.co_filename}:{frame.f_lineno}"
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        if coro is not None and not hasattr(coro, "cr_frame") and not hasattr(coro, "gi_frame"):
            break  # a Future or another awaitable: the chain ends here
    if not names:
        names.append(repr(task))
    return f"{task.get_name()} {' → '.join(names)}{where}"


def new_virtual_loop(*, stall_timeout: float = DEFAULT_STALL_TIMEOUT) -> VirtualEventLoop:
    """A fresh :class:`VirtualEventLoop` (a loop factory for ``asyncio.Runner``)."""
    return VirtualEventLoop(stall_timeout=stall_timeout)


def run(
    main: Coroutine[Any, Any, _T],
    *,
    stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    debug: bool | None = None,
) -> _T:
    """Run ``main`` on a fresh virtual-time loop and return its result (like ``asyncio.run``).

    Args:
        main: the coroutine to run.
        stall_timeout: real seconds to wait before declaring the loop stalled.
        debug: asyncio debug mode, as for ``asyncio.run``.

    Raises:
        StallError: the coroutine waits for something that can never happen.
    """
    if not asyncio.iscoroutine(main):
        raise ConfigurationError(
            f"agentrig.run() needs a coroutine object, got {main!r}; "
            "call the async function: agentrig.run(main()) not agentrig.run(main)"
        )
    _check_seconds("stall_timeout", stall_timeout)
    with asyncio.Runner(
        debug=debug, loop_factory=lambda: new_virtual_loop(stall_timeout=stall_timeout)
    ) as runner:
        return runner.run(main)
