"""Time and chance per agentrig test: seeded ``random``, virtual ``asyncio.run``, wall clock.

Registered by :func:`agentrig.plugin.pytest_configure` as ``agentrig-timekeeping``. For each
agentrig test, around its setup, call and teardown (``pytest_runtest_protocol``):

* the global :mod:`random` is seeded from the test's node id (and ``--agentrig-seed`` /
  ``agentrig_seed`` / the marker's ``seed``) and its state restored afterwards, so third-party
  jitter (the SDKs' retry backoff) is the same on every run, in any order, on any worker. When
  pytest-randomly is active it seeds ``random`` itself before every phase; agentrig then leaves
  it alone and says so in the header.
* ``asyncio.run()`` and ``asyncio.Runner()`` without a ``loop_factory`` run on a
  :class:`~agentrig.VirtualEventLoop` bound to the test's recording (see :func:`_patch_runner`).
* with ``wall_clock="virtual"`` (marker) or ``agentrig_wall_clock = virtual`` (ini), a
  :class:`~agentrig.wallclock.VirtualWallClock` from ``wall_clock_epoch``.

For every *other* test, once the user's code has imported :mod:`agentrig.fake`, a FakeModel
call made from a running *real* event loop (``asyncio.run`` in a plain test: its latency waits
for real, and the app's file exports land where it said) emits one
:class:`~agentrig.AgentrigWarning` naming the fix (:class:`_watch_unrecorded_use`). Nothing
else changes for such a test: no recording becomes active, so a test that does not use
agentrig behaves as without it. Sync use, ``agentrig.run()`` (already virtual) and the other
primitives (production code on a real loop, as documented) do not warn.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import sys
import warnings
import weakref
from collections.abc import Callable, Generator
from contextlib import ExitStack
from typing import Any

import pytest

__all__ = ["DEFAULT_SEED", "TimekeepingPlugin", "add_options", "seed_note"]

#: The base seed when neither ``--agentrig-seed`` nor ``agentrig_seed`` is given.
DEFAULT_SEED = 0
WALL_CLOCKS = ("real", "virtual")
INI_KEYS = ("agentrig_seed", "agentrig_wall_clock", "agentrig_wall_clock_epoch")

_SEED = pytest.StashKey[tuple[int, int]]()  # (base seed, the test's seed)


def add_options(group: Any, parser: pytest.Parser) -> None:
    """The options and ini keys of this plugin (called from ``pytest_addoption``)."""
    group.addoption(
        "--agentrig-seed",
        dest="agentrig_seed",
        metavar="N",
        default=None,
        help="base seed for the global random module in agentrig tests (each test's seed is"
        f" derived from it and the test's node id; default {DEFAULT_SEED})",
    )
    parser.addini(
        "agentrig_seed",
        f"base seed for random in agentrig tests (default {DEFAULT_SEED})",
        default="",
    )
    parser.addini(
        "agentrig_wall_clock",
        "real (default) or virtual: make time.time()/datetime.now() follow the virtual clock",
        default="",
    )
    parser.addini(
        "agentrig_wall_clock_epoch",
        "ISO 8601 instant a virtual wall clock starts at (default 2026-01-01T00:00:00Z)",
        default="",
    )


def _int_seed(raw: object, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ValueError(f"{where} must be an integer, got {raw!r}")
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ValueError(f"{where} must be an integer, got {raw!r}") from None


def seed_note(item: pytest.Item) -> str | None:
    """A line for the drift report when this test's random seed is not the default one."""
    seeded = item.stash.get(_SEED, None)
    if seeded is None or seeded[0] == DEFAULT_SEED:
        return None
    base, seed = seeded
    return (
        f"random was seeded with {seed} (base seed {base}, not the default {DEFAULT_SEED}; "
        "--agentrig-seed, agentrig_seed or the marker's seed): jitter may differ from the "
        "snapshot's run"
    )


def _marker(item: pytest.Item) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for mark in reversed(list(item.iter_markers("agentrig"))):
        merged.update(mark.kwargs)
    return merged


class TimekeepingPlugin:
    """Hooks for seeding, sync entry points and the wall clock (one per session)."""

    def __init__(self, config: pytest.Config, uses_agentrig: Callable[[pytest.Item], bool]):
        self.config = config
        self._uses_agentrig = uses_agentrig
        option = config.getoption("agentrig_seed", None)
        ini = str(config.getini("agentrig_seed") or "").strip()
        try:
            if option is not None:
                self.base_seed = _int_seed(option, "--agentrig-seed")
            elif ini:
                self.base_seed = _int_seed(ini, "agentrig_seed")
            else:
                self.base_seed = DEFAULT_SEED
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.wall_clock = str(config.getini("agentrig_wall_clock") or "").strip() or "real"
        if self.wall_clock not in WALL_CLOCKS:
            raise pytest.UsageError(
                f"agentrig_wall_clock must be one of {', '.join(WALL_CLOCKS)}, "
                f"got {self.wall_clock!r}"
            )
        self.epoch = str(config.getini("agentrig_wall_clock_epoch") or "").strip() or None
        if self.epoch is not None:
            from agentrig._errors import ConfigurationError
            from agentrig.wallclock import parse_epoch

            try:
                parse_epoch(self.epoch)
            except ConfigurationError as exc:
                raise pytest.UsageError(f"agentrig_wall_clock_epoch: {exc}") from None

    @property
    def randomly_active(self) -> bool:
        """pytest-randomly is installed, enabled and reseeding (not ``-p no:randomly``)."""
        plugin = self.config.pluginmanager.get_plugin("randomly")
        if plugin is None:
            return False
        return getattr(self.config.option, "randomly_reset_seed", True) is not False

    def pytest_report_header(self, config: pytest.Config) -> str | None:
        if self.randomly_active:
            return "agentrig: random is seeded by pytest-randomly (agentrig does not reseed it)"
        if self.base_seed != DEFAULT_SEED:
            return (
                f"agentrig: random seeded per test from its node id and base seed {self.base_seed}"
            )
        return None

    # -- per test ------------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        with ExitStack() as stack:
            if self._uses_agentrig(item):
                self._agentrig_test(item, stack)
            elif "agentrig.fake" in sys.modules:
                stack.enter_context(_watch_unrecorded_use(item))
            return (yield)

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        error = item.stash.get(_ERROR, None)
        if error is not None:
            pytest.fail(error, pytrace=False)

    def _agentrig_test(self, item: pytest.Item, stack: ExitStack) -> None:
        marker = _marker(item)
        try:
            seed = self._seed_for(item, marker)
            wall_clock, epoch = self._wall_clock_for(marker)
        except ValueError as exc:
            item.stash[_ERROR] = f"{item.nodeid}: @pytest.mark.agentrig: {exc}"
            return
        if seed is not None:
            item.stash[_SEED] = seed
            state = random.getstate()
            stack.callback(random.setstate, state)
            random.seed(seed[1])
        stack.enter_context(_patch_runner(item))
        if wall_clock == "virtual":
            from agentrig.recording import active_recording
            from agentrig.wallclock import DEFAULT_EPOCH, VirtualWallClock

            def bound_loop() -> asyncio.AbstractEventLoop | None:
                rec = active_recording()
                return getattr(rec, "_virtual_loop", None) if rec is not None else None

            stack.enter_context(VirtualWallClock(epoch=epoch or DEFAULT_EPOCH, fallback=bound_loop))

    def _seed_for(self, item: pytest.Item, marker: dict[str, Any]) -> tuple[int, int] | None:
        base = self.base_seed
        if marker.get("seed") is not None:
            base = _int_seed(marker["seed"], "`seed`")
        elif self.randomly_active:
            return None
        digest = hashlib.sha256(f"{base}:{item.nodeid}".encode("utf-8", "surrogateescape")).digest()
        return base, int.from_bytes(digest[:8], "big")

    def _wall_clock_for(self, marker: dict[str, Any]) -> tuple[str, Any]:
        from agentrig._errors import ConfigurationError

        mode = marker.get("wall_clock", self.wall_clock)
        if mode not in WALL_CLOCKS:
            raise ValueError(f"`wall_clock` must be one of {', '.join(WALL_CLOCKS)}, got {mode!r}")
        epoch = marker.get("wall_clock_epoch", self.epoch)
        if epoch is not None:
            from agentrig.wallclock import parse_epoch

            try:
                epoch = parse_epoch(epoch)
            except ConfigurationError as exc:
                raise ValueError(str(exc)) from None
        return str(mode), epoch


_ERROR = pytest.StashKey[str]()


class _patch_runner:
    """Inside an agentrig test, ``asyncio.run``/``asyncio.Runner`` default to a virtual loop.

    The one place that patches asyncio: ``asyncio.runners.Runner`` (which ``asyncio.run``
    looks up when called) and the ``asyncio.Runner`` attribute are replaced by a subclass
    whose default ``loop_factory`` makes a VirtualEventLoop bound to the test's recording; both
    are restored when the test ends. A ``loop_factory`` given explicitly (pytest-asyncio
    always gives one) is kept. ``from asyncio import Runner`` done at import is not reached.
    """

    def __init__(self, item: pytest.Item) -> None:
        self.item = item
        self.saved: tuple[Any, Any] | None = None

    def __enter__(self) -> None:
        import asyncio.runners

        original = asyncio.runners.Runner
        made = _VIRTUAL_RUNNERS.get(self.item.config)
        if made is None or made[0] is not original:
            made = (original, self._make(original))  # once per session, not per test
            _VIRTUAL_RUNNERS[self.item.config] = made
        virtual_runner = made[1]
        self.saved = (asyncio.runners.Runner, asyncio.Runner)
        asyncio.runners.Runner = virtual_runner  # type: ignore[misc]
        asyncio.Runner = virtual_runner  # type: ignore[misc]

    def _make(self, original: type[asyncio.Runner]) -> type[asyncio.Runner]:
        from agentrig.plugin.settings import Settings

        stall_timeout = Settings.of(self.item.config).stall_timeout

        def virtual_loop() -> asyncio.AbstractEventLoop:
            from agentrig.clock import VirtualEventLoop
            from agentrig.recording import active_recording

            loop = VirtualEventLoop(stall_timeout=stall_timeout)
            rec = active_recording()
            if rec is not None:
                rec.bind_loop(loop)
            return loop

        class VirtualRunner(original):  # type: ignore[valid-type, misc]
            __doc__ = original.__doc__

            def __init__(self, *, debug: bool | None = None, loop_factory: Any = None) -> None:
                super().__init__(debug=debug, loop_factory=loop_factory or virtual_loop)

        VirtualRunner.__name__ = VirtualRunner.__qualname__ = "Runner"
        return VirtualRunner

    def __exit__(self, *exc: object) -> None:
        import asyncio.runners

        if self.saved is not None:
            asyncio.runners.Runner, asyncio.Runner = self.saved  # type: ignore[misc]
            self.saved = None


# The session's virtual Runner class, made from the Runner it replaces (per config: pytester
# sessions nest).
_VIRTUAL_RUNNERS: weakref.WeakKeyDictionary[
    pytest.Config, tuple[type[asyncio.Runner], type[asyncio.Runner]]
] = weakref.WeakKeyDictionary()


class _watch_unrecorded_use:
    """Warn once if this (non-agentrig) test calls a FakeModel agent from a real loop.

    The one place that wraps agentrig itself during a test: ``FakeAgent.run`` (a class
    attribute) is replaced for the test's duration and restored after; nothing is recorded.
    """

    def __init__(self, item: pytest.Item) -> None:
        self.item = item
        self.saved: Any = None

    def __enter__(self) -> None:
        from agentrig.clock import VirtualEventLoop
        from agentrig.fake import FakeAgent

        original = FakeAgent.run
        item = self.item
        warned = [False]

        async def run(agent: Any, prompt: str, *args: Any, **kwargs: Any) -> Any:
            # Hidden from tracebacks: with -l its locals (the raw prompt, a function's
            # address) would print (docs/reliability.md, secrets on every channel).
            __tracebackhide__ = True
            loop = asyncio.get_running_loop()
            if not warned[0] and not isinstance(loop, VirtualEventLoop):
                warned[0] = True
                _warn_unrecorded(item, f"FakeModel agent {agent.name!r}")
            return await original(agent, prompt, *args, **kwargs)

        run.__doc__ = original.__doc__
        self.saved = original
        FakeAgent.run = run  # type: ignore[method-assign, assignment]

    def __exit__(self, *exc: object) -> None:
        from agentrig.fake import FakeAgent

        if self.saved is not None:
            FakeAgent.run = self.saved  # type: ignore[method-assign]
            self.saved = None


def _warn_unrecorded(item: pytest.Item, what: str) -> None:
    from agentrig._errors import AgentrigWarning

    warnings.warn(
        AgentrigWarning(
            f"{item.nodeid} uses agentrig ({what}) but is not an agentrig test: it runs on "
            "real time (FakeModel latency and Deadlines wait for real), nothing is recorded, "
            "and file exports go where the app asked (not into the test's tmp_path). Request "
            "an agentrig fixture (fake_model, agent_recording, ...) or add "
            "@pytest.mark.agentrig to the test."
        ),
        stacklevel=3,
    )
