"""The virtual-time loop for agentrig tests, and nothing for any other test.

Why not pytest-asyncio's ``pytest_asyncio_loop_factories`` hook: once any implementation of it
is registered, pytest-asyncio asks it for *every* async test of the session and parametrizes
each one by loop factory. Measured in projects that never use agentrig, that gave every async
item a callspec, regrouped tests with wide loop scopes (sync and async tests reordered), set
session-scoped async fixtures up once per test, pre-empted the project's own ``trylast`` hook
and turned its misconfigurations into silent passes and skips. Registering it only around
agentrig tests still parametrizes them: their factory replaces the session-wide
``_asyncio_loop_factory`` value, which tears down every runner built on it (a neighbour's
session-scoped async fixture set up again after each agentrig test).

So agentrig does not parametrize anything. pytest-asyncio runs an async test (and its async
fixtures) on the runner fixture of its loop scope, ``_<scope>_scoped_runner``. When pytest sets
up such a runner *for an agentrig test*, :meth:`LoopPlugin.pytest_fixture_setup` swaps the
fixture's function for one that builds the same ``asyncio.Runner`` on a
:class:`~agentrig.VirtualEventLoop` (pytest-asyncio itself swaps ``fixturedef.func`` the same
way for async fixtures). Items, ids, callspecs, order and every other test's fixtures stay as
pytest-asyncio makes them; a project's own loop-factory hooks keep their precedence and errors.

Shared loops. A runner wider than function is shared by every test of its class, module or
session. It is virtual only when *all* async tests sharing it are agentrig tests (decided over
every collected item, before ``-k``/``-m`` deselection, so a subset run behaves as the whole
run). An agentrig test on a loop shared with other tests cannot be virtual without changing
them: it runs on the real loop, and collection warns with :class:`~agentrig.AgentrigWarning`
naming the test and the fix.

A new timeline per test on a shared loop. Before the first function-scoped fixture of such a
test is set up (wider-scoped fixtures come first), the loop is rewound to t=0 and what is
pending on it then -- a heartbeat task of a module fixture, a task an earlier test left running
-- is marked inherited (``VirtualEventLoop.rewind(inherit_pending=True)``): its timers were set
on the timeline of whatever ran before, so its records go to ``Recording.inherited`` and the
test's snapshot is the same alone, with ``-k``, or in any order.

One loop per worker. A function-scoped agentrig test does not get a new loop: the session keeps
one :class:`~agentrig.VirtualEventLoop` (:class:`LoopKeeper`) and hands it to each such test,
rewound to t=0. At the test's end the loop is wound down exactly as ``asyncio.Runner.close()``
winds down a fresh one (its tasks cancelled and awaited, its async generators closed, what was
due run) and then kept instead of closed -- unless the test left anything that a later test
could notice (a thread, an open transport, reader or server, a subprocess, a signal handler, a
custom exception handler or task factory, a closed or stopping loop, another loop class): then
it is closed as before and the next test gets a new one. ``agentrig_loop_reuse = false`` turns
this off (docs/compatibility.md). Making and closing a selector loop per test was the largest
piece of the plugin's own per-test cost (benchmarks/RESULTS.md, figure 3).

Other runners. An agentrig test run by anyio's (or another) plugin instead of pytest-asyncio
gets a warning at setup unless its loop is virtual (anyio: ``anyio_backend`` returning
``("asyncio", {"loop_factory": agentrig.VirtualEventLoop})``).

Strict mode. An async agentrig test without ``@pytest.mark.asyncio`` would meet pytest's
"async def functions are not natively supported"; it gets the marker at collection (unless
another async plugin's marker claims it), so agentrig tests run in both modes.

Other plugins that patch loops. looptime swaps the class of every pytest-asyncio loop for one
of its own at creation (even where it stays off); for agentrig's runners the class is put back
(:func:`_own_loop`), so agentrig tests run on agentrig's loop, unpatched, and looptime keeps
every other test.

pytest-asyncio private API, used here only: the runner fixture names ``_<scope>_scoped_runner``
and the fact that they build an ``asyncio.Runner`` (pytest-asyncio 1.x). asyncio private state,
read and reset in :class:`LoopKeeper` only: the loop's ready queue, timer heap, async-generator
set, executor, signal handlers, transports and shutdown flags (CPython 3.11-3.13).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from agentrig.plugin.usage import is_agentrig_test

__all__ = [
    "LoopKeeper",
    "LoopPlugin",
    "StrictModeMarker",
    "defer_fixture_loop_scope_warning",
    "is_strict_mode",
    "loop_scope",
]

_SCOPES = ("function", "class", "module", "package", "session")
_RUNNERS = {f"_{scope}_scoped_runner": scope for scope in _SCOPES}
_TIMELINE_STARTED = pytest.StashKey[bool]()
#: Markers of async plugins other than pytest-asyncio: their tests are not ours to mark.
_OTHER_ASYNC_MARKERS = ("anyio", "trio", "curio")


def loop_scope(item: pytest.Item) -> str:
    """The loop scope pytest-asyncio runs ``item`` in (its marker, else the ini default)."""
    marker = item.get_closest_marker("asyncio")
    scope = None
    if marker is not None:
        scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
    if scope is None:
        scope = item.config.getini("asyncio_default_test_loop_scope") or "function"
    return str(scope)


def _group(item: pytest.Item, scope: str) -> str:
    """The node id pytest gives a ``scope``-scoped plugin fixture requested by ``item``.

    Mirrors ``SubRequest.node``: a class scope outside a class falls back to the item; a
    package-scoped fixture defined by a plugin (baseid "") lives on the session.
    """
    if scope == "function":
        return item.nodeid
    if scope == "class":
        parent = item.getparent(pytest.Class)
        return (parent or item).nodeid
    if scope == "module":
        module = item.getparent(pytest.Module)
        return (module or item).nodeid
    return ""  # package (for a plugin fixture) and session: the session node


# -- pytest-asyncio's "asyncio_default_fixture_loop_scope is unset" deprecation ------------------

_DEFERRED = pytest.StashKey[str]()
_FIXTURE_LOOP_SCOPE = "asyncio_default_fixture_loop_scope"


def defer_fixture_loop_scope_warning(config: pytest.Config) -> None:
    """Hold back pytest-asyncio's start-up deprecation until we know the session uses agentrig.

    pytest-asyncio warns in every session whose configuration does not set
    ``asyncio_default_fixture_loop_scope`` (an INTERNALERROR under ``-W error`` or
    ``filterwarnings = error``), also in projects that only have pytest-asyncio because agentrig
    brought it. Called before any plugin's ``pytest_configure``, this sets the option to
    ``"fixture-scope"`` -- exactly what "unset" means today, so no fixture changes loops -- and
    :meth:`LoopPlugin.pytest_collection_finish` issues pytest-asyncio's own warning after all
    when no agentrig test was collected, so a session without agentrig still gets it.

    pytest private API: ``config._inicache`` (the parsed ini values); pytest-asyncio private
    API: its message text and the ``"fixture-scope"`` value (pytest-asyncio >= 1.5). Without
    either, nothing is done.
    """
    if not config.pluginmanager.hasplugin("asyncio"):
        return
    try:
        import pytest_asyncio.plugin as pa_plugin

        if config.getini(_FIXTURE_LOOP_SCOPE):
            return  # the project chose: never override it
        match_fixture_scope = pa_plugin._MATCH_FIXTURE_SCOPE
        message = pa_plugin._DEFAULT_FIXTURE_LOOP_SCOPE_UNSET
        cache = config._inicache
    except (AttributeError, ImportError, ValueError):
        return
    if not isinstance(cache, dict):
        return
    cache[_FIXTURE_LOOP_SCOPE] = match_fixture_scope
    config.stash[_DEFERRED] = str(message)


class StrictModeMarker:
    """Marks async agentrig tests for pytest-asyncio; registered in strict mode only (in auto
    mode pytest-asyncio claims every async test itself, and nobody pays for this hook)."""

    @pytest.hookimpl(wrapper=True, trylast=True)  # inside pytest-asyncio's wrapper: mark first
    def pytest_pycollect_makeitem(
        self, collector: pytest.Collector, name: str, obj: object
    ) -> Generator[None, Any, Any]:
        result = yield
        if not inspect.iscoroutinefunction(obj) or not result:
            return result
        for node in result if isinstance(result, list) else [result]:
            if (
                isinstance(node, pytest.Function)
                and node.get_closest_marker("asyncio") is None
                and not any(node.get_closest_marker(m) for m in _OTHER_ASYNC_MARKERS)
                and "anyio_backend" not in node.fixturenames
                and is_agentrig_test(node)
            ):
                node.add_marker("asyncio")  # strict mode: run it anyway, as auto mode would
        return result


def is_strict_mode(config: pytest.Config) -> bool:
    """pytest-asyncio's mode is strict (its default) for this session."""
    mode = config.getoption("asyncio_mode", None) or config.getini("asyncio_mode")
    return str(mode).strip() == "strict"


def _is_async_test(item: pytest.Item) -> bool:
    from pytest_asyncio import is_async_test

    return is_async_test(item)


class LoopPlugin:
    """Supplies the virtual loop to agentrig tests; registered by ``pytest_configure``."""

    def __init__(
        self, make_loop: Callable[[], asyncio.AbstractEventLoop], *, reuse: bool = True
    ) -> None:
        self._make_loop = make_loop
        #: the loop function-scoped agentrig tests share (one per worker)
        self.keeper = LoopKeeper(make_loop, reuse=reuse)
        #: (scope, node id) of every shared loop whose tests are all agentrig tests.
        self.virtual_groups: set[tuple[str, str]] = set()
        #: node ids of agentrig tests that share a real loop with other tests.
        self.real_time: dict[str, str] = {}
        #: whether this session collected an agentrig test
        self.uses_agentrig = False
        # A plain function, not a bound method: pytest deprecates fixture functions that are
        # methods of a plugin object.
        self._virtual_runner = functools.partial(_virtual_runner, self.keeper, make_loop)

    # -- collection ---------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)  # before -k/-m deselect: decide over every collected item
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        members: dict[tuple[str, str], list[pytest.Item]] = {}
        if any(is_agentrig_test(item) for item in items):
            self.uses_agentrig = True
        for item in items:
            if not _is_async_test(item):
                continue
            scope = loop_scope(item)
            if scope == "function" or scope not in _SCOPES:
                continue
            members.setdefault((scope, _group(item, scope)), []).append(item)
        for key, group in members.items():
            agentrig = [item for item in group if is_agentrig_test(item)]
            if not agentrig:
                continue
            if len(agentrig) == len(group):
                self.virtual_groups.add(key)
                continue
            scope = key[0]
            for item in agentrig:
                message = (
                    f"{item.nodeid} uses agentrig but shares a {scope}-scoped event loop with "
                    f"tests that do not, so it runs on that real loop in real time (no virtual "
                    f'clock). Give it its own loop (@pytest.mark.asyncio(loop_scope="function")'
                    f"), or make every test on that loop an agentrig test "
                    f"(pytestmark = pytest.mark.agentrig)."
                )
                self.real_time[item.nodeid] = message
                from agentrig._errors import AgentrigWarning

                item.warn(AgentrigWarning(message))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        config = session.config
        message = config.stash.get(_DEFERRED, None)
        if message is None or self.uses_agentrig:
            return
        del config.stash[_DEFERRED]
        if config.pluginmanager.getplugin("dsession") is not None:
            return  # the xdist controller collects nothing: its workers decide and warn
        # Not an agentrig session: pytest-asyncio's warning, as it would have been given.
        config.issue_config_time_warning(pytest.PytestDeprecationWarning(message), stacklevel=2)

    def pytest_sessionfinish(self) -> None:
        self.keeper.close()

    # -- the runner ---------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: after looptime's, see _own_loop
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, object, object]:
        if self.virtual_groups and fixturedef.scope == "function":
            self._start_timeline(request)
        scope = _RUNNERS.get(fixturedef.argname)
        if scope is None or not self._is_virtual(scope, request):
            return (yield)
        original = fixturedef.func
        # The same swap pytest-asyncio makes for async fixtures; pytest calls ``func`` with
        # the runner's own arguments (event_loop_policy, _asyncio_loop_factory, request),
        # which are resolved, and cached, exactly as for any other test.
        fixturedef.func = self._virtual_runner  # type: ignore[misc]
        try:
            runner = yield
        finally:
            fixturedef.func = original  # type: ignore[misc]
        if isinstance(runner, asyncio.Runner):
            _own_loop(runner.get_loop())
        return runner

    def _start_timeline(self, request: pytest.FixtureRequest) -> None:
        """Once per test on a shared virtual loop: t=0, and what is pending is inherited."""
        item = request.node
        if not isinstance(item, pytest.Item) or item.stash.get(_TIMELINE_STARTED, False):
            return
        item.stash[_TIMELINE_STARTED] = True
        if not _is_async_test(item):
            return
        scope = loop_scope(item)
        if scope == "function" or (scope, _group(item, scope)) not in self.virtual_groups:
            return
        from agentrig.clock import VirtualEventLoop

        loop = request.getfixturevalue(f"_{scope}_scoped_runner").get_loop()
        if isinstance(loop, VirtualEventLoop):
            loop.rewind(inherit_pending=True)

    def _is_virtual(self, scope: str, request: pytest.FixtureRequest) -> bool:
        node = request.node
        if scope == "function":
            return isinstance(node, pytest.Item) and is_agentrig_test(node)
        return (scope, node.nodeid) in self.virtual_groups


def _virtual_runner(
    keeper: LoopKeeper,
    make_loop: Callable[[], asyncio.AbstractEventLoop],
    request: pytest.FixtureRequest,
    **_: object,
) -> Iterator[asyncio.Runner]:
    """pytest-asyncio's scoped runner fixture, on a VirtualEventLoop.

    Function scope: on the session's kept loop (:class:`LoopKeeper`); wider scopes: a new loop
    for the class, module or session, closed with it.
    """
    debug = _asyncio_debug(request.config)
    if getattr(request, "scope", None) != "function":
        yield from _closing_runner(asyncio.Runner(debug=debug, loop_factory=make_loop))
        return
    loop = keeper.take()
    runner = asyncio.Runner(debug=debug, loop_factory=lambda: loop)
    runner.get_loop()  # as a fresh runner: set_debug(debug), its context copied now
    _MADE_AS[loop] = keeper.made_as(loop)
    threads = keeper.threads_now()
    _set_event_loop(loop)  # as pytest-asyncio does for a factory-made loop
    try:
        yield runner
    finally:
        try:
            keeper.give_back(runner, loop, threads)
        finally:
            _set_event_loop(None)


def _closing_runner(runner: asyncio.Runner) -> Iterator[asyncio.Runner]:
    loop = runner.get_loop()
    _MADE_AS[loop] = type(loop)
    _set_event_loop(loop)  # as pytest-asyncio does for a factory-made loop
    try:
        yield runner
    finally:
        try:
            _close_runner(runner)
        finally:
            _set_event_loop(None)


def _close_runner(runner: asyncio.Runner) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*BaseEventLoop.shutdown_asyncgens.*", RuntimeWarning)
        runner.close()


class LoopKeeper:
    """One VirtualEventLoop per session (worker), lent to each function-scoped agentrig test.

    :meth:`take` gives the kept loop rewound to t=0 (or a new one); :meth:`give_back` winds it
    down as ``asyncio.Runner.close()`` would and keeps it if nothing of the test could reach a
    later test through it, else closes it exactly as ``Runner.close()`` does. ``made`` and
    ``reused`` count what happened (for tests and benchmarks).
    """

    def __init__(self, make_loop: Callable[[], asyncio.AbstractEventLoop], *, reuse: bool) -> None:
        self._make_loop = make_loop
        self.reuse = reuse
        self._kept: asyncio.AbstractEventLoop | None = None
        self._made_as: type | None = None
        self._timeouts: tuple[object, object] = (None, None)
        self.made = 0
        self.reused = 0

    def take(self) -> asyncio.AbstractEventLoop:
        loop, self._kept = self._kept, None
        if loop is None:
            loop = self._make_loop()
            self.made += 1
            self._made_as = type(loop)
            self._timeouts = _timeouts(loop)
            return loop
        self.reused += 1
        rewind = getattr(loop, "rewind", None)
        if rewind is not None:
            rewind()
        return loop

    def made_as(self, loop: asyncio.AbstractEventLoop) -> type:
        """The class ``loop`` had when it was made (another plugin may have swapped it since)."""
        return self._made_as or type(loop)

    def threads_now(self) -> frozenset[threading.Thread] | None:
        return frozenset(threading.enumerate()) if self.reuse else None

    def give_back(
        self,
        runner: asyncio.Runner,
        loop: asyncio.AbstractEventLoop,
        threads: frozenset[threading.Thread] | None,
    ) -> None:
        """At the test's end: wind ``loop`` down and keep it, or close it (``runner.close()``)."""
        if threads is None or self._leftover(loop, threads) is not None:
            _close_runner(runner)
            return
        try:
            _wind_down(loop)
        except BaseException:
            loop.close()  # Runner.close closes the loop whatever its shutdown raised
            raise
        if self._leftover(loop, threads, wound_down=True) is not None:
            loop.close()
            return
        _forget_pending(loop)
        self._kept = loop

    def close(self) -> None:
        loop, self._kept = self._kept, None
        if loop is not None:
            loop.close()

    def _leftover(
        self,
        loop: asyncio.AbstractEventLoop,
        threads: frozenset[threading.Thread],
        *,
        wound_down: bool = False,
    ) -> str | None:
        """What of the test would outlive it on ``loop`` (None: nothing, it can be kept).

        Asked before and after :func:`_wind_down` (which sets the shutdown flags itself).
        asyncio private state (CPython 3.11-3.13), read here only.
        """
        state: Any = loop
        if loop.is_closed() or loop.is_running() or state._stopping:
            return "the loop was closed or stopped"
        if type(loop) is not self._made_as:
            return "the loop's class was changed"
        if state._default_executor is not None:
            return "the default executor was used"
        if not wound_down and (state._executor_shutdown_called or state._asyncgens_shutdown_called):
            return "the loop's executor or async generators were shut down"
        if any(t not in threads and t.is_alive() for t in threading.enumerate()):
            return "a thread started during the test still runs"
        if getattr(state, "_signal_handlers", None):
            return "a signal handler was added"
        if loop.get_exception_handler() is not None or loop.get_task_factory() is not None:
            return "an exception handler or task factory was set"
        if loop.slow_callback_duration != 0.1 or _timeouts(loop) != self._timeouts:
            return "a loop setting was changed"
        if len(state._selector.get_map()) > 1:  # the loop's own self-pipe only
            return "a reader, writer or server is registered"
        if any(not t.is_closing() for t in list(state._transports.values())):
            return "a transport is open"
        if (
            state._processes
            or state._listening
            or state._real_works
            or state._awaiting
            or state._writers
            or state._thread_order
            or state._pending_thread_work
        ):
            return "real work (a server, subprocess, thread or reply) is in flight"
        if not wound_down:
            return None  # its tasks and async generators are for the wind-down to finish
        if any(not task.done() for task in asyncio.all_tasks(loop)):
            return "a task made during the wind-down is still pending"
        if state._asyncgens:
            return "an async generator made during the wind-down is still open"
        return None


def _timeouts(loop: asyncio.AbstractEventLoop) -> tuple[object, object]:
    return getattr(loop, "stall_timeout", None), getattr(loop, "real_work_timeout", None)


async def _nothing() -> None:
    """Stands for a shutdown step with nothing to shut down: one turn of the loop."""


def _has_due_work(loop: Any) -> bool:
    """Whether a turn of the loop would run anything (a ready callback or a timer due now)."""
    if loop._ready:
        return True
    scheduled = loop._scheduled
    return bool(scheduled) and scheduled[0]._when <= loop.time() + loop._clock_resolution


def _wind_down(loop: Any) -> None:
    """What ``asyncio.Runner.close()`` does before ``loop.close()``, step by step.

    The leftover tasks are cancelled and awaited (their ``finally`` and cancel handlers run),
    the async generators closed, the executor shut down; while no generator or executor exists
    their step is one turn of the loop (run only if a turn would run anything, so that due
    callbacks still run, as they do in a fresh loop's shutdown) and the same shutdown flags
    are set, to be cleared when the loop is kept.
    """
    from agentrig.clock import cancel_all_tasks  # the loop is a VirtualEventLoop: clock is loaded

    cancel_all_tasks(loop, runner="asyncio.run()")
    if loop._asyncgens:
        loop.run_until_complete(loop.shutdown_asyncgens())
    else:
        loop._asyncgens_shutdown_called = True
        if _has_due_work(loop):
            loop.run_until_complete(_nothing())
    if loop._default_executor is not None:  # made during the shutdown: the loop is not kept
        if sys.version_info >= (3, 12):
            from asyncio import constants

            loop.run_until_complete(loop.shutdown_default_executor(constants.THREAD_JOIN_TIMEOUT))
        else:
            loop.run_until_complete(loop.shutdown_default_executor())
    else:
        loop._executor_shutdown_called = True
        if _has_due_work(loop):
            loop.run_until_complete(_nothing())


def _forget_pending(loop: Any) -> None:
    """Drop what a closed loop would drop (``BaseEventLoop.close``) and clear the flags."""
    loop._ready.clear()
    for handle in loop._scheduled:
        handle._scheduled = False  # a later cancel() must not count on this loop
    loop._scheduled.clear()
    loop._timer_cancelled_count = 0
    loop._asyncgens_shutdown_called = False
    loop._executor_shutdown_called = False


# The class each virtual loop had when agentrig made it (see _own_loop).
_MADE_AS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, type] = weakref.WeakKeyDictionary()


def _own_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Undo another plugin's change of the virtual loop's class: agentrig tests run on ours.

    looptime's plugin (0.9) patches every pytest-asyncio loop at creation by swapping its
    class for a subclass of its own (``loop.__class__ = LooptimeVirtualEventLoop``), even where
    it stays inactive; its time and select wrappers then run on every iteration of agentrig's
    loop (agentrig tests ran ~2x slower) and, when active, fight its clock. Its pytest hooks
    skip loops that are not its class, so restoring ours leaves it nothing to do here. (A
    private detail of looptime: the patch is a class swap and a ``select`` set on the
    selector; both are undone.)
    """
    made_as = _MADE_AS.get(loop)
    if made_as is not None and type(loop) is not made_as:
        loop.__class__ = made_as
        # looptime also shadows the selector's ``select`` with an instance attribute; the
        # selector is agentrig's own wrapper (``_selector`` is asyncio private state).
        selector = getattr(loop, "_selector", None)
        if selector is not None and "select" in vars(selector):
            del selector.select


def _asyncio_debug(config: pytest.Config) -> bool:
    """pytest-asyncio's ``--asyncio-debug`` / ``asyncio_debug``, which it applies to every loop."""
    value = config.getoption("asyncio_debug", None)
    if value is None:
        value = config.getini("asyncio_debug")
    return value is True or value == "true"


def _set_event_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    if sys.version_info < (3, 14):
        asyncio.set_event_loop(loop)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the policy API, Python 3.14
        asyncio.set_event_loop(loop)
