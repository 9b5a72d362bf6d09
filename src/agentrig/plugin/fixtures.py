"""agentrig's fixtures (registered as the plugin ``agentrig-fixtures`` by ``pytest_configure``).

:data:`AGENTRIG_FIXTURES` is the one list of them. A test that uses any of them (or carries
``@pytest.mark.agentrig``) is an *agentrig test* (:mod:`agentrig.plugin.usage` decides by
fixture definition, not by name): it gets its own :class:`~agentrig.Recording`, active from
setup to teardown, whose file exports are redirected under ``tmp_path / "agentrig"``; if it is
async, pytest-asyncio runs it on a :class:`~agentrig.VirtualEventLoop`
(:mod:`agentrig.plugin.loop`).

Everything but pytest is imported inside the fixtures: a session without agentrig tests pays
nothing for them. The recording and the test's loop are kept in the item's stash
(:data:`RECORDING`, :data:`LOOP`) for the gates, the reports and the mutation run, until the
end of the test's run protocol.

pytest-asyncio private API: the fixture name ``_<scope>_scoped_runner`` (the runner of a test's
loop), used in :func:`_test_loop` only, to hand ``virtual_clock`` the very loop the test runs
on. Loop scopes wider than function share one loop between tests; each agentrig test rewinds
the virtual clock to 0 at setup (``VirtualEventLoop.rewind``; pending timers keep their
distance), so recorded times do not depend on which tests ran before it.
"""

from __future__ import annotations

import asyncio
import re
import warnings
import weakref
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from agentrig.plugin.loop import loop_scope
from agentrig.plugin.settings import Settings, TestSettings
from agentrig.plugin.snapshots import SnapshotSession

if TYPE_CHECKING:
    from agentrig.budget import BudgetPool
    from agentrig.bus import EventBus
    from agentrig.clock import VirtualEventLoop
    from agentrig.deadline import Deadline
    from agentrig.decisions import DecisionLog
    from agentrig.fake import FakeModel
    from agentrig.recording import Recording
    from agentrig.snapshot import AgentrigSnapshotAssertion
    from agentrig.tracing import Tracer

__all__ = ["AGENTRIG_FIXTURES", "LOOP", "RECORDING"]

#: agentrig's fixtures (``llm_cassette`` is defined by :mod:`agentrig.plugin.cassettes`).
AGENTRIG_FIXTURES = frozenset(
    {
        "virtual_clock",
        "fake_model",
        "budget_pool",
        "deadline",
        "event_bus",
        "tracer",
        "decision_log",
        "agent_recording",
        "agent_snapshot",
        "llm_cassette",
        "_agentrig_recording",
    }
)

#: The test's Recording, from setup to the end of its report.
RECORDING = pytest.StashKey["Recording"]()
#: The event loop an async agentrig test runs on (None for a sync test).
LOOP = pytest.StashKey["asyncio.AbstractEventLoop | None"]()

_LOOP_SCOPES = ("function", "class", "module", "package", "session")
#: The test each Recording belongs to, for fixtures built on ``_agentrig_recording`` that need
#: the item: taking ``request`` instead makes pytest build a FixtureDef for it, per use.
_ITEMS: weakref.WeakKeyDictionary[Recording, pytest.Item] = weakref.WeakKeyDictionary()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Let go of the test's Recording and loop once its reports are made.

    Kept in the item's stash for the rest of the session, every finished test's recording
    stayed alive, and each garbage collection walked all of them: the per-test cost grew with
    the number of tests (figure 3 at 5,000 vs 1,000).
    """
    try:
        return (yield)
    finally:
        stash = item.stash
        if RECORDING in stash:
            del stash[RECORDING]
        if LOOP in stash:
            del stash[LOOP]


# -- the virtual loop (see agentrig.plugin.loop) --------------------------------------------------


def _test_loop(request: pytest.FixtureRequest) -> asyncio.AbstractEventLoop | None:
    """The event loop an async test runs on (None for a sync test).

    pytest-asyncio private API: its runner fixtures are named ``_<scope>_scoped_runner``
    (pytest-asyncio 1.x); requesting it early is harmless (it is cached for the test).
    """
    from pytest_asyncio import is_async_test

    item = request.node
    if not isinstance(item, pytest.Item) or not is_async_test(item):
        return None
    scope = loop_scope(item)
    if scope not in _LOOP_SCOPES:
        return None  # pytest-asyncio reports the bad scope itself
    runner = request.getfixturevalue(f"_{scope}_scoped_runner")
    loop: asyncio.AbstractEventLoop = runner.get_loop()
    return loop


# -- the fixtures ---------------------------------------------------------------------------------


class _Factory:
    """A factory fixture's value: callable, with a repr that shows how to call it.

    A bare closure would print as ``<function make at 0x7f...>`` among a failing test's
    arguments: a memory address in the output, different on every run.
    """

    __slots__ = ("_make", "_signature")

    def __init__(self, make: Callable[..., Any], signature: str) -> None:
        self._make = make
        self._signature = signature

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._make(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<agentrig factory {self._signature}>"


@pytest.fixture
def _agentrig_recording(request: pytest.FixtureRequest) -> Iterator[Recording]:
    """This test's Recording, active from setup to teardown, exports under its tmp path."""
    from agentrig.clock import VirtualEventLoop
    from agentrig.recording import Recording

    item = request.node
    SnapshotSession.of(request.config).ensure_active()
    loop = _test_loop(request)
    if isinstance(loop, VirtualEventLoop):
        loop.rewind()
    recording = Recording(item.nodeid, export_dir=_export_dir(request, _tmp_path_factory(request)))
    if isinstance(loop, VirtualEventLoop):
        recording.bind_loop(loop)
    item.stash[RECORDING] = recording
    item.stash[LOOP] = loop
    _ITEMS[recording] = item
    if loop is None:
        _warn_if_run_in_real_time(request)
    with recording.activate():
        yield recording


def _tmp_path_factory(request: pytest.FixtureRequest) -> pytest.TempPathFactory:
    """The session's ``tmp_path_factory``, without requesting the fixture.

    pytest private API: the fixture returns ``config._tmp_path_factory`` (set by pytest's
    tmpdir plugin at configure). Requesting the fixture instead cost every agentrig test a
    ``RequestFixtureDef`` and a fixture lookup (the fixture takes ``request``), for a value
    that is the same for the whole session; without the attribute (``-p no:tmpdir``), the
    fixture is asked for, as before.
    """
    factory = getattr(request.config, "_tmp_path_factory", None)
    if isinstance(factory, pytest.TempPathFactory):
        return factory
    found: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
    return found


def _export_dir(
    request: pytest.FixtureRequest, factory: pytest.TempPathFactory
) -> Path | Callable[[], Path]:
    """``tmp_path / "agentrig"``, made only when something exports.

    A test that takes ``tmp_path`` itself finds the exports there. For the others the folder
    is made at the first export, as ``tmp_path`` would be (same name rule, same base folder):
    most agentrig tests export nothing, and a temporary folder per test was the plugin's
    largest per-test cost (benchmarks/RESULTS.md, figure 3).
    """
    if "tmp_path" in getattr(request.node, "fixturenames", ()):
        tmp_path: Path = request.getfixturevalue("tmp_path")
        return tmp_path / "agentrig"
    name = re.sub(r"[\W]", "_", request.node.name)[:30]  # pytest's own rule for tmp_path

    def make() -> Path:
        return factory.mktemp(name, numbered=True) / "agentrig"

    return make


def _warn_if_run_in_real_time(request: pytest.FixtureRequest) -> None:
    """An async agentrig test that another plugin runs (anyio, trio) gets no virtual loop."""
    import inspect

    item = request.node
    if not inspect.iscoroutinefunction(getattr(item, "obj", None)):
        return
    if "anyio_backend" in getattr(item, "fixturenames", ()):
        backend = request.getfixturevalue("anyio_backend")
        if isinstance(backend, tuple) and len(backend) == 2 and backend[0] == "asyncio":
            from agentrig.clock import VirtualEventLoop

            factory = backend[1].get("loop_factory") if isinstance(backend[1], dict) else None
            if isinstance(factory, type) and issubclass(factory, VirtualEventLoop):
                return
    from agentrig._errors import AgentrigWarning

    warnings.warn(
        AgentrigWarning(
            f"{item.nodeid} uses agentrig but is run by another async plugin than "
            "pytest-asyncio (anyio, trio), so it runs in real time with no virtual clock. With "
            'anyio, return ("asyncio", {"loop_factory": agentrig.VirtualEventLoop}) from '
            "an anyio_backend fixture; or drop its anyio mark and let pytest-asyncio run it."
        ),
        stacklevel=1,
    )


@pytest.fixture
def agent_recording(_agentrig_recording: Recording) -> Recording:
    """This test's :class:`~agentrig.Recording`: everything the run did, in one timeline.

    Compare it with a snapshot: ``assert agent_recording == agent_snapshot``.
    """
    return _agentrig_recording


@pytest.fixture
def virtual_clock(
    request: pytest.FixtureRequest, _agentrig_recording: Recording
) -> Iterator[VirtualEventLoop]:
    """The virtual-time loop of this test (``advance(seconds)``, ``time()``).

    In an async test, the loop the test runs on; in a sync test, a fresh loop bound to the
    recording (run coroutines with ``virtual_clock.run_until_complete(...)``), closed after.
    """
    from agentrig.clock import VirtualEventLoop

    loop = request.node.stash.get(LOOP, None)
    if loop is None:
        own = VirtualEventLoop(stall_timeout=Settings.of(request.config).stall_timeout)
        _agentrig_recording.bind_loop(own)
        try:
            yield own
        finally:
            own.close()
        return
    if not isinstance(loop, VirtualEventLoop):
        pytest.fail(
            f"virtual_clock: {request.node.nodeid} runs on {type(loop).__name__}, not agentrig's "
            "VirtualEventLoop: its event loop is shared with tests that do not use agentrig "
            "(see the AgentrigWarning above); give it loop_scope='function'",
            pytrace=False,
        )
    yield loop


@pytest.fixture
def fake_model(_agentrig_recording: Recording) -> FakeModel:
    """A fresh, non-strict :class:`~agentrig.fake.FakeModel`: ``fake_model.agent(name, ...)``."""
    from agentrig.fake import FakeModel

    return FakeModel()


@pytest.fixture
def budget_pool(_agentrig_recording: Recording) -> Callable[..., BudgetPool]:
    """Factory: ``budget_pool(usd=0.10, tokens=None, name="pool")`` -> a new BudgetPool."""
    from agentrig.budget import BudgetPool

    def make(*, usd: Any, tokens: int | None = None, name: str = "pool") -> BudgetPool:
        return BudgetPool(usd=usd, tokens=tokens, name=name)

    return _Factory(make, "budget_pool(*, usd, tokens=None, name='pool')")


@pytest.fixture
def deadline(_agentrig_recording: Recording) -> Callable[..., Deadline]:
    """Factory: ``deadline(seconds=120, name=None)`` -> a Deadline on the test's (virtual) clock.

    In an async test the loop is already running, so the deadline starts when the factory is
    called; in a sync test it starts at its first use inside a loop (see
    :class:`~agentrig.Deadline`).
    """
    from agentrig.deadline import Deadline

    def make(seconds: float, *, name: str | None = None) -> Deadline:
        return Deadline(seconds, name=name)

    return _Factory(make, "deadline(seconds, *, name=None)")


@pytest.fixture
def event_bus(_agentrig_recording: Recording) -> EventBus:
    """A fresh :class:`~agentrig.EventBus` reporting into this test's recording."""
    from agentrig.bus import EventBus

    return EventBus()


@pytest.fixture
def tracer(_agentrig_recording: Recording) -> Tracer:
    """A fresh :class:`~agentrig.Tracer` (no file export) reporting into this test's recording."""
    from agentrig.tracing import Tracer

    return Tracer()


@pytest.fixture
def decision_log(_agentrig_recording: Recording) -> Iterator[DecisionLog]:
    """A fresh in-memory :class:`~agentrig.DecisionLog` named ``decisions``."""
    from agentrig.decisions import DecisionLog

    log = DecisionLog()
    try:
        yield log
    finally:
        log.close()


@pytest.fixture
def agent_snapshot(_agentrig_recording: Recording) -> AgentrigSnapshotAssertion:
    """A syrupy snapshot assertion storing normalized recordings as JSON under ``snapshots/``.

    ``assert agent_recording == agent_snapshot``; ``agent_snapshot(name="draft")`` for more
    than one snapshot per test. A mismatch fails with agentrig's drift report.
    """
    from agentrig.plugin.runid import RUN_ID_KEY
    from agentrig.snapshot import AgentrigSnapshotAssertion, AssertionOptions, syrupy_session

    item = _ITEMS[_agentrig_recording]
    config = item.config
    problem = None
    try:
        syrupy_session(config)
    except pytest.UsageError as exc:  # syrupy's plugin is off: say so, without a traceback
        problem = str(exc)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    session = SnapshotSession.of(config)
    session.ensure_active()
    settings = Settings.of(config)
    test_settings = TestSettings.of(item)
    refused = session.update_refused
    updating = settings.update_snapshots and refused is None
    options = AssertionOptions(
        rules=test_settings.rules,
        drift_config=test_settings.drift_config,
        exact=updating,
        color=config.get_terminal_writer().hasmarkup,
        update_refused=refused,
        seed_note=_seed_note(item),
        verbose=config.get_verbosity(pytest.Config.VERBOSITY_ASSERTIONS),
        run_id=config.stash.get(RUN_ID_KEY, None),
    )
    return AgentrigSnapshotAssertion.create(
        config=config,
        item=item,
        options=options,
        update_snapshots=updating,
        update_new_snapshots_only=settings.update_new_only and refused is None,
    )


def _seed_note(item: pytest.Item) -> str | None:
    from agentrig.plugin.timekeeping import seed_note

    return seed_note(item)
