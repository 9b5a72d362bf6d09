"""The plugin's settings: every option, ini key and marker argument, listed once, read once.

:class:`Settings` is built once per session in ``pytest_configure``
(``Settings.from_config(config)``, as pytest's ``TempPathFactory.from_config`` is) and kept in
``config.stash``. Session-wide mistakes stop the session there, before any test runs (a usage
error): an unknown ``agentrig_*`` ini key (a misspelt ``agentrig_secret_patterns`` must not
silently leak), a bad stall timeout, a snapshot folder outside the rootdir (or the rootdir
itself), an ``--agentrig-report`` path that cannot be a file.

The normalization rules and drift tolerances of the ini file need :mod:`agentrig.normalize` and
:mod:`agentrig.drift`, which a session without agentrig tests never imports: they are built on
first need, and a bad value fails each agentrig test at setup, naming the value (as a bad
marker does). :class:`TestSettings` is one agentrig test's marker merged over them.

The ini keys of the cassette and timekeeping features are registered by their own modules
(``INI_KEYS`` there); :func:`known_ini_keys` joins them to the table here.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager, suppress
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from agentrig.drift import DriftConfig
    from agentrig.normalize import NormalizeRules

__all__ = [
    "DEFAULT_STALL_TIMEOUT",
    "MARKER_ARGUMENTS",
    "Settings",
    "TestSettings",
    "activate_secret_patterns",
    "add_options",
    "known_ini_keys",
]

DEFAULT_STALL_TIMEOUT = 2.0

#: ``@pytest.mark.agentrig(...)``: each keyword argument and its default (for ``--markers``).
_MARKER: tuple[tuple[str, object], ...] = (
    ("max_usd", None),
    ("max_tokens", None),
    ("fail_on", None),
    ("tolerance", None),
    ("drop", ()),
    ("mask", ()),
    ("keep", ()),
    ("float_digits", 6),
    ("seed", None),
    ("wall_clock", None),
    ("wall_clock_epoch", None),
)
#: The keyword arguments ``@pytest.mark.agentrig(...)`` accepts.
MARKER_ARGUMENTS = tuple(name for name, _ in _MARKER)
MARKER_HELP = (
    f"agentrig({', '.join(f'{name}={default!r}' for name, default in _MARKER)}): agentrig"
    " gates and snapshot rules for this test: a cost cap in USD and tokens, the drift classes"
    " that fail, numeric tolerances, fields to drop or mask before snapshotting, scrubbing"
    " rules to turn off (uuids, timestamps, epoch_numbers), the significant digits floats"
    " keep, and the test's random seed and wall clock"
)

# The ini keys of this module: (name, help, type, default). Registered in this order, among
# the other features' keys (see add_options).
_INI_SNAPSHOTS: tuple[tuple[str, str, Any, Any], ...] = (
    (
        "agentrig_snapshot_dir",
        "folder under the rootdir holding agentrig snapshots (default: snapshots)",
        None,
        "snapshots",
    ),
    (
        "agentrig_drop",
        "fields dropped from agentrig snapshots (key names or spans./entries. paths)",
        "linelist",
        [],
    ),
    ("agentrig_mask", "fields whose value is masked in agentrig snapshots", "linelist", []),
    (
        "agentrig_secret_patterns",
        "extra regular expressions redacted from agentrig snapshots",
        "linelist",
        [],
    ),
    (
        "agentrig_fail_on",
        "drift classes that fail a test (default: all): structure, decision, text,"
        " usage-cost, timing, error; or none",
        None,
        "",
    ),
    (
        "agentrig_tolerance",
        "numeric drift tolerances, TARGET:abs=N and/or rel=N, e.g. `timing:abs=0.5` or"
        " `usage-cost:rel=5%` (TARGET: usage-cost, timing or a field glob)",
        "linelist",
        [],
    ),
)
_INI_RUNTIME: tuple[tuple[str, str, Any, Any], ...] = (
    (
        "agentrig_provider_hosts",
        "more LLM provider hosts the network guard refuses inside agentrig tests (besides"
        " api.openai.com, api.anthropic.com, ...)",
        "linelist",
        [],
    ),
    (
        "agentrig_stall_timeout",
        "real seconds a virtual-time loop with nothing to do waits before raising StallError"
        f" (default: {DEFAULT_STALL_TIMEOUT:g})",
        None,
        "",
    ),
    (
        "agentrig_loop_reuse",
        "true (default) or false: function-scoped async agentrig tests share one virtual-time"
        " loop per worker, rewound and cleaned up per test (false: a new loop per test)",
        None,
        "",
    ),
    (
        "agentrig_keep",
        "built-in scrubbing rules to turn off in agentrig snapshots: uuids, timestamps,"
        " epoch_numbers",
        "linelist",
        [],
    ),
    (
        "agentrig_float_digits",
        "significant digits floats keep in agentrig snapshots (1..17, default 6; never"
        " coarser than a cent)",
        None,
        "",
    ),
)


def _addini(parser: pytest.Parser, table: tuple[tuple[str, str, Any, Any], ...]) -> None:
    for name, help_text, kind, default in table:
        parser.addini(name, help_text, type=kind, default=default)


def add_options(parser: pytest.Parser) -> None:
    """Every ``--agentrig-*`` option and ``agentrig_*`` ini key (from ``pytest_addoption``)."""
    from agentrig.plugin import cassettes, html, mutate, timekeeping

    group = parser.getgroup("agentrig", "agentrig: regression tests for multi-agent LLM systems")
    group.addoption(
        "--agentrig-report",
        dest="agentrig_report",
        metavar="PATH",
        default=None,
        help="write the agentrig drift summary (drifted tests, classes, counts, spend) as JSON"
        " to PATH, merged across xdist workers",
    )
    html.addoption(group)
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
    mutate.add_options(group)
    _addini(parser, _INI_SNAPSHOTS)
    cassettes.add_options(group, parser)
    _addini(parser, _INI_RUNTIME)
    timekeeping.add_options(group, parser)


def known_ini_keys() -> tuple[str, ...]:
    """Every ini key agentrig registers, sorted; any other ``agentrig_*`` key is a typo."""
    from agentrig.plugin import cassettes, timekeeping

    own = [name for name, *_ in (*_INI_SNAPSHOTS, *_INI_RUNTIME)]
    return tuple(sorted({*own, *cassettes.INI_KEYS, *timekeeping.INI_KEYS}))


_SETTINGS = pytest.StashKey["Settings"]()


class Settings:
    """This session's agentrig settings, checked once (``Settings.from_config(config)``).

    A plain class with ``__slots__``, not a dataclass: building a dataclass costs about a
    millisecond at import, and the plugin is imported by every pytest session of the
    environment.
    """

    __slots__ = (
        "_drift_base",
        "_ini_loaded",
        "_ini_rules",
        "_unmarked",
        "config",
        "force_update",
        "ini_error",
        "invocation_dir",
        "is_worker",
        "loop_reuse",
        "report_path",
        "rootdir",
        "snapshot_root",
        "stall_timeout",
        "update_new_only",
        "update_snapshots",
    )

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rootdir = Path(config.rootpath)
        self.invocation_dir = Path(config.invocation_params.dir)
        self.snapshot_root = _snapshot_root(config)
        self.stall_timeout = _stall_timeout(config)
        self.loop_reuse = _loop_reuse(config)
        self.report_path: str | None = getattr(config.option, "agentrig_report", None) or None
        self.force_update = bool(getattr(config.option, "agentrig_force_update", False))
        # syrupy's options (absent with -p no:syrupy)
        self.update_snapshots = bool(getattr(config.option, "update_snapshots", False))
        self.update_new_only = bool(getattr(config.option, "update_new_snapshots_only", False))
        self.is_worker = hasattr(config, "workerinput")
        self._ini_loaded = False
        self._ini_rules: NormalizeRules | None = None
        self._drift_base: DriftConfig | None = None
        self._unmarked: TestSettings | None = None
        self.ini_error: str | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        """Check the session-wide settings (``pytest.UsageError`` naming the value) and keep
        them in ``config.stash``, where :meth:`of` finds them."""
        _check_ini_keys(config)
        settings = cls(config)
        _check_report_path(config, settings.report_path)
        config.stash[_SETTINGS] = settings
        return settings

    @staticmethod
    def of(config: pytest.Config) -> Settings:
        """The settings :meth:`from_config` built for this session."""
        return config.stash[_SETTINGS]

    def ini_rules(self) -> NormalizeRules | None:
        """The ini file's normalization rules (``None`` with :attr:`ini_error` set when an ini
        value is bad: each agentrig test then fails at setup with it)."""
        if self._ini_loaded:
            return self._ini_rules
        self._ini_loaded = True
        from agentrig._errors import ConfigurationError
        from agentrig.normalize import NormalizeRules

        config = self.config
        try:
            self._ini_rules = NormalizeRules(
                drop=tuple(config.getini("agentrig_drop")),
                mask=tuple(config.getini("agentrig_mask")),
                redact=tuple(config.getini("agentrig_secret_patterns")),
                keep=_keep_list(config.getini("agentrig_keep")),
                float_digits=_float_digits(
                    "agentrig_float_digits", str(config.getini("agentrig_float_digits") or "6")
                ),
            )
            self.drift_config(fail_on=None, tolerance=None)
        except (ConfigurationError, ValueError, TypeError) as exc:
            self.ini_error = f"agentrig ini options: {exc}"
        return self._ini_rules

    def drift_config(self, *, fail_on: object, tolerance: object) -> DriftConfig:
        """The ini options, overridden by a marker's ``fail_on`` and extended by its
        ``tolerance`` (the marker's tolerance wins for the same target)."""
        from agentrig.drift import DriftConfig

        base = self._drift_base
        if base is None:
            config = self.config
            ini_fail_on = str(config.getini("agentrig_fail_on") or "").strip() or None
            ini_tolerance = [str(t) for t in config.getini("agentrig_tolerance")]
            base = DriftConfig.from_strings(fail_on=ini_fail_on, tolerance=ini_tolerance or None)
            self._drift_base = base  # (after it parsed: a bad value raises again, per test)
        if fail_on is None and tolerance is None:
            return base
        marker = DriftConfig.from_strings(
            fail_on=_strings("fail_on", fail_on), tolerance=_tolerance_strings(tolerance)
        )
        tolerances = dict(marker.tolerances)  # first match wins: the marker's globs come first
        tolerances.update((k, v) for k, v in base.tolerances.items() if k not in tolerances)
        return DriftConfig(
            fail_on=marker.fail_on if fail_on is not None else base.fail_on,
            tolerances=tolerances,
        )


def activate_secret_patterns(config: pytest.Config) -> AbstractContextManager[Any]:
    """Redact ``agentrig_secret_patterns`` in every output channel for the whole session:
    snapshot contents and file names, error messages, reprs, the summary and the reports.
    (An invalid pattern fails each agentrig test at setup; the valid ones apply.)

    Returns the entered context manager; ``pytest_unconfigure`` exits it.
    """
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


# -- session-wide checks ----------------------------------------------------------------------


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
    keys = known_ini_keys()
    unknown = sorted(k for k in raw if str(k).startswith("agentrig_") and k not in keys)
    if not unknown:
        return
    import difflib

    hints = []
    for key in unknown:
        # Compared without the common prefix: "agentrig_colour" is not "agentrig_tolerance".
        close = difflib.get_close_matches(key[9:], [k[9:] for k in keys], n=1)
        hints.append(f"{key} (did you mean agentrig_{close[0]}?)" if close else key)
    raise pytest.UsageError(
        f"unknown agentrig ini option{'s' if len(unknown) > 1 else ''}: {', '.join(hints)}; "
        f"valid options: {', '.join(keys)}"
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


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def _loop_reuse(config: pytest.Config) -> bool:
    raw = str(config.getini("agentrig_loop_reuse") or "").strip()
    if not raw or raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise pytest.UsageError(
        f"agentrig_loop_reuse must be true or false (also yes/no, on/off, 1/0), got {raw!r}"
    )


def _stall_timeout(config: pytest.Config) -> float:
    raw = str(config.getini("agentrig_stall_timeout") or "").strip()
    if not raw:
        return DEFAULT_STALL_TIMEOUT
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


def _check_report_path(config: pytest.Config, option: str | None) -> None:
    """Refuse an ``--agentrig-report`` path that can never be written, before any test runs."""
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


# -- one test's settings ----------------------------------------------------------------------

_TEST_SETTINGS = pytest.StashKey["TestSettings"]()


class TestSettings:
    """One agentrig test's settings: its marker merged over the ini options.

    Read-only once built: tests without an agentrig marker share one object per session.
    """

    __test__ = False  # not a test class, whatever pytest's python_classes say
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

    @classmethod
    def of(cls, item: pytest.Item) -> TestSettings:
        """``item``'s settings, built on first need and kept in its stash."""
        cached = item.stash.get(_TEST_SETTINGS, None)
        if cached is not None:
            return cached
        settings = Settings.of(item.config)
        rules = settings.ini_rules()
        if settings.ini_error is not None:
            made = cls(rules=rules, error=settings.ini_error)
        elif item.get_closest_marker("agentrig") is None:
            # The common case: the ini options alone, the same for every unmarked test.
            made = settings._unmarked or cls._from_marker(settings, item, rules)
            settings._unmarked = made
        else:
            made = cls._from_marker(settings, item, rules)
        item.stash[_TEST_SETTINGS] = made
        return made

    @classmethod
    def _from_marker(
        cls, settings: Settings, item: pytest.Item, rules: NormalizeRules | None
    ) -> TestSettings:
        kwargs, error = _marker_kwargs(item)
        if error is None:
            try:
                return cls._build(settings, kwargs, rules)
            except (ValueError, TypeError) as exc:  # ConfigurationError is a ValueError
                error = f"@pytest.mark.agentrig: {exc}"
        from agentrig._errors import clean_message

        return cls(error=clean_message(f"{item.nodeid}: {error}"))

    @classmethod
    def _build(
        cls, settings: Settings, kwargs: dict[str, Any], base: NormalizeRules | None
    ) -> TestSettings:
        from agentrig.money import parse_usd
        from agentrig.normalize import NormalizeRules

        made = cls(rules=base)
        if kwargs.get("max_usd") is not None:
            made.max_usd = parse_usd(kwargs["max_usd"], "max_usd")
        if kwargs.get("max_tokens") is not None:
            tokens = kwargs["max_tokens"]
            if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
                raise ValueError(f"`max_tokens` must be a non-negative int, got {tokens!r}")
            made.max_tokens = tokens
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
            made.rules = base.merged(marker_rules) if base is not None else marker_rules
        made.drift_config = settings.drift_config(
            fail_on=kwargs.get("fail_on"), tolerance=kwargs.get("tolerance")
        )
        return made


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


# -- argument checks --------------------------------------------------------------------------


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
