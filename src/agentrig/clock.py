"""The virtual-time event loop: ``asyncio.sleep(120)`` returns at once, at exactly t=120.

One concept, one module: the loop's clock, its timer queue, the rule for when it may jump
(nothing runnable, no real work in flight), the stall guard and ``agentrig.run`` are one state
machine read and written on every iteration, so they stay together; the wall clock that
follows it is :mod:`agentrig.wallclock`, argument checks are :mod:`agentrig.checks`.

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
a few things, and nothing else of asyncio is replaced:

1. ``time()`` is virtual. It is kept as an integer count of microsecond *ticks* (as looptime
   does) and converted to seconds on read. Timers carry integer ticks too (``call_later``
   adds the delay in ticks, never through a float sum), the heap orders them by ticks, and a
   jump lands on the timer's exact tick: no float error accumulates, ``sleep(1e12)`` followed
   by ``sleep(1e-5)`` ends exactly 10 ticks later. Beyond 2**32 s a float seconds reading is
   coarser than a tick, so ``_clock_resolution`` (the base loop fires timers with
   ``when < time() + _clock_resolution``) widens to one float step there. A timer due after
   ``_NEVER_SECONDS`` (``sleep(inf)``, ``timeout(1e303)``) is never reached: as on a real
   loop the wait never ends, so it is treated like no timer at all (the stall guard below).

2. ``select(timeout)`` never blocks for a timer. The selector is wrapped: it first polls with a
   zero timeout (real sockets and pipes keep working), and when that finds nothing:

   * *real work is in flight* (see below): block in real time until something happens, and
     do not move the clock. The result therefore arrives at the virtual instant the work was
     started, and no timer (a client's own timeout) can fire "while" it runs: timestamps stay
     deterministic however long the work takes in real time (looptime jumps here and produces
     spurious TimeoutErrors). If nothing at all happens for ``real_work_timeout`` real
     seconds, :class:`~agentrig.StallError` names the work it waited for.
   * a timer is pending: jump the clock to the earliest timer and return no events; the base
     loop then fires it. Timers fire in the same order as in real time, because they are
     the same heap.
   * nothing is scheduled, nothing is ready, nothing in flight: the loop would wait forever in
     real time. Wait ``stall_timeout`` real seconds for outside I/O or a foreign thread's
     ``call_soon_threadsafe`` (both wake the selector); if nothing comes, raise
     :class:`~agentrig.StallError` naming the tasks still waiting and where. (looptime hangs.)

3. Timers due at the *same* virtual instant fire in the order they were scheduled. In real
   time two ``sleep(1)`` started one after the other are due microseconds apart, so the first
   started wakes first; in virtual time their deadlines are equal and asyncio's heap would
   order them arbitrarily. Timers therefore break ties by a sequence number
   (:class:`_FifoTimerHandle`).

4. Busy-waiting. ``while not deadline.expired(): await asyncio.sleep(0)`` never blocks, so the
   loop never reaches a jump; on a real loop real time passes while it spins. Here, once the
   loop has run ``_SPIN_LIMIT`` consecutive iterations at one virtual instant with nothing but
   ready callbacks (no I/O, no timer due, no real work in flight), every further such iteration
   moves the clock by ``_SPIN_STEP_TICKS`` (10 ms): a polling loop then sees time pass, at a fixed,
   reproducible rate. Ordinary code never comes near the limit (one iteration runs *every*
   ready callback, so a 10,000-agent broadcast takes a handful per instant).

What counts as real work in flight
----------------------------------
* Thread work: futures made by ``asyncio.wrap_future`` (so ``run_in_executor``,
  ``asyncio.to_thread`` and ``wrap_future(pool.submit(...))``) until they are done, the
  default executor's shutdown, and :func:`real_work` handles. A thread that submits a
  coroutine with ``run_coroutine_threadsafe`` is taken to wait for it: until that coroutine
  ends, the thread's work does not hold the clock (otherwise a ``to_thread`` function waiting
  on a loop timer deadlocks). Thread results are delivered in the order the work was
  submitted, not the order the threads happened to finish -- unless an earlier thread keeps
  them waiting for ``_HOLD_SECONDS`` (1 s) of real time while the loop has nothing else to do
  (it may itself wait for what they unblock): then they go, still in submission order.
* A child process started through the loop (``asyncio.create_subprocess_*``) until it exits;
  once the program has written to its stdin pipe (and keeps it open) it is a server (an MCP
  server over stdio): in flight only while a write to it has no answer on stdout/stderr yet.
* A client socket connection (a transport the loop made for ``create_connection`` /
  ``open_connection``, or a socket written with ``sock_sendall``) that was written to and has
  not been readable since: a request whose reply is outstanding. An idle keep-alive
  connection (its last reply arrived) holds nothing. A connection to a server of this same
  loop (``create_server``) is not outside work: its reply needs this loop's own time.
* A file descriptor waiting to become writable (a connect in progress, a full send buffer).

Not covered: threads the loop cannot see (``threading.Thread``, anyio's worker threads) and
replies that arrive in pieces with real pauses after the first piece (a real server streaming
events): wrap them in :func:`real_work`.

Private asyncio state used here, each in one place: ``loop._scheduled`` (the timer heap, from
Python 3.4 to 3.13 a heap of ``TimerHandle`` whose head is not cancelled when ``select`` runs;
read in :meth:`VirtualEventLoop._next_timer`, pushed to in :meth:`VirtualEventLoop._push_timer`);
``TimerHandle._when``; ``_make_socket_transport`` / ``_make_ssl_transport`` (the hook where the
loop makes socket transports); the code objects of ``asyncio.futures.wrap_future``, the
``_set_state`` closure of ``asyncio.futures._chain_future`` and the ``callback`` closure of
``asyncio.run_coroutine_threadsafe`` (found in :data:`_ASYNCIO_CODE`), which is how thread work
is recognised without patching asyncio.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import heapq
import importlib
import itertools
import math
import os
import selectors
import shlex
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from types import CodeType, TracebackType
from typing import Any, TypeVar

from agentrig._errors import ConfigurationError, StallError
from agentrig.checks import check_seconds

__all__ = [
    "DEFAULT_REAL_WORK_TIMEOUT",
    "DEFAULT_STALL_TIMEOUT",
    "MAX_STALL_TIMEOUT",
    "RealWork",
    "VirtualEventLoop",
    "executor_origin",
    "new_virtual_loop",
    "real_work",
    "run",
]

_T = TypeVar("_T")

#: Real seconds the loop waits for outside I/O, with nothing in flight, before declaring a stall.
DEFAULT_STALL_TIMEOUT = 2.0
#: Real seconds the loop waits for in-flight real work that shows no sign of life.
DEFAULT_REAL_WORK_TIMEOUT = 60.0
#: The longest real wait either bound may ask for (asyncio's own longest select, one day).
MAX_STALL_TIMEOUT = 86_400.0

_TICKS_PER_SECOND = 1_000_000
# Timers due later than this never come (a real loop would wait for them forever).
_NEVER_SECONDS = 1e15
_NEVER_TICKS = 10**30
# Below 2**32 s, ``time() + 1e-6`` is always a larger float: one tick is a fine resolution.
_EXACT_TICKS = 2**32 * _TICKS_PER_SECOND
_RESOLUTION = 1 / _TICKS_PER_SECOND
_SPIN_LIMIT = 50_000
_SPIN_STEP_TICKS = 10_000  # 10 ms
# Stall reports point at the innermost frame outside asyncio itself (the user's await).
_ASYNCIO_DIR = os.path.dirname(asyncio.__file__) + os.sep
# While real work is in flight the selector blocks in real time; this bounds one real wait so
# a missed wake-up can never hang the loop (finished work wakes it at once anyway).
_REAL_POLL_SECONDS = 0.25
# Real time, whatever a test patches (the wall-clock patch replaces ``time.monotonic``).
_real_monotonic = time.monotonic
# After a reply's first piece, how long a never-pausing reader's connection stays in flight.
_REPLY_GRACE_SECONDS = 0.1
# How long finished thread results wait (real time, loop otherwise idle) for an earlier thread.
_HOLD_SECONDS = 1.0


# While a virtual loop runs, the young generation collects after this many allocations
# instead of 700 (CPython's default), the older ones after 20 and 100 younger passes instead of
# 10 and 10. A 10,000-agent broadcast allocates hundreds of thousands of long-lived objects
# (tasks, frames, span records) in virtual milliseconds; at the defaults the collector ran ~770
# young and 6 full passes over all of them, 36-45% of the run. Garbage still goes (thresholds
# only space the passes out); the setting is restored when the last running virtual loop stops.
_YOUNG_THRESHOLD = 50_000
_gc_lock = threading.Lock()
_gc_state: list[Any] = [0, None]  # [running virtual loops, thresholds to restore]


class _CollectorSpaced:
    """``with _COLLECTOR_SPACED:`` around a run of a virtual loop (a class, not a
    generator-based context manager: this runs at every ``run_until_complete``)."""

    __slots__ = ()

    def __enter__(self) -> None:
        with _gc_lock:
            if _gc_state[0] == 0:
                old = gc.get_threshold()
                _gc_state[1] = old
                if old[0] and old[0] < _YOUNG_THRESHOLD:
                    gc.set_threshold(_YOUNG_THRESHOLD, max(old[1], 20), max(old[2], 100))
            _gc_state[0] += 1

    def __exit__(self, *exc_info: object) -> None:
        with _gc_lock:
            _gc_state[0] -= 1
            if _gc_state[0] == 0 and _gc_state[1] is not None:
                if gc.get_threshold()[0] == _YOUNG_THRESHOLD:  # nobody changed it meanwhile
                    gc.set_threshold(*_gc_state[1])
                _gc_state[1] = None


_COLLECTOR_SPACED = _CollectorSpaced()


def _find_code(func: Any, name: str | None = None) -> CodeType | None:
    """The code object of ``func`` or of its nested function ``name`` (None if not found)."""
    code = getattr(func, "__code__", None)
    if not isinstance(code, CodeType) or name is None:
        return code
    for const in code.co_consts:
        if isinstance(const, CodeType) and const.co_name == name:
            return const
    return None


# asyncio private code objects (see the module notes). Each is None if a Python version
# reshapes the function; the feature it drives then does nothing (tests pin them down).
_ASYNCIO_CODE = {
    "wrap_future": _find_code(asyncio.futures.wrap_future),
    "set_state": _find_code(asyncio.futures._chain_future, "_set_state"),  # type: ignore[attr-defined]
    "threadsafe_coroutine": _find_code(asyncio.run_coroutine_threadsafe, "callback"),
}
_WRAP_FUTURE_CODE = _ASYNCIO_CODE["wrap_future"]
_SET_STATE_CODE = _ASYNCIO_CODE["set_state"]
_THREADSAFE_CORO_CODE = _ASYNCIO_CODE["threadsafe_coroutine"]


# The task that started the executor work running on this thread (see ``executor_origin``).
_executor_local = threading.local()


def executor_origin() -> asyncio.Task[Any] | None:
    """The task whose ``run_in_executor`` / ``to_thread`` work runs on this thread, if any.

    Only work started on a :class:`VirtualEventLoop` is known; a recording uses it to put
    thread work on the strand of the task that waits for it (``agentrig.recording``).
    """
    return getattr(_executor_local, "task", None)


class _ExecutorWork:
    """Executor work that remembers the task that started it, while it runs."""

    __slots__ = ("args", "func", "origin")

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...], origin: Any) -> None:
        self.func, self.args, self.origin = func, args, origin

    def __call__(self) -> Any:
        local = _executor_local
        outer = getattr(local, "task", None)
        local.task = self.origin
        try:
            return self.func(*self.args)
        finally:
            local.task = outer


def _ticks_of(seconds: float) -> int:
    """``seconds`` as ticks: NaN is now-ish (fires at once, as on a real loop), huge is never."""
    if seconds != seconds:
        return -_NEVER_TICKS
    if seconds >= _NEVER_SECONDS:
        return _NEVER_TICKS
    if seconds <= -_NEVER_SECONDS:
        return -_NEVER_TICKS
    return round(seconds * _TICKS_PER_SECOND)


class _FifoTimerHandle(asyncio.TimerHandle):
    """A timer handle ordered by (ticks, scheduling order): FIFO among equal deadlines."""

    __slots__ = ("_fifo_key", "_ticks")

    def __init__(self, seq: int, ticks: int, *args: Any) -> None:
        super().__init__(*args)
        self._ticks = ticks
        # (ticks, seq) as one int: ticks in the high bits, the scheduling order (below
        # 2**64: a loop never schedules that many timers) in the low 64.
        self._fifo_key = (ticks << 64) + seq

    def __lt__(self, other: asyncio.TimerHandle) -> bool:
        # Hot: every heap push and pop compares (131,029 times in a 10,000-agent broadcast):
        # one int comparison. Every timer of the loop is a _FifoTimerHandle.
        return self._fifo_key < other._fifo_key  # type: ignore[attr-defined, no-any-return]


class _FarTimerHandle(_FifoTimerHandle):
    """A timer beyond 2**32 s, where float seconds are coarser than ticks: the base loop may
    pop it a few ticks early (its ``_when`` equals the current reading), so running it moves
    the clock to its own tick first."""

    __slots__ = ()

    def _run(self) -> None:
        loop: VirtualEventLoop = self._loop  # type: ignore[attr-defined]
        if self._ticks > loop._ticks:
            loop._set_ticks(self._ticks)
        super()._run()


class _Conn:
    """A connection (or a child's stdio) whose reply the loop may be waiting for.

    ``replied`` is False from a write until the first readable event; after it, the reply may
    still be arriving in pieces: the connection stays in flight while its reader was
    re-registered since (the client asked for more, as anyio does around every receive), or,
    for a reader that never pauses (asyncio streams, aiohttp), for ``_REPLY_GRACE_SECONDS`` of
    real time after its last readable event.
    """

    __slots__ = ("asked", "closed", "label", "last_read", "paused", "read_fds", "replied")

    def __init__(self, label: str, read_fds: tuple[int, ...], closed: Callable[[], bool]) -> None:
        self.label = label
        self.read_fds = read_fds
        self.closed = closed  # a closed connection awaits nothing (and its fd may be reused)
        self.replied = False
        self.asked = False
        self.paused = False
        self.last_read = 0.0

    def in_flight(self, now: float) -> bool:
        if not self.replied:
            return True
        if self.paused:
            return False
        return self.asked or now - self.last_read < _REPLY_GRACE_SECONDS


class RealWork:
    """Real work the virtual clock waits for: counted from creation until :meth:`done`.

    Made by :func:`real_work` or :meth:`VirtualEventLoop.real_work`; a context manager, and
    :meth:`done` may be called from any thread (it wakes the loop). A handle made where no
    virtual loop runs counts nothing, so production code may use it freely.
    """

    __slots__ = ("_done", "_loop", "name")

    def __init__(self, loop: VirtualEventLoop | None, name: str) -> None:
        self.name = name
        self._loop = loop
        self._done = loop is None
        if loop is not None:
            loop._real_work_started(self)

    def done(self) -> None:
        """The work is over: the clock may move again (idempotent, thread-safe)."""
        loop = self._loop
        if loop is None:
            return
        with loop._pending_lock:
            if self._done:
                return
            self._done = True
        loop._real_work_finished(self)

    def __enter__(self) -> RealWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.done()

    def __repr__(self) -> str:
        return f"<RealWork {self.name!r} {'done' if self._done else 'in flight'}>"


def real_work(name: str, *, loop: asyncio.AbstractEventLoop | None = None) -> RealWork:
    """Tell the virtual clock that real work it cannot see is in flight: it will not move.

    For threads the loop does not know of (``threading.Thread``, anyio's worker threads) and
    replies it cannot recognise (a real server streaming in pieces). Create the handle *before*
    the work starts (on the loop thread), end it when the result is handed to the loop::

        work = agentrig.clock.real_work("indexer")        # the clock holds from here
        def index() -> None:
            with work:                                    # ... until this block ends
                loop.call_soon_threadsafe(results.put_nowait, crunch())
        threading.Thread(target=index).start()

    Args:
        name: shown by the stall guard if the work never ends.
        loop: the loop to tell (default: the running loop). Without a virtual loop the
            handle counts nothing.
    """
    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
    return RealWork(loop if isinstance(loop, VirtualEventLoop) else None, name)


class _VirtualSelector:
    """Wraps the real selector: zero-timeout polls, and clock jumps instead of blocking."""

    def __init__(self, real: selectors.BaseSelector, loop: VirtualEventLoop):
        self._real = real
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        # get_key/get_map/close go to the real selector.
        return getattr(self._real, name)

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = self._real.register(fileobj, events, data)
        self._loop._note_registration(key.fd, events)
        return key

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = self._real.modify(fileobj, events, data)
        self._loop._note_registration(key.fd, events)
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        key = self._real.unregister(fileobj)
        self._loop._note_registration(key.fd, 0)
        return key

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self._loop
        events = self._real.select(0)
        if events:
            if loop._awaiting:
                loop._note_events(events)
            loop._spins = 0
            return events
        if timeout == 0:
            # Only ready callbacks: count the iteration, in case the program is busy-waiting.
            if loop._ticks != loop._spin_ticks:
                loop._spin_ticks = loop._ticks
                loop._spins = 0
            else:
                loop._spins += 1
                if loop._spins > _SPIN_LIMIT and not loop._has_real_work():
                    loop._set_ticks(loop._ticks + _SPIN_STEP_TICKS)
                    loop._spin_ticks = loop._ticks
                    loop._spins = _SPIN_LIMIT
            return events
        if loop._has_real_work():
            return loop._wait_for_real_work(self._real)
        loop._real_wait_since = None
        if timeout is not None:
            when = loop._next_timer()
            if when is not None and when < _NEVER_TICKS:
                if when > loop._ticks:
                    loop._set_ticks(when)
                return []
        # Nothing ready, no reachable timer, nothing in flight: only the outside world can
        # wake us now.
        events = self._real.select(loop.stall_timeout)
        if events:
            if loop._awaiting:
                loop._note_events(events)
            return events
        if loop._has_real_work() or loop._has_reachable_timer():
            return events
        raise StallError(loop._describe_stall())


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An asyncio selector loop whose clock is virtual: it starts at 0 and jumps to timers.

    Args:
        stall_timeout: real seconds to wait for outside I/O when nothing is scheduled, nothing
            is ready and no real work is in flight, before raising ``StallError`` (at most
            one day).
        real_work_timeout: real seconds to wait for real work in flight (threads, child
            processes, outstanding replies) while nothing at all happens, before raising
            ``StallError`` naming that work (at most one day).
        start: the virtual time the clock starts at (seconds).

    Everything else behaves exactly like the standard loop: callbacks, tasks, sockets, pipes,
    subprocesses and executors work as usual; only waiting for time costs nothing.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> VirtualEventLoop:
        # Validate before any object exists: a half-built loop would complain in __del__.
        check_seconds(
            kwargs.get("stall_timeout", DEFAULT_STALL_TIMEOUT),
            "stall_timeout",
            most=MAX_STALL_TIMEOUT,
        )
        check_seconds(
            kwargs.get("real_work_timeout", DEFAULT_REAL_WORK_TIMEOUT),
            "real_work_timeout",
            most=MAX_STALL_TIMEOUT,
        )
        start = check_seconds(kwargs.get("start", 0.0), "start")
        if start >= _NEVER_SECONDS:
            raise ConfigurationError(f"`start` must be below {_NEVER_SECONDS:g}, got {start!r}")
        return super().__new__(cls)

    def __init__(
        self,
        selector: selectors.BaseSelector | None = None,
        *,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        real_work_timeout: float = DEFAULT_REAL_WORK_TIMEOUT,
        start: float = 0.0,
    ) -> None:
        self.stall_timeout = check_seconds(stall_timeout, "stall_timeout", most=MAX_STALL_TIMEOUT)
        self.real_work_timeout = check_seconds(
            real_work_timeout, "real_work_timeout", most=MAX_STALL_TIMEOUT
        )
        self._ticks = 0
        super().__init__(selector)
        self._clock_resolution = _RESOLUTION
        self._set_ticks(round(check_seconds(start, "start") * _TICKS_PER_SECOND))
        self._timer_seq = itertools.count()
        self._spins = 0
        self._spin_ticks = -1
        # Real work in flight (see the module notes). Threads touch these under the lock.
        self._pending_lock = threading.Lock()
        self._pending_thread_work = 0
        self._threads_waiting_on_loop = 0
        self._thread_seq = itertools.count()
        self._thread_order: dict[int, asyncio.Future[Any]] = {}  # submission order
        self._thread_labels: dict[int, str] = {}
        self._thread_held: dict[int, tuple[Callable[..., object], tuple[Any, ...]]] = {}
        self._thread_seq_of: dict[int, int] = {}  # id(future) -> seq
        self._thread_released: set[int] = set()  # delivered, future not yet done
        self._next_thread_label: str | None = None
        self._real_works: dict[int, RealWork] = {}
        self._awaiting: dict[int, _Conn] = {}  # read fd -> the connection awaiting a reply
        self._writers: set[int] = set()
        self._processes: dict[Any, tuple[str, list[bool]]] = {}  # transport -> (label, [server])
        self._listening: set[tuple[Any, ...]] = set()
        self._real_wait_since: float | None = None
        self._held_since: float | None = None
        # Tasks whose timeline began before the last ``rewind(inherit_pending=True)``.
        # (None until then: a recording asks on every record.)
        self._inherited_tasks: weakref.WeakSet[asyncio.Task[Any]] | None = None
        # The base class stored the real selector; every select now goes through the wrapper.
        self._selector: Any = _VirtualSelector(self._selector, self)

    def __repr__(self) -> str:
        return (
            f"<VirtualEventLoop t={self.time():.6f} running={self.is_running()}"
            f" closed={self.is_closed()} thread_work={self._pending_thread_work}>"
        )

    def run_forever(self) -> None:
        """Like the standard method, with the cyclic collector spaced out (module top)."""
        with _COLLECTOR_SPACED:
            super().run_forever()

    # -- the clock ---------------------------------------------------------------------------

    def time(self) -> float:
        """The virtual time in seconds (starts at 0; moves only by jumps and ``advance``)."""
        return self._ticks / _TICKS_PER_SECOND

    def time_us(self) -> int:
        """The virtual time in whole microseconds (exact at any magnitude)."""
        return self._ticks

    def _set_ticks(self, ticks: int) -> None:
        self._ticks = ticks
        if ticks >= _EXACT_TICKS:
            # A float this large is coarser than a tick: fire what ``time()`` cannot tell apart.
            self._clock_resolution = max(_RESOLUTION, math.ulp(ticks / _TICKS_PER_SECOND))

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``; timers now due fire on the next iteration.

        For tests that drive time by hand (``await asyncio.sleep(0)`` after ``advance`` lets
        the due callbacks run). The clock never moves backwards.

        Raises:
            ConfigurationError: ``seconds`` is negative, NaN, infinite or too large.
        """
        delta = check_seconds(seconds, "seconds", most=_NEVER_SECONDS)
        self._set_ticks(self._ticks + round(delta * _TICKS_PER_SECOND))

    def call_at(  # type: ignore[override]
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: Any = None,
    ) -> asyncio.TimerHandle:
        """Like the standard method, but equal deadlines fire in scheduling order."""
        if when is None:
            raise TypeError("when cannot be None")
        return self._push_timer(_ticks_of(when), callback, args, context, "call_at")

    def call_later(  # type: ignore[override]
        self,
        delay: float,
        callback: Callable[..., object],
        *args: Any,
        context: Any = None,
    ) -> asyncio.TimerHandle:
        """Like the standard method; the delay is added in whole ticks (no float error)."""
        if delay is None:
            raise TypeError("delay must not be None")
        ticks = _ticks_of(delay)
        if -_NEVER_TICKS < ticks < _NEVER_TICKS:
            ticks += self._ticks
        return self._push_timer(ticks, callback, args, context, "call_later")

    def _push_timer(
        self,
        ticks: int,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        context: Any,
        method: str,
    ) -> asyncio.TimerHandle:
        # Mirrors BaseEventLoop.call_at (3.11-3.13) with a FIFO tie-break; private state.
        self._check_closed()  # type: ignore[attr-defined]
        if self.get_debug():
            self._check_thread()  # type: ignore[attr-defined]
            self._check_callback(callback, method)  # type: ignore[attr-defined]
        if ticks >= _NEVER_TICKS:
            when = float("inf")
        elif ticks <= -_NEVER_TICKS:
            when = float("-inf")
        else:
            when = ticks / _TICKS_PER_SECOND
        kind = _FifoTimerHandle if ticks < _EXACT_TICKS else _FarTimerHandle
        timer = kind(next(self._timer_seq), ticks, when, callback, args, self, context)
        if timer._source_traceback:  # type: ignore[attr-defined]
            del timer._source_traceback[-1]  # type: ignore[attr-defined]
        heapq.heappush(self._scheduled, timer)  # type: ignore[attr-defined]
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def rewind(self, *, inherit_pending: bool = False) -> None:
        """Set the clock back to 0, moving every pending timer by the same amount.

        For a loop shared by several tests (a loop scope wider than function): each test then
        starts at t=0 while timers still pending keep their relative delays and order.

        Args:
            inherit_pending: what is pending now belongs to earlier work (a test that ran
                before on this loop, a wider-scoped fixture). The tasks that the pending
                timers and ready callbacks would wake are marked *inherited*, and so are the
                tasks they create: their timeline depends on what ran before, so a recording
                keeps their records apart (``Recording.inherited``). Marks from an earlier
                rewind are replaced.
        """
        if inherit_pending:
            pending = self._pending_tasks()
            self._inherited_tasks = weakref.WeakSet(pending) if pending else None
        now = self._ticks
        if now == 0:
            return
        # Private asyncio state (see the module notes): shifting every timer by the same
        # amount keeps the heap valid.
        for handle in self._scheduled:  # type: ignore[attr-defined]
            if -_NEVER_TICKS < handle._ticks < _NEVER_TICKS:
                handle._ticks -= now
                handle._fifo_key -= now << 64
                handle._when = handle._ticks / _TICKS_PER_SECOND
        self._ticks = 0
        self._clock_resolution = _RESOLUTION
        self._spin_ticks = -1

    def _pending_tasks(self) -> list[asyncio.Task[Any]]:
        """The tasks the pending timers and ready callbacks would wake (asyncio private).

        A timer wakes a task through the future it resolves (``sleep``, 3.11 ``wait_for``),
        as the task's bound method (``call_later(d, task.cancel)``, a task step) or through
        an object that names the task (``asyncio.timeout``'s ``_task``).
        """
        found: list[asyncio.Task[Any]] = []
        handles = [*self._scheduled, *self._ready]  # type: ignore[attr-defined]
        for handle in handles:
            if handle.cancelled():
                continue
            callback = handle._callback
            owner = getattr(callback, "__self__", None)
            named = getattr(owner, "_task", None)
            if isinstance(owner, asyncio.Task):
                found.append(owner)
            elif isinstance(named, asyncio.Task):
                found.append(named)
            for arg in handle._args or ():
                if isinstance(arg, asyncio.Future):
                    for cb, _ in getattr(arg, "_callbacks", None) or ():
                        task = getattr(cb, "__self__", None)
                        if isinstance(task, asyncio.Task):
                            found.append(task)
        return [task for task in found if not task.done()]

    def create_task(self, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        """Like the standard method; a task made by an inherited task is inherited too."""
        task = super().create_task(coro, **kwargs)
        inherited = self._inherited_tasks
        if inherited is not None:
            parent = asyncio.current_task(self)
            if parent is not None and parent in inherited:
                inherited.add(task)
        return task

    def _next_timer(self) -> int | None:
        """The earliest timer's ticks (private asyncio state, read here only)."""
        scheduled: list[_FifoTimerHandle] = self._scheduled  # type: ignore[attr-defined]
        for handle in scheduled[:1]:
            return handle._ticks
        return None

    def _next_timer_when(self) -> float | None:
        ticks = self._next_timer()
        return None if ticks is None else ticks / _TICKS_PER_SECOND

    def _has_reachable_timer(self) -> bool:
        ticks = self._next_timer()
        return ticks is not None and ticks < _NEVER_TICKS

    # -- real work in flight -------------------------------------------------------------------

    def has_pending_thread_work(self) -> bool:
        """True while thread work this loop awaits (and that does not wait on it) runs."""
        return self._pending_thread_work - self._threads_waiting_on_loop > 0

    def has_real_work(self) -> bool:
        """True while real work holds the clock (threads, processes, outstanding replies)."""
        return self._has_real_work()

    def _has_real_work(self) -> bool:
        # Hot (every jump asks): four reads when nothing is in flight.
        if self._pending_thread_work - self._threads_waiting_on_loop > 0:
            return True
        if self._writers:
            return True
        if self._awaiting and self._replies_in_flight():
            return True
        if self._processes:
            return self._processes_in_flight() != []
        return False

    def real_work(self, name: str) -> RealWork:
        """A :class:`RealWork` handle on this loop (see :func:`real_work`)."""
        return RealWork(self, name)

    def _real_work_started(self, work: RealWork) -> None:
        with self._pending_lock:
            self._pending_thread_work += 1
            self._real_works[id(work)] = work

    def _real_work_finished(self, work: RealWork) -> None:
        with self._pending_lock:
            self._pending_thread_work -= 1
            self._real_works.pop(id(work), None)
        if not self.is_closed():
            self._write_to_self()  # type: ignore[attr-defined]  # wake a blocked select

    def _wait_for_real_work(self, real: selectors.BaseSelector) -> list[Any]:
        """Block in real time (bounded) while real work is in flight; the clock stays put."""
        now = _real_monotonic()
        if self._real_wait_since is None:
            self._real_wait_since = now
        elif now - self._real_wait_since >= self.real_work_timeout:
            self._real_wait_since = None
            raise StallError(self._describe_real_work_stall())
        if self._thread_held:
            if self._held_since is None:
                self._held_since = now
            elif now - self._held_since >= _HOLD_SECONDS:
                self._held_since = None
                self._deliver_thread_results(overdue=True)
                return []
        else:
            self._held_since = None
        short = self._awaiting or self._thread_held
        events = real.select(_REPLY_GRACE_SECONDS if short else _REAL_POLL_SECONDS)
        if events:
            self._real_wait_since = None
            if self._awaiting:
                self._note_events(events)
        return events

    def _note_registration(self, fd: int, events: int) -> None:
        if events & selectors.EVENT_WRITE:
            self._writers.add(fd)
        else:
            self._writers.discard(fd)
        conn = self._awaiting.get(fd)
        if conn is not None and conn.replied:
            # Reading resumed after a piece of the reply: the client waits for more of it.
            # Reading paused: the client has what it asked for and is busy with it.
            reading = bool(events & selectors.EVENT_READ)
            conn.asked, conn.paused = reading, not reading

    def _replies_in_flight(self) -> list[_Conn]:
        now = _real_monotonic()
        busy: list[_Conn] = []
        for fd, conn in list(self._awaiting.items()):
            if conn.closed():
                del self._awaiting[fd]
            elif conn.in_flight(now) and conn not in busy:
                busy.append(conn)
        return busy

    def _note_events(self, events: list[tuple[selectors.SelectorKey, int]]) -> None:
        awaiting = self._awaiting
        now = -1.0
        for key, mask in events:
            if mask & selectors.EVENT_READ:
                conn = awaiting.get(key.fd)
                if conn is not None:
                    if now < 0:
                        now = _real_monotonic()
                    conn.replied, conn.asked, conn.paused, conn.last_read = True, False, False, now

    def _expect_reply(self, conn: _Conn) -> None:
        conn.replied = conn.asked = conn.paused = False
        for fd in conn.read_fds:
            self._awaiting[fd] = conn

    # threads -------------------------------------------------------------------------------

    def create_future(self) -> asyncio.Future[Any]:
        """Like the standard method; a future made by ``asyncio.wrap_future`` is thread work."""
        future: asyncio.Future[Any] = asyncio.Future(loop=self)
        # The caller's code object tells wrap_future apart (see the module notes).
        if sys._getframe(1).f_code is _WRAP_FUTURE_CODE:
            self._track_thread_future(future)
        return future

    def _track_thread_future(self, future: asyncio.Future[Any]) -> None:
        seq = next(self._thread_seq)
        label = self._next_thread_label or "asyncio.wrap_future(...)"
        self._next_thread_label = None
        with self._pending_lock:
            self._pending_thread_work += 1
            self._thread_order[seq] = future
            self._thread_labels[seq] = label
            self._thread_seq_of[id(future)] = seq

        def finished(_: object) -> None:
            with self._pending_lock:
                self._pending_thread_work -= 1
                self._thread_order.pop(seq, None)
                self._thread_labels.pop(seq, None)
                self._thread_seq_of.pop(id(future), None)
                self._thread_released.discard(seq)
                held = bool(self._thread_held)
            if held:
                self._deliver_thread_results()

        future.add_done_callback(finished)

    def _deliver_thread_results(self, *, overdue: bool = False) -> None:
        """Hand finished thread results to their futures in submission order (loop thread).

        ``overdue``: an earlier thread has kept later results waiting for ``_HOLD_SECONDS``
        of real time with nothing else to do; it may be waiting for them (threads that
        coordinate through the loop), so they go now, still in submission order.
        """
        release: list[tuple[Callable[..., object], tuple[Any, ...]]] = []
        with self._pending_lock:
            for seq in self._thread_order:
                if seq in self._thread_released:
                    continue
                held = self._thread_held.pop(seq, None)
                if held is None:
                    if overdue:
                        continue
                    break  # still running: results submitted after it wait for it
                self._thread_released.add(seq)
                release.append(held)
        for callback, args in release:
            self.call_soon(callback, *args)

    def call_soon_threadsafe(  # type: ignore[override]
        self, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.Handle:
        """Like the standard method; thread results are held back to keep submission order."""
        code = getattr(callback, "__code__", None)
        if code is _SET_STATE_CODE and code is not None and args:
            seq = self._thread_seq_of.get(id(args[0]))
            if seq is not None:
                with self._pending_lock:
                    self._thread_held[seq] = (callback, args)
                return super().call_soon_threadsafe(self._deliver_thread_results)
        elif code is _THREADSAFE_CORO_CODE and code is not None:
            self._thread_waits_on_loop(callback)
        return super().call_soon_threadsafe(callback, *args, context=context)

    def _thread_waits_on_loop(self, callback: Callable[..., object]) -> None:
        """A thread submitted a coroutine (run_coroutine_threadsafe): it waits for its end."""
        if threading.get_ident() == getattr(self, "_thread_id", None):
            return
        cells = dict(zip(callback.__code__.co_freevars, callback.__closure__ or (), strict=False))
        cell = cells.get("future")
        result = cell.cell_contents if cell is not None else None
        if result is None or not hasattr(result, "add_done_callback"):
            return
        with self._pending_lock:
            self._threads_waiting_on_loop += 1

        def resumed(_: object) -> None:
            with self._pending_lock:
                self._threads_waiting_on_loop -= 1

        result.add_done_callback(resumed)

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Callable[..., _T], *args: Any
    ) -> asyncio.Future[_T]:
        """Like the standard method; the clock does not move until the work is done."""
        self._next_thread_label = f"run_in_executor({_callable_name(func)})"
        origin = asyncio.current_task(self)
        try:
            if origin is None:
                return super().run_in_executor(executor, func, *args)
            return super().run_in_executor(executor, _ExecutorWork(func, args, origin))
        finally:
            self._next_thread_label = None

    async def shutdown_default_executor(self, *args: Any, **kwargs: Any) -> None:
        """Like the standard method; joining the executor's threads takes no virtual time.

        (On 3.12+ the join is bounded by a 300 s timer that would otherwise fire at once.)
        """
        with self.real_work("shutting down the default executor"):
            await super().shutdown_default_executor(*args, **kwargs)

    # sockets -------------------------------------------------------------------------------

    def _make_socket_transport(
        self, sock: Any, protocol: Any, waiter: Any = None, **kwargs: Any
    ) -> Any:
        # asyncio private hook (3.4-3.13): where the loop makes a socket transport.
        transport = super()._make_socket_transport(  # type: ignore[misc]
            sock, protocol, waiter, **kwargs
        )
        if kwargs.get("server") is None:
            self._track_client(transport, sock, handshake=False)
        return transport

    def _make_ssl_transport(
        self, rawsock: Any, protocol: Any, sslcontext: Any, waiter: Any = None, **kwargs: Any
    ) -> Any:
        # asyncio private hook, as above; the TLS handshake is itself a request.
        transport = super()._make_ssl_transport(  # type: ignore[misc]
            rawsock, protocol, sslcontext, waiter, **kwargs
        )
        if not kwargs.get("server_side") and kwargs.get("server") is None:
            self._track_client(transport, rawsock, handshake=True)
        return transport

    def _track_client(self, transport: Any, sock: Any, *, handshake: bool) -> None:
        try:
            fd = sock.fileno()
            local, peer = sock.getsockname(), sock.getpeername()
        except (OSError, AttributeError):
            return
        if self._is_own_server(peer):
            return  # its reply is made by this loop, in virtual time
        conn = _Conn(f"socket {_address(local)} -> {_address(peer)}", (fd,), transport.is_closing)
        _count_writes(transport, lambda: self._expect_reply(conn))
        if handshake:
            self._expect_reply(conn)

    def _is_own_server(self, peer: Any) -> bool:
        if not self._listening:
            return False
        if isinstance(peer, tuple) and len(peer) >= 2:
            host, port = peer[0], peer[1]
            return any(
                len(addr) >= 2 and addr[1] == port and addr[0] in (host, "0.0.0.0", "::", "")
                for addr in self._listening
            )
        return (peer,) in self._listening

    async def create_server(self, *args: Any, **kwargs: Any) -> asyncio.Server:
        """Like the standard method; connections to it from this loop are not outside work."""
        server = await super().create_server(*args, **kwargs)
        self._note_server(server)
        return server

    async def create_unix_server(self, *args: Any, **kwargs: Any) -> asyncio.Server:
        """Like the standard method (see :meth:`create_server`)."""
        server = await super().create_unix_server(*args, **kwargs)
        self._note_server(server)
        return server

    def _note_server(self, server: asyncio.Server) -> None:
        for sock in server.sockets:
            try:
                name = sock.getsockname()
            except OSError:
                continue
            self._listening.add(tuple(name) if isinstance(name, tuple) else (name,))

    async def sock_sendall(self, sock: Any, data: Any) -> None:
        """Like the standard method; the socket now awaits a reply (unless this loop serves)."""
        await super().sock_sendall(sock, data)
        if data:
            try:
                fd, peer, local = sock.fileno(), sock.getpeername(), sock.getsockname()
            except OSError:
                return
            if not self._is_own_server(peer):
                label = f"socket {_address(local)} -> {_address(peer)}"
                self._expect_reply(_Conn(label, (fd,), lambda: sock.fileno() == -1))

    # child processes -------------------------------------------------------------------------

    async def subprocess_exec(
        self, protocol_factory: Any, program: Any, *args: Any, **kwargs: Any
    ) -> tuple[Any, Any]:
        """Like the standard method; the clock waits while the child runs (module notes)."""
        transport, protocol = await super().subprocess_exec(
            protocol_factory, program, *args, **kwargs
        )
        self._track_process(transport, [program, *args])
        return transport, protocol

    async def subprocess_shell(
        self, protocol_factory: Any, cmd: Any, **kwargs: Any
    ) -> tuple[Any, Any]:
        """Like the standard method (see :meth:`subprocess_exec`)."""
        transport, protocol = await super().subprocess_shell(protocol_factory, cmd, **kwargs)
        self._track_process(transport, [cmd])
        return transport, protocol

    def _track_process(self, transport: Any, argv: list[Any]) -> None:
        words = [
            os.fsdecode(a) if isinstance(a, (str, bytes, os.PathLike)) else str(a) for a in argv
        ]
        shown = shlex.join(words)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        label = f"child process {transport.get_pid()} ({shown})"
        server = [False]
        self._processes[transport] = (label, server)
        stdin = transport.get_pipe_transport(0)
        if stdin is None:
            return
        fds: list[int] = []
        for n in (1, 2):
            pipe = transport.get_pipe_transport(n)
            info = pipe.get_extra_info("pipe") if pipe is not None else None
            if info is not None:
                fds.append(info.fileno())
        conn = _Conn(label, tuple(fds), stdin.is_closing)

        def written() -> None:
            server[0] = True
            if conn.read_fds:
                self._expect_reply(conn)

        _count_writes(stdin, written)

    def _processes_in_flight(self) -> list[str]:
        busy: list[str] = []
        for transport, (label, server) in list(self._processes.items()):
            if transport.get_returncode() is not None:
                del self._processes[transport]
                continue
            stdin = transport.get_pipe_transport(0)
            if server[0] and stdin is not None and not stdin.is_closing():
                continue  # a server between requests: its pending replies are in _awaiting
            busy.append(label)
        return busy

    # -- stall diagnosis -----------------------------------------------------------------------

    def _describe_real_work(self) -> list[str]:
        lines: list[str] = []
        with self._pending_lock:
            labels = [
                label
                for seq, label in self._thread_labels.items()
                if seq not in self._thread_released
            ]
            works = [w.name for w in self._real_works.values()]
        lines += [f"  - thread work: {label}" for label in labels]
        lines += [f"  - real_work({name!r})" for name in works]
        lines += [f"  - {label}" for label in self._processes_in_flight()]
        for conn in self._replies_in_flight():
            state = "a reply is arriving" if conn.replied else "written to, no reply yet"
            lines.append(f"  - {conn.label}: {state}")
        lines += [
            f"  - file descriptor {fd}: waiting to become writable" for fd in sorted(self._writers)
        ]
        if self._threads_waiting_on_loop:
            lines.append(
                f"  ({self._threads_waiting_on_loop} thread(s) wait on this loop through "
                "run_coroutine_threadsafe)"
            )
        return lines

    def _describe_real_work_stall(self) -> str:
        lines = [
            f"agentrig virtual clock stalled at t={self.time():g}s: it waited "
            f"{self.real_work_timeout:g} real seconds for real work in flight and nothing "
            "happened (no I/O, nothing finished). The clock does not move while it waits for:",
            *self._describe_real_work(),
            "Still waiting:",
            *self._describe_tasks(),
            "What to do: make sure the server, process or thread answers (is it running, is "
            "the address right?), or raise real_work_timeout if it really takes longer.",
        ]
        return "\n".join(lines)

    def _describe_tasks(self) -> list[str]:
        tasks = sorted(
            (t for t in asyncio.all_tasks(self) if not t.done()), key=lambda t: t.get_name()
        )
        lines = [f"  - {_describe_task(task)}" for task in tasks]
        if not tasks:
            lines.append("  (no task; a bare future or callback is waiting)")
        return lines

    def _describe_stall(self) -> str:
        lines = [
            f"agentrig virtual clock stalled at t={self.time():g}s: nothing is scheduled, "
            "nothing is ready and no real work is in flight, and no I/O arrived within "
            f"{self.stall_timeout:g} real seconds, so this loop would wait forever.",
        ]
        ticks = self._next_timer()
        if ticks is not None:
            lines.append(
                "The only timers left are due at t=inf or later than "
                f"{_NEVER_SECONDS:g}s (a sleep or timeout of inf or a huge number): "
                "they never come."
            )
        lines += ["Still waiting:", *self._describe_tasks()]
        lines.append(
            "What to do: make sure something resolves what these tasks await (a Future nobody "
            "sets, an Event nobody sets, a Queue nobody fills), run blocking work with "
            "asyncio.to_thread (or inside agentrig.clock.real_work) so the clock waits for "
            "it, or raise stall_timeout if the test really waits for outside I/O."
        )
        return "\n".join(lines)


def _count_writes(transport: Any, wrote: Callable[[], None]) -> None:
    """Call ``wrote`` after each non-empty ``write``/``writelines`` on ``transport``."""
    write, writelines = transport.write, transport.writelines

    def counted_write(data: Any) -> None:
        write(data)
        if data:
            wrote()

    def counted_writelines(lines: Any) -> None:
        lines = list(lines)
        writelines(lines)
        if any(lines):
            wrote()

    try:
        transport.write = counted_write
        transport.writelines = counted_writelines
    except AttributeError:  # a transport with __slots__: its writes stay invisible
        pass


def _address(addr: Any) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host, port = addr[0], addr[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(addr) or "(unnamed)"


def _callable_name(func: Any) -> str:
    while hasattr(func, "func"):  # functools.partial (to_thread wraps in ctx.run partials)
        inner = func.func
        args = getattr(func, "args", ())
        # Context.run(f, ...) holds the function as its first argument.
        func = args[0] if getattr(inner, "__name__", "") == "run" and args else inner
    return str(getattr(func, "__qualname__", None) or type(func).__name__)


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


def new_virtual_loop(
    *,
    stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    real_work_timeout: float = DEFAULT_REAL_WORK_TIMEOUT,
) -> VirtualEventLoop:
    """A fresh :class:`VirtualEventLoop` (a loop factory for ``asyncio.Runner``)."""
    return VirtualEventLoop(stall_timeout=stall_timeout, real_work_timeout=real_work_timeout)


def run(
    main: Coroutine[Any, Any, _T],
    *,
    stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    real_work_timeout: float = DEFAULT_REAL_WORK_TIMEOUT,
    debug: bool | None = None,
) -> _T:
    """Run ``main`` on a fresh virtual-time loop and return its result (like ``asyncio.run``).

    Args:
        main: the coroutine to run.
        stall_timeout: real seconds to wait, with nothing in flight, before declaring a stall.
        real_work_timeout: real seconds to wait for real work in flight that shows no sign
            of life.
        debug: asyncio debug mode, as for ``asyncio.run``.

    Raises:
        StallError: the coroutine waits for something that can never happen.
        RuntimeError: called while an event loop runs in this thread.
        KeyboardInterrupt: Ctrl-C (the first one cancels ``main`` and waits for it to end).
    """
    if not asyncio.iscoroutine(main):
        raise ConfigurationError(
            f"agentrig.run() needs a coroutine object, got {main!r}; "
            "call the async function: agentrig.run(main()) not agentrig.run(main)"
        )
    try:
        check_seconds(stall_timeout, "stall_timeout", most=MAX_STALL_TIMEOUT)
        check_seconds(real_work_timeout, "real_work_timeout", most=MAX_STALL_TIMEOUT)
    except BaseException:
        main.close()  # refused before it ran: no "coroutine was never awaited" warning
        raise
    if asyncio._get_running_loop() is not None:
        main.close()
        raise RuntimeError("agentrig.run() cannot be called from a running event loop")
    loop = new_virtual_loop(stall_timeout=stall_timeout, real_work_timeout=real_work_timeout)
    try:
        if debug is not None:
            loop.set_debug(debug)
        task: asyncio.Task[_T] = loop.create_task(main, context=contextvars.copy_context())
        return _run_main(loop, task)
    finally:
        try:
            cancel_all_tasks(loop)
            # Each shutdown is a run of the loop (~12 µs even with nothing to do): skip the
            # ones with nothing to shut down. asyncio private state, read here only; a Python
            # without it runs both, as asyncio.Runner does.
            if getattr(loop, "_asyncgens", True):
                loop.run_until_complete(loop.shutdown_asyncgens())
            if getattr(loop, "_default_executor", True) is not None:
                loop.run_until_complete(loop.shutdown_default_executor(*_JOIN_TIMEOUT))
        finally:
            loop.close()


# The runner's helpers mirror ``asyncio.Runner`` (3.11-3.13) step for step, without its
# costs per run: ``signal.getsignal``/``signal.signal`` convert every handler to an enum
# member and, when that fails, format a ``ValueError`` holding the repr of the handler's main
# task (and so of its result: 32 ms for a 10,000-agent broadcast, ~10 µs for any run); the C
# functions of ``_signal`` (what ``signal`` wraps, private) return the handler as it is.
_signal: Any = importlib.import_module("_signal")
_JOIN_TIMEOUT: tuple[float, ...] = (300.0,) if sys.version_info >= (3, 12) else ()


class _Interrupt:
    """The SIGINT handler while ``run`` runs: the first Ctrl-C cancels the main task."""

    __slots__ = ("count", "loop", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
        self.loop, self.task, self.count = loop, task, 0

    def __call__(self, signum: int, frame: object) -> None:
        self.count += 1
        if self.count == 1 and not self.task.done():
            self.task.cancel()
            self.loop.call_soon_threadsafe(lambda: None)  # wake a blocked select
            return
        raise KeyboardInterrupt()


def _run_main(loop: asyncio.AbstractEventLoop, task: asyncio.Task[_T]) -> _T:
    handler: _Interrupt | None = None
    if (
        threading.current_thread() is threading.main_thread()
        and _signal.getsignal(signal.SIGINT) is signal.default_int_handler
    ):
        handler = _Interrupt(loop, task)
        try:
            _signal.signal(signal.SIGINT, handler)
        except ValueError:  # a main thread without signals (an embedded interpreter)
            handler = None
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        if handler is not None and handler.count > 0 and task.uncancel() == 0:
            raise KeyboardInterrupt() from None
        raise
    finally:
        if handler is not None and _signal.getsignal(signal.SIGINT) is handler:
            _signal.signal(signal.SIGINT, signal.default_int_handler)


def cancel_all_tasks(loop: asyncio.AbstractEventLoop, *, runner: str = "agentrig.run()") -> None:
    """``asyncio.runners._cancel_all_tasks`` (3.11-3.13) on public API: what a runner does with
    the tasks a run left behind (``agentrig.run``, and the plugin's per-test wind-down)."""
    to_cancel = asyncio.all_tasks(loop)
    if not to_cancel:
        return
    for task in to_cancel:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*to_cancel, return_exceptions=True))
    for task in to_cancel:
        if task.cancelled():
            continue
        if task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": f"unhandled exception during {runner} shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )
