"""agentrig's pytest plugin: fixtures, virtual time, snapshots, drift summary and gates.

Registered through the ``pytest11`` entry point ``agentrig = "agentrig.plugin"``.

Fixtures (function scope): ``virtual_clock``, ``fake_model``, ``budget_pool`` (factory:
``budget_pool(usd=0.10)``), ``deadline`` (factory: ``deadline(seconds=120)``), ``event_bus``,
``tracer``, ``decision_log``, ``agent_recording`` and ``agent_snapshot``. A test that uses any of
them (or carries ``@pytest.mark.agentrig``) is an *agentrig test*: it gets its own
:class:`~agentrig.Recording`, active from setup to teardown, whose file exports are redirected
under ``tmp_path / "agentrig"``; if it is async, pytest-asyncio runs it on a
:class:`~agentrig.VirtualEventLoop` (:mod:`agentrig.plugin.loop`). Other tests are untouched.

Options (group ``agentrig``): ``--agentrig-report=PATH`` (the drift summary as JSON, merged
across xdist workers), ``--agentrig-force-update`` (let ``--snapshot-update`` write agentrig
snapshots although ``CI`` is set).

ini keys: ``agentrig_snapshot_dir`` (default ``snapshots``), ``agentrig_drop``,
``agentrig_mask``, ``agentrig_secret_patterns`` (normalization rules), ``agentrig_fail_on``,
``agentrig_tolerance`` (drift), ``agentrig_stall_timeout`` (real seconds before a stalled
virtual loop raises ``StallError``; default 2). Session-wide mistakes stop the session before
any test runs (a usage error): an unknown ``agentrig_*`` key (a misspelt
``agentrig_secret_patterns`` must not silently leak), a bad stall timeout, a snapshot folder
outside the rootdir (or the rootdir itself), an ``--agentrig-report`` path that cannot be a
file. Bad rules, tolerances and markers fail each agentrig test at setup, naming the value.

Marker: ``@pytest.mark.agentrig(max_usd=..., max_tokens=..., fail_on=..., tolerance=...,
drop=..., mask=...)``.

Implementation notes
--------------------
* Start-up cost. This module imports nothing but pytest and the standard library at import
  time: a session without agentrig tests pays for option registration and a few cheap hooks.
  syrupy glue (:mod:`agentrig.snapshot`), normalization, drift and the runtime primitives are
  imported inside fixtures and hooks, when an agentrig test exists.
* Which tests: :mod:`agentrig.plugin.usage` (agentrig's own fixture definitions or the marker).
  The loop: :mod:`agentrig.plugin.loop` (no loop-factory hook; it says why).
* Loop scopes wider than function share one loop between tests; each agentrig test rewinds
  the virtual clock to 0 at setup (pending timers keep their distance), so recorded times do
  not depend on which tests ran before it.
* Per-test results (snapshot outcomes, spend) travel on the ``TestReport`` as the attribute
  ``agentrig``: pytest-xdist serializes report attributes to the controller, so the terminal
  summary and ``--agentrig-report`` merge all workers through one code path (and a crashed
  worker loses nothing it had already reported). ``workeroutput["agentrig"]`` only tells the
  controller that workers used agentrig snapshots, so it activates its snapshot settings before
  syrupy rebuilds our extension there to find unused snapshots.
* pytest-asyncio private API: the fixture name ``_<scope>_scoped_runner`` (the runner of a
  test's loop), used in :func:`_test_loop` only, to hand ``virtual_clock`` the very loop the
  test runs on. Each test on a shared loop starts at t=0 through ``VirtualEventLoop.rewind``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import warnings
from collections.abc import Callable, Generator, Iterator
from contextlib import suppress
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from agentrig.plugin.loop import (
    LoopPlugin,
    StrictModeMarker,
    defer_fixture_loop_scope_warning,
    is_strict_mode,
    loop_scope,
)
from agentrig.plugin.usage import is_agentrig_test, requests_fixture

if TYPE_CHECKING:
    from agentrig.budget import BudgetPool
    from agentrig.bus import EventBus
    from agentrig.clock import VirtualEventLoop
    from agentrig.deadline import Deadline
    from agentrig.decisions import DecisionLog
    from agentrig.drift import DriftConfig
    from agentrig.fake import FakeModel
    from agentrig.normalize import NormalizeRules
    from agentrig.recording import Recording
    from agentrig.snapshot import AgentrigSnapshotAssertion, SnapshotSettings
    from agentrig.tracing import Tracer

__all__ = ["AGENTRIG_FIXTURES", "MARKER_ARGUMENTS", "is_agentrig_test", "requests_fixture"]

#: agentrig's fixtures. A test is an agentrig test when one of them resolves to agentrig's own
#: definition (not a project fixture of the same name): see :mod:`agentrig.plugin.usage`.
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

#: The keyword arguments ``@pytest.mark.agentrig(...)`` accepts.
MARKER_ARGUMENTS = (
    "max_usd",
    "max_tokens",
    "fail_on",
    "tolerance",
    "drop",
    "mask",
    "keep",
    "float_digits",
    "seed",
    "wall_clock",
    "wall_clock_epoch",
)

_MARKER_HELP = (
    "agentrig(max_usd=None, max_tokens=None, fail_on=None, tolerance=None, drop=(), mask=(),"
    " keep=(), float_digits=6, seed=None, wall_clock=None, wall_clock_epoch=None): agentrig"
    " gates and snapshot rules for this test: a cost cap in USD and tokens, the drift classes"
    " that fail, numeric tolerances, fields to drop or mask before snapshotting, scrubbing"
    " rules to turn off (uuids, timestamps, epoch_numbers), the significant digits floats"
    " keep, and the test's random seed and wall clock"
)
_DEFAULT_STALL_TIMEOUT = 2.0
_LOOP_SCOPES = ("function", "class", "module", "package", "session")


# -- state ----------------------------------------------------------------------------------------


# Plain classes with __slots__, not dataclasses: building a dataclass costs about a millisecond
# at import, and this module is imported by every pytest session of the environment.


class _TestConfig:
    """One agentrig test's settings: its marker merged over the ini options."""

    __slots__ = ("drift_config", "error", "max_tokens", "max_usd", "rules")

    def __init__(
        self,
        *,
        rules: NormalizeRules | None = None,
        error: str | None = None,  # a bad marker or ini value: the test fails at setup with it
    ) -> None:
        self.max_usd: Decimal | None = None
        self.max_tokens: int | None = None
        self.rules = rules
        self.drift_config: DriftConfig | None = None
        self.error = error


class _Result:
    """What the controller knows about one agentrig test (from its reports)."""

    __slots__ = ("gate", "line", "nodeid", "outcome", "path", "snapshots", "spend")

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.outcome = "passed"
        self.snapshots: list[dict[str, Any]] = []
        self.spend: dict[str, Any] | None = None
        self.gate: str | None = None
        self.path: str | None = None  # the test file, relative to the rootdir
        self.line: int | None = None  # the test's line, 1-based


class _State:
    """Plugin state for one pytest session, in ``config.stash[_STATE]``."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.collected_modules: set[str] = set()
        self.skipped: set[str] = set()
        self.unfinished: set[str] = set()  # node ids with a failed phase
        self.finished: set[str] = set()  # node ids whose teardown came with no failure
        self.broken_modules: set[str] = set()  # module paths that failed to collect
        self.settings: SnapshotSettings | None = None
        self.settings_cm: Any = None
        self.secrets_cm: Any = None
        self.ini_error: str | None = None
        self.ini_rules: NormalizeRules | None = None
        self.ini_loaded = False
        self.results: dict[str, _Result] = {}
        self.update_refused: str | None = None
        self.report_error: str | None = None

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")


_STATE = pytest.StashKey[_State]()
_TEST_CONFIG = pytest.StashKey[_TestConfig]()
_RECORDING = pytest.StashKey["Recording"]()
_LOOP = pytest.StashKey["asyncio.AbstractEventLoop | None"]()


def _state(config: pytest.Config) -> _State:
    return config.stash[_STATE]


# -- options --------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("agentrig", "agentrig: regression tests for multi-agent LLM systems")
    group.addoption(
        "--agentrig-report",
        dest="agentrig_report",
        metavar="PATH",
        default=None,
        help="write the agentrig drift summary (drifted tests, classes, counts, spend) as JSON"
        " to PATH, merged across xdist workers",
    )
    from agentrig.plugin import html as _html_plugin

    _html_plugin.addoption(group)
    group.addoption(
        "--agentrig-force-update",
        dest="agentrig_force_update",
        action="store_true",
        default=False,
        help="let --snapshot-update create and rewrite agentrig snapshots even when the CI"
        " environment variable is set (a CI run otherwise never blesses its own drift)",
    )
    group.addoption(
        "--agentrig-otlp",
        dest="agentrig_otlp",
        metavar="DIR",
        default=None,
        help="write each agentrig test's normalized run as OTLP/JSON (one file per test) under DIR",
    )
    from agentrig.plugin.mutate import add_options as add_mutate_options

    add_mutate_options(group)
    parser.addini(
        "agentrig_snapshot_dir",
        "folder under the rootdir holding agentrig snapshots (default: snapshots)",
        default="snapshots",
    )
    parser.addini(
        "agentrig_drop",
        "fields dropped from agentrig snapshots (key names or spans./entries. paths)",
        type="linelist",
        default=[],
    )
    parser.addini(
        "agentrig_mask",
        "fields whose value is masked in agentrig snapshots",
        type="linelist",
        default=[],
    )
    parser.addini(
        "agentrig_secret_patterns",
        "extra regular expressions redacted from agentrig snapshots",
        type="linelist",
        default=[],
    )
    parser.addini(
        "agentrig_fail_on",
        "drift classes that fail a test (default: all): structure, decision, text,"
        " usage-cost, timing, error; or none",
        default="",
    )
    parser.addini(
        "agentrig_tolerance",
        "numeric drift tolerances, TARGET:abs=N and/or rel=N, e.g. `timing:abs=0.5` or"
        " `usage-cost:rel=5%` (TARGET: usage-cost, timing or a field glob)",
        type="linelist",
        default=[],
    )
    from agentrig.plugin import cassettes

    cassettes.add_options(group, parser)
    parser.addini(
        "agentrig_provider_hosts",
        "more LLM provider hosts the network guard refuses inside agentrig tests (besides"
        " api.openai.com, api.anthropic.com, ...)",
        type="linelist",
        default=[],
    )
    parser.addini(
        "agentrig_stall_timeout",
        "real seconds a virtual-time loop with nothing to do waits before raising StallError"
        f" (default: {_DEFAULT_STALL_TIMEOUT:g})",
        default="",
    )
    parser.addini(
        "agentrig_keep",
        "built-in scrubbing rules to turn off in agentrig snapshots: uuids, timestamps,"
        " epoch_numbers",
        type="linelist",
        default=[],
    )
    parser.addini(
        "agentrig_float_digits",
        "significant digits floats keep in agentrig snapshots (1..17, default 6; never"
        " coarser than a cent)",
        default="",
    )
    from agentrig.plugin import timekeeping  # seed and wall-clock options

    timekeeping.add_options(group, parser)


#: The ini keys ``pytest_addoption`` registers; any other ``agentrig_*`` key is a typo.
INI_KEYS = (
    "agentrig_cassette_ignore",
    "agentrig_cassette_latency_quantum",
    "agentrig_drop",
    "agentrig_fail_on",
    "agentrig_float_digits",
    "agentrig_keep",
    "agentrig_mask",
    "agentrig_provider_hosts",
    "agentrig_secret_patterns",
    "agentrig_seed",
    "agentrig_snapshot_dir",
    "agentrig_stall_timeout",
    "agentrig_tolerance",
    "agentrig_wall_clock",
    "agentrig_wall_clock_epoch",
)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    # Before any plugin's pytest_configure (pytest-asyncio warns in its own).
    defer_fixture_loop_scope_warning(config)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER_HELP)
    _check_ini_keys(config)
    _snapshot_root(config)
    _stall_timeout(config)  # a bad value stops the session here, not mid-collection
    _check_report_path(config)
    state = _State(config=config)
    config.stash[_STATE] = state
    state.secrets_cm = _activate_secret_patterns(config)
    config.pluginmanager.register(_SessionPlugin(state), "agentrig-session")
    from agentrig.plugin.providers import ProvidersPlugin

    config.pluginmanager.register(ProvidersPlugin(config, _uses_agentrig), "agentrig-providers")
    config.pluginmanager.register(LoopPlugin(_virtual_loop_factory(config)), "agentrig-loop")
    from agentrig.plugin.runid import RunIdPlugin

    config.pluginmanager.register(RunIdPlugin(config), "agentrig-run-id")
    from agentrig.plugin import update

    update.register(config)
    if config.option.agentrig_html:
        from agentrig.plugin.html import HtmlIndexPlugin

        config.pluginmanager.register(
            HtmlIndexPlugin(config, config.option.agentrig_html), "agentrig-html"
        )
    from agentrig.plugin.timekeeping import TimekeepingPlugin

    config.pluginmanager.register(TimekeepingPlugin(config, _uses_agentrig), "agentrig-timekeeping")
    if config.getoption("agentrig_mutate", False):
        from agentrig.plugin.mutate import MutatePlugin, MutateSettings

        config.pluginmanager.register(
            MutatePlugin(config, MutateSettings(config)), "agentrig-mutate"
        )
    if config.pluginmanager.hasplugin("asyncio") and is_strict_mode(config):
        config.pluginmanager.register(StrictModeMarker(), "agentrig-strict-mode")
    from agentrig.plugin import cassettes

    cassettes.check_options(config, ci=_ci_enabled())
    config.pluginmanager.register(cassettes.CassettePlugin(config), "agentrig-cassettes")
    if _otel_importable():
        from agentrig.plugin.otel import OtelPlugin

        config.pluginmanager.register(OtelPlugin(config), "agentrig-otel")


def _otel_importable() -> bool:
    """Whether opentelemetry-sdk is installed (found without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("opentelemetry.sdk") is not None
    except ImportError:  # no ``opentelemetry`` package at all
        return False


def _activate_secret_patterns(config: pytest.Config) -> Any:
    """Redact ``agentrig_secret_patterns`` in every output channel for the whole session:
    snapshot contents and file names, error messages, reprs, the summary and the reports.
    (An invalid pattern fails each agentrig test at setup; the valid ones apply.)"""
    from agentrig._secrets import user_patterns

    compiled = []
    for pattern in config.getini("agentrig_secret_patterns"):
        with suppress(re.error):
            rx = re.compile(str(pattern))
            if not rx.fullmatch(""):
                compiled.append(rx)
    cm = user_patterns(tuple(compiled))
    cm.__enter__()
    return cm


def _check_ini_keys(config: pytest.Config) -> None:
    """Refuse unknown ``agentrig_*`` ini keys: a misspelt ``agentrig_secret_patterns`` would
    otherwise only warn, and secrets it was meant to redact would reach the snapshots.

    pytest private API: the ini values are ``config._inicfg`` (pytest 9, where the public
    ``inicfg`` is deprecated) or the plain attribute ``inicfg`` (pytest 8).
    """
    raw = getattr(config, "_inicfg", None)
    if raw is None:
        raw = config.__dict__.get("inicfg")
    if not raw:
        return
    unknown = sorted(k for k in raw if str(k).startswith("agentrig_") and k not in INI_KEYS)
    if not unknown:
        return
    import difflib

    hints = []
    for key in unknown:
        # Compared without the common prefix: "agentrig_colour" is not "agentrig_tolerance".
        close = difflib.get_close_matches(key[9:], [k[9:] for k in INI_KEYS], n=1)
        hints.append(f"{key} (did you mean agentrig_{close[0]}?)" if close else key)
    raise pytest.UsageError(
        f"unknown agentrig ini option{'s' if len(unknown) > 1 else ''}: {', '.join(hints)}; "
        f"valid options: {', '.join(INI_KEYS)}"
    )


def _snapshot_root(config: pytest.Config) -> Path:
    """The snapshot folder: ``agentrig_snapshot_dir`` under the rootdir, checked to be inside it.

    Snapshots are committed with the project, and unused-snapshot clean-up deletes files
    under this folder: it may be neither the rootdir itself nor anywhere outside it.
    """
    from agentrig._errors import ConfigurationError
    from agentrig._layout import snapshot_folder

    try:
        return snapshot_folder(Path(config.rootpath), str(config.getini("agentrig_snapshot_dir")))
    except ConfigurationError as exc:
        raise pytest.UsageError(str(exc)) from None


def _check_report_path(config: pytest.Config) -> None:
    """Refuse an ``--agentrig-report`` path that can never be written, before any test runs."""
    option = getattr(config.option, "agentrig_report", None)
    if not option:
        return
    path = Path(config.invocation_params.dir) / option
    problem = None
    if path.is_dir():
        problem = "is a folder"
    else:
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    problem = f"needs {parent} to be a folder, but it is a file"
                break
    if problem is not None:
        raise pytest.UsageError(
            f"--agentrig-report {option}: the path {problem}; give a file path such as "
            "agentrig-report.json"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None and state.settings_cm is not None:
        state.settings_cm.__exit__(None, None, None)
        state.settings_cm = None
    if state is not None and state.secrets_cm is not None:
        state.secrets_cm.__exit__(None, None, None)
        state.secrets_cm = None


def _ci_enabled() -> bool:
    from agentrig._ci import ci_enabled

    return ci_enabled()


def _ensure_settings(state: _State) -> SnapshotSettings:
    """Activate this session's snapshot settings (once, on first need: keeps start-up cheap)."""
    if state.settings is not None:
        return state.settings
    from agentrig.snapshot import SnapshotSettings, activate_settings

    config = state.config
    root = Path(config.rootpath)
    snapshot_root = _snapshot_root(config)
    updating = bool(
        getattr(config.option, "update_snapshots", False)
        or getattr(config.option, "update_new_snapshots_only", False)
    )
    if updating and _ci_enabled() and not config.option.agentrig_force_update:
        state.update_refused = (
            "CI is set, so --snapshot-update did not create or rewrite agentrig snapshots "
            "(a CI run must never bless its own drift): record them locally and commit them, "
            "or pass --agentrig-force-update to allow it here."
        )
        if os.environ.get(UPDATE_OUTCOMES_ENV):  # run by `agentrig update`: its own flag
            state.update_refused = state.update_refused.replace(
                "pass --agentrig-force-update", "run `agentrig update --force`"
            )
    settings = SnapshotSettings(
        rootdir=root,
        snapshot_root=snapshot_root,
        invocation_dir=Path(config.invocation_params.dir),
        write_refusal=state.update_refused,
        collected_modules=state.collected_modules,
        skipped=state.skipped,
        unfinished=state.unfinished,
        finished=state.finished,
        broken_modules=state.broken_modules,
    )
    cm = activate_settings(settings)
    cm.__enter__()
    state.settings = settings
    state.settings_cm = cm
    return settings


def _record_partial_modules(
    config: pytest.Config, settings: SnapshotSettings, items: list[pytest.Item]
) -> None:
    """Note the modules collected only in part (``file.py::test`` arguments) and their tests.

    Unused-snapshot detection must not see the other tests' snapshots of such a module.
    """
    partial: set[str] = set()
    whole: set[str] = set()
    base = Path(config.invocation_params.dir)
    for arg in config.args:
        path, sep, _ = str(arg).partition("::")
        resolved = os.path.normpath(base / path)
        (partial if sep else whole).add(resolved)
    partial -= whole
    if not partial:
        return
    for item in items:
        if os.path.normpath(item.path) in partial and isinstance(item, pytest.Function):
            settings.note("partial", item.nodeid)


# -- which tests are agentrig tests ---------------------------------------------------------------


def _uses_agentrig(item: pytest.Item) -> bool:
    return is_agentrig_test(item)


# -- ini and marker -------------------------------------------------------------------------------


def _load_ini(state: _State) -> None:
    if state.ini_loaded:
        return
    state.ini_loaded = True
    config = state.config
    from agentrig._errors import ConfigurationError
    from agentrig.normalize import NormalizeRules

    try:
        state.ini_rules = NormalizeRules(
            drop=tuple(config.getini("agentrig_drop")),
            mask=tuple(config.getini("agentrig_mask")),
            redact=tuple(config.getini("agentrig_secret_patterns")),
            keep=_keep_list(config.getini("agentrig_keep")),
            float_digits=_float_digits(
                "agentrig_float_digits", str(config.getini("agentrig_float_digits") or "6")
            ),
        )
        _drift_config(config, fail_on=None, tolerance=None)
        _stall_timeout(config)
    except (ConfigurationError, ValueError, TypeError) as exc:
        state.ini_error = f"agentrig ini options: {exc}"


def _stall_timeout(config: pytest.Config) -> float:
    raw = str(config.getini("agentrig_stall_timeout") or "").strip()
    if not raw:
        return _DEFAULT_STALL_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise pytest.UsageError(
            f"agentrig_stall_timeout must be a number of seconds, got {raw!r}"
        ) from None
    if not value > 0 or value == float("inf"):
        raise pytest.UsageError(
            f"agentrig_stall_timeout must be a positive, finite number of seconds, got {raw!r}"
        )
    if value > 86_400:  # agentrig.clock.MAX_STALL_TIMEOUT (not imported: start-up cost)
        raise pytest.UsageError(
            f"agentrig_stall_timeout must be at most 86400 real seconds (one day), got {raw!r}"
        )
    return value


def _drift_config(config: pytest.Config, *, fail_on: object, tolerance: object) -> DriftConfig:
    """The drift configuration: the ini options, overridden by the marker's ``fail_on`` and
    extended by its ``tolerance`` (the marker's tolerance wins for the same target)."""
    from agentrig.drift import DriftConfig

    ini_fail_on = str(config.getini("agentrig_fail_on") or "").strip() or None
    ini_tolerance = [str(t) for t in config.getini("agentrig_tolerance")]
    base = DriftConfig.from_strings(fail_on=ini_fail_on, tolerance=ini_tolerance or None)
    if fail_on is None and tolerance is None:
        return base
    marker = DriftConfig.from_strings(
        fail_on=_strings("fail_on", fail_on), tolerance=_tolerance_strings(tolerance)
    )
    tolerances = dict(marker.tolerances)  # first match wins: the marker's globs come first
    tolerances.update((k, v) for k, v in base.tolerances.items() if k not in tolerances)
    return DriftConfig(
        fail_on=marker.fail_on if fail_on is not None else base.fail_on, tolerances=tolerances
    )


def _strings(name: str, value: object) -> str | list[str] | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in value):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise ValueError(f"`{name}` must be a string or a list of strings, got {value!r}")


def _tolerance_strings(value: object) -> str | list[str] | None:
    """Marker tolerances: ``"timing:abs=0.5,usage-cost:rel=5%"``, a list of such strings, or a
    dict ``{"timing": 0.5, "usage-cost": "rel=5%"}`` (a bare number is an absolute tolerance)."""
    if isinstance(value, dict):
        items: list[str] = []
        for target, spec in value.items():
            if isinstance(spec, bool) or not isinstance(spec, (int, float, str)):
                raise ValueError(
                    f"`tolerance[{target!r}]` must be a number (absolute) or a string like "
                    f"'abs=0.5' or 'rel=5%', got {spec!r}"
                )
            items.append(
                f"{target}:abs={spec}" if not isinstance(spec, str) else f"{target}:{spec}"
            )
        return items
    return _strings("tolerance", value)


def _marker_kwargs(item: pytest.Item) -> tuple[dict[str, Any], str | None]:
    """The agentrig marker arguments (closest marker wins; drop/mask accumulate)."""
    merged: dict[str, Any] = {}
    markers = list(item.iter_markers("agentrig"))
    for mark in reversed(markers):  # farthest first, so the closest overrides
        if mark.args:
            return {}, (
                f"@pytest.mark.agentrig takes keyword arguments only, got positional "
                f"{mark.args!r}; valid arguments: {', '.join(MARKER_ARGUMENTS)}"
            )
        unknown = sorted(set(mark.kwargs) - set(MARKER_ARGUMENTS))
        if unknown:
            return {}, (
                f"@pytest.mark.agentrig got unknown argument{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(unknown)}; valid arguments: {', '.join(MARKER_ARGUMENTS)}"
            )
        for key, value in mark.kwargs.items():
            if key in ("drop", "mask") and key in merged:
                merged[key] = [*_as_list(merged[key]), *_as_list(value)]
            else:
                merged[key] = value
    return merged, None


def _keep_list(values: list[Any]) -> tuple[str, ...]:
    """``keep`` entries, one per line or comma-separated (``uuids, timestamps``)."""
    return tuple(part.strip() for v in values for part in str(v).split(",") if part.strip())


def _float_digits(name: str, value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 17:
        raise ValueError(f"`{name}` must be an int from 1 to 17, got {value!r}")
    return value


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def _money(name: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise ValueError(f"`{name}` must be a number of US dollars, got {value!r}")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except ArithmeticError:
        raise ValueError(f"`{name}` must be a number of US dollars, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"`{name}` must be a finite, non-negative amount, got {value!r}")
    return amount


def _test_config(state: _State, item: pytest.Item) -> _TestConfig:
    cached = item.stash.get(_TEST_CONFIG, None)
    if cached is not None:
        return cached
    _load_ini(state)
    cfg = _TestConfig(rules=state.ini_rules)
    if state.ini_error is not None:
        cfg.error = state.ini_error
        item.stash[_TEST_CONFIG] = cfg
        return cfg
    kwargs, error = _marker_kwargs(item)
    if error is None:
        try:
            cfg = _build_test_config(state, kwargs)
        except (ValueError, TypeError) as exc:  # ConfigurationError is a ValueError
            error = f"@pytest.mark.agentrig: {exc}"
    if error is not None:
        from agentrig._errors import clean_message

        cfg = _TestConfig(error=clean_message(f"{item.nodeid}: {error}"))
    item.stash[_TEST_CONFIG] = cfg
    return cfg


def _build_test_config(state: _State, kwargs: dict[str, Any]) -> _TestConfig:
    from agentrig.normalize import NormalizeRules

    cfg = _TestConfig(rules=state.ini_rules)
    if kwargs.get("max_usd") is not None:
        cfg.max_usd = _money("max_usd", kwargs["max_usd"])
    if kwargs.get("max_tokens") is not None:
        tokens = kwargs["max_tokens"]
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            raise ValueError(f"`max_tokens` must be a non-negative int, got {tokens!r}")
        cfg.max_tokens = tokens
    drop, mask = _as_list(kwargs.get("drop")), _as_list(kwargs.get("mask"))
    keep = _keep_list(_as_list(kwargs.get("keep")))
    digits = kwargs.get("float_digits")
    if drop or mask or keep or digits is not None:
        marker_rules = NormalizeRules(
            drop=tuple(drop),
            mask=tuple(mask),
            keep=keep,
            float_digits=6 if digits is None else _float_digits("float_digits", digits),
        )
        base = state.ini_rules
        cfg.rules = base.merged(marker_rules) if base is not None else marker_rules
    cfg.drift_config = _drift_config(
        state.config, fail_on=kwargs.get("fail_on"), tolerance=kwargs.get("tolerance")
    )
    return cfg


# -- the virtual loop (see agentrig.plugin.loop) --------------------------------------------------


def _virtual_loop_factory(config: pytest.Config) -> Callable[[], asyncio.AbstractEventLoop]:
    """Makes agentrig's virtual-time loop with this session's stall timeout (imported lazily)."""
    stall_timeout = _stall_timeout(config)

    def make() -> asyncio.AbstractEventLoop:
        from agentrig.clock import VirtualEventLoop

        return VirtualEventLoop(stall_timeout=stall_timeout)

    return make


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


# -- fixtures -------------------------------------------------------------------------------------


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
def _agentrig_recording(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Recording]:
    """This test's Recording, active from setup to teardown, exports under tmp_path."""
    from agentrig.clock import VirtualEventLoop
    from agentrig.recording import Recording

    item = request.node
    state = _state(request.config)
    _ensure_settings(state)
    loop = _test_loop(request)
    if isinstance(loop, VirtualEventLoop):
        loop.rewind()
    recording = Recording(item.nodeid, export_dir=tmp_path / "agentrig")
    if isinstance(loop, VirtualEventLoop):
        recording.bind_loop(loop)
    item.stash[_RECORDING] = recording
    item.stash[_LOOP] = loop
    if loop is None:
        _warn_if_run_in_real_time(request)
    with recording.activate():
        yield recording


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

    loop = request.node.stash.get(_LOOP, None)
    if loop is None:
        own = VirtualEventLoop(stall_timeout=_stall_timeout(request.config))
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
def agent_snapshot(
    request: pytest.FixtureRequest, _agentrig_recording: Recording
) -> AgentrigSnapshotAssertion:
    """A syrupy snapshot assertion storing normalized recordings as JSON under ``snapshots/``.

    ``assert agent_recording == agent_snapshot``; ``agent_snapshot(name="draft")`` for more
    than one snapshot per test. A mismatch fails with agentrig's drift report.
    """
    from agentrig.plugin.runid import RUN_ID_KEY
    from agentrig.snapshot import AgentrigSnapshotAssertion, AssertionOptions, syrupy_session

    config = request.config
    problem = None
    try:
        syrupy_session(config)
    except pytest.UsageError as exc:  # syrupy's plugin is off: say so, without a traceback
        problem = str(exc)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    state = _state(config)
    _ensure_settings(state)
    item = request.node
    cfg = _test_config(state, item)
    refused = state.update_refused
    updating = bool(config.option.update_snapshots) and refused is None
    options = AssertionOptions(
        rules=cfg.rules,
        drift_config=cfg.drift_config,
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
        update_new_snapshots_only=bool(config.option.update_new_snapshots_only) and refused is None,
    )


def _seed_note(item: pytest.Item) -> str | None:
    from agentrig.plugin.timekeeping import seed_note

    return seed_note(item)


# -- spend ----------------------------------------------------------------------------------------

_COST_ATTRIBUTE = "agentrig.cost_usd"
_TOKEN_ATTRIBUTES = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")


def _number(value: object) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _spend(recording: Recording) -> tuple[Decimal, int]:
    """What a recorded run spent: model calls' own cost, plus charges made outside them.

    A model call's charge happens inside its span, so it is counted once, from the span.
    """
    usd = Decimal(0)
    tokens = 0
    costed: set[int] = set()
    for span in recording.spans:
        cost = span.attributes.get(_COST_ATTRIBUTE)
        if not _number(cost):
            continue
        costed.add(span.span_id)
        usd += Decimal(repr(cost)) if isinstance(cost, float) else Decimal(cost)  # type: ignore[arg-type]
        for key in _TOKEN_ATTRIBUTES:
            count = span.attributes.get(key)
            if isinstance(count, int) and not isinstance(count, bool):
                tokens += count
    for entry in recording.entries:
        if entry.kind != "budget.charge" or entry.span_id in costed:
            continue
        amount = entry.data.get("usd", 0)
        if _number(amount):
            usd += Decimal(repr(amount)) if isinstance(amount, float) else Decimal(amount)
        count = entry.data.get("tokens", 0)
        if isinstance(count, int) and not isinstance(count, bool):
            tokens += count
    return usd, tokens


def _fmt_usd(amount: Decimal) -> str:
    return f"${amount.normalize():f}"


# -- the per-session hooks ------------------------------------------------------------------------


class _SessionPlugin:
    """Hooks that need the session's state (registered by ``pytest_configure``)."""

    def __init__(self, state: _State) -> None:
        self.state = state

    # -- collection ---------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        if isinstance(collector, pytest.Module):
            self.state.collected_modules.add(str(collector.path))

    @pytest.hookimpl(tryfirst=True)  # before -k/-m deselect: every collected item
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        found = False
        for item in items:
            if not _uses_agentrig(item):
                continue
            found = True
            fixturenames = getattr(item, "fixturenames", None)
            if isinstance(fixturenames, list) and "_agentrig_recording" not in fixturenames:
                fixturenames.append("_agentrig_recording")  # marker-only tests get one too
        if found:
            settings = _ensure_settings(self.state)
            _record_partial_modules(self.state.config, settings, items)

    # -- running ------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if not _uses_agentrig(item):
            return
        cfg = _test_config(self.state, item)
        if cfg.error is not None:
            pytest.fail(cfg.error, pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        result = yield
        recording = item.stash.get(_RECORDING, None)
        if recording is None:
            return result
        cfg = _test_config(self.state, item)
        if cfg.max_usd is None and cfg.max_tokens is None:
            return result
        usd, tokens = _spend(recording)
        over: list[str] = []
        if cfg.max_usd is not None and usd > cfg.max_usd:
            over.append(f"{_fmt_usd(usd)} spent, over max_usd={_fmt_usd(cfg.max_usd)}")
        if cfg.max_tokens is not None and tokens > cfg.max_tokens:
            over.append(f"{tokens} tokens used, over max_tokens={cfg.max_tokens}")
        if over:
            message = (
                f"agentrig cost gate: {item.nodeid}: {'; '.join(over)}. Make the run cheaper "
                "(fewer or shorter calls, a cheaper model) or raise the cap in "
                "@pytest.mark.agentrig(...)"
            )
            item.stash[_GATE] = "; ".join(over)
            pytest.fail(message, pytrace=False)
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when != "call":
            return report
        recording = item.stash.get(_RECORDING, None)
        if recording is None:
            return report
        from agentrig.snapshot import OUTCOMES_KEY

        outcomes = item.stash.get(OUTCOMES_KEY, [])
        usd, tokens = _spend(recording)
        path, lineno, _ = item.location
        payload: dict[str, Any] = {
            "path": path,
            "line": lineno + 1 if isinstance(lineno, int) else None,
            "snapshots": [o.to_json() for o in outcomes],
            "spend": {"usd": float(usd), "tokens": tokens},
        }
        gate = item.stash.get(_GATE, None)
        if gate is not None:
            payload["gate"] = gate
        report.agentrig = payload  # type: ignore[attr-defined]
        return report

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        settings = self.state.settings
        if settings is None and any(_uses_agentrig(item) for item in items):
            settings = _ensure_settings(self.state)
        if settings is not None:
            for item in items:
                settings.note("deselected", item.nodeid)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and report.nodeid:  # an import error: its snapshots are kept
            path = report.nodeid.partition("::")[0]
            self.state.broken_modules.add(os.path.normpath(self.state.config.rootpath / path))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # (strings: cheap for every session) which tests finished decides what may be deleted
        if report.skipped:
            self.state.skipped.add(report.nodeid)
        if report.failed:
            self.state.unfinished.add(report.nodeid)
        elif report.when == "teardown":
            self.state.finished.add(report.nodeid)
        payload = getattr(report, "agentrig", None)
        if not isinstance(payload, dict):
            return
        _ensure_settings(self.state).note("ran", report.nodeid)
        if self.state.is_worker:
            return  # the controller gets this report (with its attribute) from xdist
        result = self.state.results.setdefault(report.nodeid, _Result(report.nodeid))
        result.outcome = report.outcome
        result.snapshots = list(payload.get("snapshots") or [])
        result.spend = payload.get("spend")
        result.gate = payload.get("gate")
        result.path = payload.get("path")
        result.line = payload.get("line")

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        # On the xdist controller: syrupy may now build our extension from a worker's report
        # (to find unused snapshots); it reads the session's snapshot settings.
        output = getattr(node, "workeroutput", None) or {}
        if output.get("agentrig"):
            _ensure_settings(self.state)

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(
        self, session: pytest.Session, exitstatus: int
    ) -> Generator[None, object, object]:
        # Before syrupy's hook looks for unused snapshots: a session that stopped early deletes
        # only snapshots of tests it saw finish.
        if self.state.settings is not None and (
            session.shouldfail or session.shouldstop or exitstatus == pytest.ExitCode.INTERRUPTED
        ):
            self.state.settings.stopped_early = True
        result = yield
        self._finish(session)  # after every other plugin's hook (the report and the workers)
        return result

    def _finish(self, session: pytest.Session) -> None:
        state = self.state
        if state.is_worker:
            output = getattr(state.config, "workeroutput", None)
            if output is not None and state.settings is not None:
                output["agentrig"] = True
            return
        _write_update_outcomes(state)
        path = state.config.option.agentrig_report
        if path:
            try:
                _write_json_report(state, Path(state.config.invocation_params.dir) / path)
            except OSError as exc:
                # Not an INTERNALERROR: the summary says what failed (pytest prints it after
                # this hook), and a CI that wants the report fails.
                state.report_error = (
                    f"agentrig: cannot write --agentrig-report {path}: {exc.strerror or exc}; "
                    "free disk space or choose a writable path"
                )
                if not session.exitstatus:
                    session.exitstatus = pytest.ExitCode.USAGE_ERROR

    # -- reporting ----------------------------------------------------------------------------

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        state = self.state
        if state.is_worker:
            return
        lines = _summary_lines(state)
        if state.report_error:
            lines.append((state.report_error, {"red": True}))
        if not lines:
            return
        terminalreporter.write_sep("-", "agentrig drift summary")
        for line, markup in lines:
            terminalreporter.write_line(line, **markup)
        if os.environ.get("GITHUB_ACTIONS", "").strip().lower() == "true":
            for annotation in _github_annotations(state):
                terminalreporter.write_line(annotation)


_GATE = pytest.StashKey[str]()

_STATUS_LABEL = {
    "drift": "DRIFT",
    "missing": "MISSING",
    "error": "ERROR",
    "tolerated": "tolerated",
    "created": "created",
    "updated": "updated",
}


def _classes(counts: dict[str, Any]) -> str:
    return ", ".join(f"{cls} {n}" for cls, n in sorted(counts.items()))


from agentrig.plugin.update import OUTCOMES_ENV as UPDATE_OUTCOMES_ENV  # noqa: E402


def _write_update_outcomes(state: _State) -> None:
    target = os.environ.get(UPDATE_OUTCOMES_ENV)
    if not target:
        return
    import json

    from agentrig.snapshot import atomic_write

    rows = [
        {"nodeid": nodeid, "snapshot": snap.get("snapshot"), "status": snap.get("status")}
        for nodeid in sorted(state.results)
        for snap in state.results[nodeid].snapshots
    ]
    with contextlib.suppress(OSError):
        atomic_write(Path(target), json.dumps(rows, sort_keys=True).encode("utf-8"))


def _roots_detail(snap: dict[str, Any]) -> str:
    """``root text 1 (+21 consequences)``; older payloads without roots show leaf counts."""
    roots = snap.get("root_counts")
    if not roots:
        return _classes(snap.get("counts") or {})
    detail = f"roots: {_classes(roots)}"
    folded = int(snap.get("consequences") or 0)
    if folded:
        detail += f" (+{folded} consequence{'s' if folded != 1 else ''})"
    return detail


def _redacted(text: str) -> str:
    """``text`` as every output channel writes it: secrets (built-in and the session's
    ``agentrig_secret_patterns``) redacted, lone surrogates (a non-UTF-8 file name) replaced."""
    from agentrig._secrets import redact_secrets

    if not text.isascii():
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return redact_secrets(text)


def _redacted_tree(value: Any) -> Any:
    """:func:`_redacted` applied to every string (keys too) of JSON data."""
    if isinstance(value, str):
        return _redacted(value)
    if isinstance(value, dict):
        return {_redacted_tree(k): _redacted_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted_tree(v) for v in value]
    return value


def _summary_lines(state: _State) -> list[tuple[str, dict[str, bool]]]:
    lines: list[tuple[str, dict[str, bool]]] = []
    totals: dict[str, int] = {}
    failing = 0
    for nodeid in sorted(state.results):
        result = state.results[nodeid]
        for snap in result.snapshots:
            status = str(snap.get("status"))
            if status in ("passed", "created") or (
                status == "updated" and os.environ.get(UPDATE_OUTCOMES_ENV)
            ):
                # (under `agentrig update`, which lists each updated snapshot itself, once)
                if status != "passed":
                    totals[status] = totals.get(status, 0) + 1
                continue
            totals[status] = totals.get(status, 0) + 1
            label = _STATUS_LABEL.get(status, status)
            detail = _roots_detail(snap)
            if status == "drift":
                failing += 1
                fail_classes = ", ".join(snap.get("failing") or {})
                if fail_classes:
                    detail += f" (failing: {fail_classes})"
            elif status in ("missing", "error"):
                failing += 1
                detail = snap.get("error") or ("never recorded" if status == "missing" else "")
            line = f"{label:<9} {nodeid}  {snap.get('snapshot')}"
            if detail:
                line += f"  {detail}"
            markup = {"red": True} if status in ("drift", "missing", "error") else {}
            lines.append((_redacted(line), markup))
        if result.gate:
            totals["over budget"] = totals.get("over budget", 0) + 1
            lines.append((_redacted(f"{'BUDGET':<9} {nodeid}  {result.gate}"), {"red": True}))
    if state.update_refused:
        lines.append((state.update_refused, {"yellow": True}))
    if totals:
        parts = [f"{n} {status}" for status, n in sorted(totals.items())]
        lines.append((f"agentrig: {', '.join(parts)}", {"bold": True}))
    return lines


_ANNOTATION_TITLES = {
    "drift": "agentrig drift",
    "missing": "agentrig missing snapshot",
    "error": "agentrig unusable snapshot",
}


def _github_annotations(state: _State) -> list[str]:
    """GitHub Actions workflow commands putting each failing test's drift on its line."""
    from agentrig._ci import github_annotation

    rootdir = Path(state.config.rootpath)
    root = os.environ.get("GITHUB_WORKSPACE") or str(rootdir)
    commands: list[str] = []
    for nodeid in sorted(state.results):
        result = state.results[nodeid]
        if result.path is None:
            continue
        path = rootdir / result.path
        name = nodeid.rpartition("::")[2]
        for snap in result.snapshots:
            title = _ANNOTATION_TITLES.get(str(snap.get("status")))
            if title is None:
                continue
            message = f"{snap.get('snapshot')}\n{snap.get('report') or snap.get('error') or ''}"
            commands.append(
                github_annotation(
                    path,
                    result.line,
                    _redacted(f"{title}: {name}"),
                    _redacted(message.strip()),
                    root=root,
                )
            )
        if result.gate:
            commands.append(
                github_annotation(
                    path, result.line, f"agentrig cost gate: {name}", result.gate, root=root
                )
            )
    return commands


def _write_json_report(state: _State, path: Path) -> None:
    import json

    tests: list[dict[str, Any]] = []
    summary: dict[str, Any] = {
        "tests": len(state.results),
        "drift": 0,
        "missing": 0,
        "error": 0,
        "tolerated": 0,
        "created": 0,
        "updated": 0,
        "over_budget": 0,
        "classes": {},
    }
    classes: dict[str, int] = summary["classes"]
    for nodeid in sorted(state.results):
        result = state.results[nodeid]
        interesting = [s for s in result.snapshots if s.get("status") != "passed"]
        for snap in interesting:
            status = str(snap.get("status"))
            summary[status] = int(summary.get(status, 0)) + 1
            for cls, n in (snap.get("counts") or {}).items():
                classes[cls] = classes.get(cls, 0) + int(n)
        if result.gate:
            summary["over_budget"] += 1
        if interesting or result.gate:
            tests.append(
                {
                    "nodeid": nodeid,
                    "path": result.path,
                    "line": result.line,
                    "outcome": result.outcome,
                    "snapshots": interesting,
                    "spend": result.spend,
                    "gate": result.gate,
                }
            )
    summary["classes"] = dict(sorted(classes.items()))
    doc = {
        "agentrig_report": 1,
        "summary": summary,
        "tests": tests,
        "update_refused": state.update_refused,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(_redacted_tree(doc), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    from agentrig.snapshot import atomic_write

    atomic_write(path, data.encode("utf-8"))
