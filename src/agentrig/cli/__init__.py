"""The ``agentrig`` command line: the snapshot workflow outside pytest.

Usage::

    agentrig update [PYTEST ARGS...]   re-record snapshots with pytest, show what changed
    agentrig diff A B                  semantic drift between two snapshots or two folders
    agentrig show FILE                 a snapshot as a readable tree, timeline and tables
    agentrig accept [PATHS...]         promote *.received.json files over their snapshots
    agentrig cassettes [PATH]          list recorded model calls; --prune drops unused ones

Every subcommand has ``--help`` with an example. :func:`main` takes the arguments and returns
the exit status, so it is called from tests in-process (``main(["diff", a, b])``) exactly as the
console script and ``python -m agentrig`` call it.

Exit statuses: ``0`` success / no drift, ``1`` drift (``diff``), ``2`` unusable input (a
missing file, a file that is not JSON, a snapshot of another format version, a bad option),
reported as one line on stderr and never as a traceback. ``update`` exits with pytest's status.

:func:`github_annotation` formats a GitHub Actions workflow command (``::error file=...::...``);
the plugin prints one per drifted test when ``GITHUB_ACTIONS`` is set.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal, TextIO

import orjson
from pluggy import HookimplMarker

from agentrig._ci import github_annotation
from agentrig._errors import ConfigurationError, SnapshotError
from agentrig._files import NotARegularFile, read_regular_file
from agentrig._secrets import redact_secrets
from agentrig.cassette import CASSETTE_SUFFIX
from agentrig.drift import DriftConfig, DriftReport, compare
from agentrig.money import ZERO, format_usd, read_usd, sum_usd
from agentrig.normalize import dumps, loads
from agentrig.vocabulary import AGENTRIG_COST_USD

__all__ = ["github_annotation", "main"]

EXIT_OK: Final = 0
EXIT_DRIFT: Final = 1
EXIT_USAGE: Final = 2

#: What the plugin writes beside a snapshot whose test drifted.
RECEIVED_SUFFIX: Final = ".received.json"
SNAPSHOT_SUFFIX: Final = ".json"
#: The ini key that moves the snapshot folder, and its default (relative to the rootdir).
SNAPSHOT_DIR_INI: Final = "agentrig_snapshot_dir"
DEFAULT_SNAPSHOT_DIR: Final = "snapshots"
#: The widest line ``show`` prints by default: it fits a 100-column terminal.
DEFAULT_WIDTH: Final = 100
#: How many changes ``update`` and ``accept`` print per snapshot before "... and N more".
FIRST_CHANGES: Final = 5

ColorChoice = Literal["auto", "always", "never"]


class _Unusable(Exception):
    """Input the command cannot work with: reported as one line on stderr, exit status 2."""


# --------------------------------------------------------------------------------------------
# Small output helpers
# --------------------------------------------------------------------------------------------


def _char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal columns, ending in ``…`` when it was cut."""
    if len(text) <= width and text.isascii():
        return text
    total = 0
    for i, ch in enumerate(text):
        total += _char_width(ch)
        if total > width:
            # Make room for the ellipsis (one column).
            out = text[:i]
            while out and sum(map(_char_width, out)) > width - 1:
                out = out[:-1]
            return out + "…"
    return text


def _display(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when under it."""
    try:
        return _printable(path.resolve().relative_to(Path.cwd().resolve()).as_posix())
    except ValueError:
        return _printable(path.as_posix())


def _printable(text: str) -> str:
    """``text`` with the undecodable bytes of a non-UTF-8 file name as U+FFFD (JSON and a
    UTF-8 terminal cannot hold the lone surrogates Python decodes them to)."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _use_color(choice: ColorChoice, stream: TextIO) -> bool:
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _fmt_usd(value: object) -> str:
    amount = value if isinstance(value, Decimal) else read_usd(value)
    return "-" if amount is None else format_usd(amount)


def _usd(value: object) -> Decimal:
    """A recorded amount, exact (0 for what is not a number: a hand-edited file)."""
    return read_usd(value) or ZERO


def _fmt_seconds(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-"
    return f"{value:.3f}"


def _fmt_int(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return "-"
    return str(value)


def _fmt_value(value: object, limit: int = 40) -> str:
    """A field value compact enough for one line: bare words bare, the rest as JSON."""
    if isinstance(value, str):
        if (
            value
            and len(value) <= limit
            and value.isprintable()
            and not any(c in value for c in " \"'=,")
        ):
            return value
        text = orjson.dumps(value).decode()
    elif value is None or isinstance(value, (bool, int, float)):
        text = orjson.dumps(value).decode()
    else:
        try:
            text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:
            text = repr(value)
    return _clip(text, limit)


def _fields(data: Mapping[str, Any], skip: Iterable[str] = ()) -> str:
    skipped = set(skip)
    return " ".join(f"{k}={_fmt_value(v)}" for k, v in sorted(data.items()) if k not in skipped)


# --------------------------------------------------------------------------------------------
# Reading snapshots
# --------------------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    try:
        return read_regular_file(path)
    except NotARegularFile:
        raise _Unusable(
            f"{_display(path)} is not a regular file (a FIFO, socket or device); agentrig "
            "never reads from one: move it away"
        ) from None
    except FileNotFoundError:
        raise _Unusable(f"no such file: {_display(path)}") from None
    except IsADirectoryError:
        raise _Unusable(f"{_display(path)} is a folder, not a snapshot file") from None
    except OSError as exc:
        raise _Unusable(f"cannot read {_display(path)}: {exc.strerror or exc}") from None


def _load(path: Path) -> dict[str, Any]:
    """A snapshot document from a file; every problem becomes a one-line :class:`_Unusable`."""
    data = _read_bytes(path)
    try:
        return loads(data, source=_display(path))
    except SnapshotError as exc:
        raise _Unusable(str(exc)) from None


def _snapshot_of(received: Path) -> Path:
    """``x.received.json`` -> ``x.json``."""
    return received.with_name(received.name[: -len(RECEIVED_SUFFIX)] + SNAPSHOT_SUFFIX)


def _received_of(snapshot: Path) -> Path:
    """``x.json`` -> ``x.received.json``."""
    return snapshot.with_name(snapshot.name[: -len(SNAPSHOT_SUFFIX)] + RECEIVED_SUFFIX)


def _is_received(path: Path) -> bool:
    return path.name.endswith(RECEIVED_SUFFIX)


def _snapshot_files(folder: Path) -> Iterator[Path]:
    """The snapshot files (not received files) under ``folder``, sorted."""
    for path in sorted(folder.rglob("*" + SNAPSHOT_SUFFIX)):
        # Dot files are the plugin's temporary files, mid-write.
        if (
            path.is_file()
            and not _is_received(path)
            and not path.name.endswith(CASSETTE_SUFFIX)
            and not path.name.startswith(".")
        ):
            yield path


# --------------------------------------------------------------------------------------------
# Finding the rootdir and the snapshot folder (as pytest does, without starting pytest)
# --------------------------------------------------------------------------------------------


def _ini_section(path: Path, section: str) -> dict[str, str] | None:
    import iniconfig  # pytest's own ini parser (a pytest dependency)

    try:
        cfg = iniconfig.IniConfig(str(path))
    except (iniconfig.ParseError, OSError, UnicodeDecodeError) as exc:
        raise _Unusable(f"cannot read pytest configuration {_display(path)}: {exc}") from None
    if section not in cfg:
        return None
    return dict(cfg[section].items())


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        raise _Unusable(f"cannot read pytest configuration {_display(path)}: {exc}") from None


def _pytest_config_in(path: Path) -> dict[str, Any] | None:
    """pytest's settings in one candidate file, or ``None`` when it holds none.

    The same files, in the same precedence, that pytest 9 reads while it looks for a rootdir.
    """
    name = path.name
    if name in ("pytest.toml", ".pytest.toml"):
        table = _toml(path).get("pytest", {})
        return dict(table) if isinstance(table, dict) else {}
    if name in ("pytest.ini", ".pytest.ini"):
        return _ini_section(path, "pytest") or {}
    if name == "pyproject.toml":
        tool = _toml(path).get("tool", {})
        table = tool.get("pytest") if isinstance(tool, dict) else None
        if not isinstance(table, dict):
            return None
        ini_options = table.get("ini_options")
        native = {k: v for k, v in table.items() if k != "ini_options"}
        if native:
            return native
        return dict(ini_options) if isinstance(ini_options, dict) else None
    if name == "tox.ini":
        return _ini_section(path, "pytest")
    if name == "setup.cfg":
        return _ini_section(path, "tool:pytest")
    return None


_CONFIG_NAMES: Final = (
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
)


@dataclass(frozen=True, slots=True)
class _Project:
    """Where pytest would put the rootdir, and the snapshot folder configured under it."""

    rootdir: Path
    snapshot_dir: Path


def _locate_config(start: Path) -> tuple[Path, dict[str, Any]]:
    first_pyproject: Path | None = None
    for base in (start, *start.parents):
        for name in _CONFIG_NAMES:
            candidate = base / name
            if not candidate.is_file():
                continue
            if name == "pyproject.toml" and first_pyproject is None:
                first_pyproject = candidate
            settings = _pytest_config_in(candidate)
            if settings is not None:
                return base, settings
    if first_pyproject is not None:
        return first_pyproject.parent, {}
    return start, {}


def _find_project(
    start: Path | None = None,
    *,
    rootdir: Path | None = None,
    overrides: Mapping[str, str] | None = None,
) -> _Project:
    """The rootdir pytest would choose from ``start`` and the snapshot folder it configures.

    The snapshot folder is the ini value ``agentrig_snapshot_dir`` (relative to the rootdir)
    if set — in ``overrides`` (``-o``) first, then the config file — else ``snapshots/``.
    """
    base = (start or Path.cwd()).resolve()
    found_root, settings = _locate_config(base)
    root = rootdir.resolve() if rootdir is not None else found_root
    value: object = (overrides or {}).get(SNAPSHOT_DIR_INI, settings.get(SNAPSHOT_DIR_INI))
    if isinstance(value, list):
        value = value[0] if value else None
    snapshot_dir = str(value).strip() if value is not None else ""
    return _Project(root, _snapshot_folder(root, snapshot_dir))


def _snapshot_folder(root: Path, value: str | None) -> Path:
    """The plugin's own rule (``agentrig._layout``): never a folder the plugin would refuse."""
    from agentrig._layout import snapshot_folder

    try:
        return snapshot_folder(root, value)
    except ConfigurationError as exc:
        raise _Unusable(str(exc)) from None


# --------------------------------------------------------------------------------------------
# Drift summaries shared by update, accept and diff
# --------------------------------------------------------------------------------------------


def _change_summary(report: DriftReport) -> str:
    """``3 changes (text 2, usage-cost 1)``: what a re-recording or an accept changes."""
    detail = ", ".join(f"{cls} {n}" for cls, n in report.counts().items())
    return f"{_plural(len(report.changes), 'change')} ({detail})"


def _first_changes(report: DriftReport, *, color: bool, limit: int = FIRST_CHANGES) -> list[str]:
    """The first ``limit`` changes, one line each, and how many more there are."""
    lines = [change.render(color=color) for change in report.changes[:limit]]
    rest = len(report.changes) - limit
    if rest > 0:
        lines.append(f"… and {_plural(rest, 'more change')} (`agentrig diff` lists them all)")
    return lines


# --------------------------------------------------------------------------------------------
# agentrig diff
# --------------------------------------------------------------------------------------------

DiffStatus = Literal["same", "tolerated", "drift", "added", "removed"]
_DIFF_STATUSES: Final[tuple[DiffStatus, ...]] = ("same", "tolerated", "drift", "added", "removed")


@dataclass(slots=True)
class _FileDiff:
    """One pair of snapshots (or a snapshot on one side only) and its drift."""

    key: str
    status: DiffStatus
    report: DriftReport | None = None

    def __post_init__(self) -> None:
        self.key = _printable(self.key)  # a non-UTF-8 file name, printed or in JSON


def _folder_snapshots(folder: Path) -> dict[str, Path]:
    """The snapshot files under ``folder`` by relative path (POSIX), sorted.

    A ``x.received.json`` stands for ``x.json`` when the folder has no ``x.json`` (a folder of
    downloaded CI artifacts); beside its snapshot it is ignored.
    """
    found: dict[str, Path] = {}
    received: dict[str, Path] = {}
    for path in folder.rglob("*" + SNAPSHOT_SUFFIX):
        if not path.is_file() or path.name.startswith(".") or path.name.endswith(CASSETTE_SUFFIX):
            continue
        rel = path.relative_to(folder)
        if _is_received(path):
            received[_snapshot_of(rel).as_posix()] = path
        else:
            found[rel.as_posix()] = path
    for key, path in received.items():
        found.setdefault(key, path)
    return dict(sorted(found.items()))


def _compare_files(key: str, a: Path, b: Path, config: DriftConfig) -> _FileDiff:
    report = compare(_load(a), _load(b), config=config)
    status: DiffStatus = "drift" if report.failed else "tolerated" if report.changes else "same"
    return _FileDiff(key, status, report)


def _diff_paths(a: Path, b: Path, config: DriftConfig) -> list[_FileDiff]:
    for p in (a, b):
        if not p.exists():
            raise _Unusable(f"no such file or folder: {_display(p)}")
    if a.is_dir() != b.is_dir():
        folder, file = (a, b) if a.is_dir() else (b, a)
        raise _Unusable(
            f"{_display(folder)} is a folder but {_display(file)} is a file; "
            "give two snapshot files or two folders"
        )
    if not a.is_dir():
        return [_compare_files(b.name, a, b, config)]
    left, right = _folder_snapshots(a), _folder_snapshots(b)
    diffs: list[_FileDiff] = []
    for key in sorted(left.keys() | right.keys()):
        if key not in right:
            _load(left[key])  # an unreadable file is unusable input, on either side
            diffs.append(_FileDiff(key, "removed"))
        elif key not in left:
            _load(right[key])
            diffs.append(_FileDiff(key, "added"))
        else:
            diffs.append(_compare_files(key, left[key], right[key], config))
    return diffs


def _diff_config(ns: argparse.Namespace) -> DriftConfig:
    try:
        return DriftConfig.from_strings(fail_on=ns.fail_on, tolerance=ns.tolerance)
    except ConfigurationError as exc:
        raise _Unusable(str(exc)) from None


def _diff_json(a: Path, b: Path, diffs: Sequence[_FileDiff], drifted: bool) -> bytes:
    doc = {
        "agentrig_diff": 1,
        "a": _printable(a.as_posix()),
        "b": _printable(b.as_posix()),
        "drift": drifted,
        "counts": {s: sum(1 for d in diffs if d.status == s) for s in _DIFF_STATUSES},
        "files": [
            {
                "path": _printable(d.key),
                "status": d.status,
                "report": d.report.to_dict() if d.report is not None else None,
            }
            for d in diffs
        ],
    }
    return orjson.dumps(
        doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
    )


def _cmd_diff(ns: argparse.Namespace, out: TextIO) -> int:
    a, b = Path(ns.a), Path(ns.b)
    diffs = _diff_paths(a, b, _diff_config(ns))
    drifted = any(d.status in ("drift", "added", "removed") for d in diffs)
    status = EXIT_DRIFT if drifted else EXIT_OK
    try:
        _write_diff(ns, out, a, b, diffs, drifted)
    except BrokenPipeError:
        # `agentrig diff A B | head`: the reader left early; the verdict still stands.
        _silence_stdout(out)
    return status


def _silence_stdout(out: TextIO) -> None:
    """After the reader of the process's stdout left: no error when the interpreter exits
    and flushes it (an in-process caller's own stream is left alone)."""
    if out is sys.__stdout__:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - interpreter exit flushes it


def _write_diff(
    ns: argparse.Namespace,
    out: TextIO,
    a: Path,
    b: Path,
    diffs: Sequence[_FileDiff],
    drifted: bool,
) -> None:
    if ns.json:
        out.write(_diff_json(a, b, diffs, drifted).decode("utf-8"))
        out.flush()
        return

    color = _use_color(ns.color, out)
    if not a.is_dir():
        report = diffs[0].report
        assert report is not None
        if not report.changes:
            out.write(f"no drift: {_display(a)} and {_display(b)} are equivalent\n")
        else:
            out.write(f"--- {_display(a)}\n+++ {_display(b)}\n")
            out.write(
                report.render(color=color, max_changes=ns.max_changes, verbose=ns.verbose) + "\n"
            )
        out.flush()
        return

    for d in diffs:
        if d.status == "added":
            out.write(f"added     {d.key}  (only in {_display(b)})\n")
        elif d.status == "removed":
            out.write(f"removed   {d.key}  (only in {_display(a)})\n")
        elif d.report is not None and d.report.changes:
            out.write(f"{d.status:<9} {d.key}\n")
            text = d.report.render(color=color, max_changes=ns.max_changes, verbose=ns.verbose)
            for line in text.splitlines():
                out.write(f"    {line}\n")
    n = {s: sum(1 for d in diffs if d.status == s) for s in _DIFF_STATUSES}
    if not drifted:
        tolerated = f" ({n['tolerated']} with tolerated changes)" if n["tolerated"] else ""
        out.write(
            f"no drift: {_plural(len(diffs), 'snapshot')} in {_display(a)} and {_display(b)} "
            f"are equivalent{tolerated}\n"
        )
    else:
        out.write(
            f"{_plural(len(diffs), 'snapshot')}: {n['drift']} drifted, {n['added']} added, "
            f"{n['removed']} removed, {n['tolerated']} tolerated, {n['same']} unchanged\n"
        )
    out.flush()


# --------------------------------------------------------------------------------------------
# agentrig show
# --------------------------------------------------------------------------------------------

_MODEL_MARKERS: Final = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.request.model",
)
_AGENT_KEYS: Final = (
    "gen_ai.agent.name",
    "agent",
    "agent.name",
    "agentrig.agent",
    "stage",
    "agentrig.stage",
)
_HIDDEN_SPAN_ATTRIBUTES: Final = frozenset(
    {
        *_MODEL_MARKERS,
        *_AGENT_KEYS,
        "gen_ai.operation.name",
        "agentrig.cost_usd",
        "agentrig.prompt",
        "agentrig.reply",
        "gen_ai.response.model",
        "gen_ai.system",
        "gen_ai.provider.name",
        "gen_ai.workflow.name",
        "span.kind",
        "error.type",
    }
)


#: ``gen_ai.operation.name`` values of a model call (OpenTelemetry GenAI); ``invoke_agent``
#: and ``execute_tool`` spans are agents and tools, not calls.
_MODEL_OPERATIONS: Final = frozenset({"chat", "text_completion", "generate_content", "embeddings"})


def _is_model_call(span: Mapping[str, Any]) -> bool:
    attrs = span.get("attributes") or {}
    if any(k in attrs for k in _MODEL_MARKERS):
        return True
    operation = attrs.get("gen_ai.operation.name")  # any JSON value in a hand-edited file
    return isinstance(operation, str) and operation in _MODEL_OPERATIONS


def _agent_of(attrs: Mapping[str, Any]) -> str | None:
    for key in _AGENT_KEYS:
        value = attrs.get(key)
        if value is not None:
            return str(value)
    return None


def _num(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value)


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return value


@dataclass(slots=True)
class _StageTotals:
    pool: str
    stage: str
    granted: Decimal = ZERO
    spent: Decimal = ZERO
    returned: Decimal = ZERO
    tokens: int = 0
    charges: int = 0
    refused_charges: int = 0
    refusals: int = 0


@dataclass(slots=True)
class _Walk:
    """Everything ``show`` collects in one walk of the document."""

    lines: list[tuple[str, str, str]] = field(default_factory=list)  # start, duration, label
    model_calls: list[Mapping[str, Any]] = field(default_factory=list)
    stages: dict[tuple[str, str], _StageTotals] = field(default_factory=dict)
    spans: int = 0
    decisions: int = 0
    errors: int = 0
    end: float = 0.0


def _error_text(item: Mapping[str, Any]) -> str | None:
    error = item.get("error")
    if isinstance(error, Mapping):
        kind = error.get("type") or "error"
        message = error.get("message")
        return f"{kind}: {message}" if message else str(kind)
    if item.get("status") == "error":
        return str(item.get("status_message") or "error")
    return None


def _span_label(span: Mapping[str, Any]) -> str:
    attrs: Mapping[str, Any] = span.get("attributes") or {}
    name = str(span.get("span", "?"))
    parts = [name]
    agent = _agent_of(attrs)
    if _is_model_call(span):
        head = agent or "?"
        model = attrs.get("gen_ai.request.model")
        if model is not None and name != f"chat {model}":  # the GenAI span name says it
            head += f" · {model}"
        parts.append(head)
        tin = attrs.get("gen_ai.usage.input_tokens")
        tout = attrs.get("gen_ai.usage.output_tokens")
        if tin is not None or tout is not None:
            parts.append(f"{_fmt_int(tin)}→{_fmt_int(tout)} tok")
        if "agentrig.cost_usd" in attrs:
            parts.append(_fmt_usd(attrs["agentrig.cost_usd"]))
    elif agent is not None and agent != name and not name.endswith(f" {agent}"):
        parts.append(f"[{agent}]")
    error = _error_text(span)
    if error:
        parts.append(f"✗ {error}")
    elif span.get("status") == "ok":
        parts.append("✓")
    if span.get("unfinished"):
        parts.append("(unfinished)")
    extra = {k: v for k, v in attrs.items() if k not in _HIDDEN_SPAN_ATTRIBUTES}
    if extra:
        parts.append(_fields(extra))
    if _is_model_call(span) and "agentrig.reply" in attrs:
        parts.append(f"→ {_fmt_value(attrs['agentrig.reply'], 60)}")
    return "  ".join(parts)


def _entry_label(kind: str, data: Mapping[str, Any]) -> str:
    stage = data.get("stage")
    where = f"{stage}" if stage is not None else str(data.get("pool", "?"))
    if kind == "decision":
        return f"◆ {data.get('decision', '?')}  {_fields(data, ('decision', 'log'))}".rstrip()
    if kind == "budget.acquire":
        text = f"$ acquire {where}: granted {_fmt_usd(data.get('granted_usd'))}"
        if data.get("max_usd") is not None:
            text += f" (max {_fmt_usd(data.get('max_usd'))})"
        if data.get("granted_tokens") is not None:
            text += f", {_fmt_int(data.get('granted_tokens'))} tok"
        return text + (", waited" if data.get("waited") else "")
    if kind == "budget.charge":
        text = f"$ charge {where}: {_fmt_usd(data.get('usd'))}, {_fmt_int(data.get('tokens'))} tok"
        if data.get("label"):
            text += f"  {data['label']}"
        return text + ("  ✗ over the cap (spend kept)" if data.get("accepted") is False else "")
    if kind == "budget.release":
        return (
            f"$ release {where}: spent {_fmt_usd(data.get('spent_usd'))}, returned "
            f"{_fmt_usd(data.get('returned_usd'))}, {_fmt_int(data.get('spent_tokens'))} tok"
        )
    if kind == "budget.refused":
        return (
            f"$ refused {where}: asked {_fmt_usd(data.get('requested_usd'))}, available "
            f"{_fmt_usd(data.get('available_usd'))}  {data.get('reason') or ''}"
        ).rstrip()
    if kind == "bus.emit":
        handlers = _int(data.get("handlers"))
        payload = data.get("payload")
        text = f"→ emit {data.get('topic', '?')} ({_plural(handlers, 'handler')})"
        if isinstance(payload, Mapping) and payload:
            text += "  " + _fields(payload)
        return text
    if kind == "bus.handler":
        head = f"← {data.get('handler', '?')} on {data.get('topic', '?')}"
        if data.get("ok") is False:
            error = data.get("error")
            if isinstance(error, Mapping):
                return f"{head}  ✗ {error.get('type', 'error')}: {error.get('message', '')}"
            return f"{head}  ✗ failed"
        return f"{head}  → {_fmt_value(data.get('result'))}" if "result" in data else head
    if kind == "deadline.expired":
        return f"⏱ deadline {data.get('deadline') or ''} expired after {data.get('seconds')} s"
    return f"• {kind}  {_fields(data)}".rstrip()


def _account(walk: _Walk, kind: str, data: Mapping[str, Any]) -> None:
    if not kind.startswith("budget."):
        return
    key = (str(data.get("pool", "pool")), str(data.get("stage") or "-"))
    totals = walk.stages.get(key)
    if totals is None:
        totals = walk.stages[key] = _StageTotals(*key)
    if kind == "budget.acquire":
        totals.granted = sum_usd((totals.granted, _usd(data.get("granted_usd"))))
    elif kind == "budget.charge":
        totals.spent = sum_usd((totals.spent, _usd(data.get("usd"))))
        totals.tokens += _int(data.get("tokens"))
        totals.charges += 1
        if data.get("accepted") is False:
            totals.refused_charges += 1
    elif kind == "budget.release":
        totals.returned = sum_usd((totals.returned, _usd(data.get("returned_usd"))))
    elif kind == "budget.refused":
        totals.refusals += 1


def _item_time(item: Mapping[str, Any]) -> float | None:
    value = item.get("start") if "span" in item else item.get("t")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _walk(doc: Mapping[str, Any]) -> _Walk:
    """Flatten the span tree into lines with tree guides, collecting totals on the way."""
    walk = _Walk()
    # An explicit stack (not recursion): documents may nest deeply. Each frame holds the
    # children still to show and the guide prefix for them. A child is (is_event, item, last).
    Child = tuple[bool, Mapping[str, Any], bool]
    stack: list[tuple[Iterator[Child], str]] = []

    def children(node: Mapping[str, Any]) -> Iterator[Child]:
        items = [i for i in (node.get("timeline") or []) if isinstance(i, Mapping)]
        events = [e for e in (node.get("events") or []) if isinstance(e, Mapping)]
        if _error_text(node):  # the span's own line already shows its exception
            events = [e for e in events if e.get("name") != "exception"]
        # Span events go between the timeline items, by time (an event before the items that
        # start at the same instant: it was recorded while the span was still running).
        merged: list[tuple[bool, Mapping[str, Any]]] = []
        pending = list(events)
        for item in items:
            t = _item_time(item)
            while pending and t is not None and _num(pending[0].get("t")) <= t:
                merged.append((True, pending.pop(0)))
            merged.append((False, item))
        merged.extend((True, e) for e in pending)
        for i, (is_event, item) in enumerate(merged):
            yield is_event, item, i == len(merged) - 1

    stack.append((children(doc), ""))
    while stack:
        iterator, prefix = stack[-1]
        nxt = next(iterator, None)
        if nxt is None:
            stack.pop()
            continue
        is_event, item, last = nxt
        guide = prefix + ("└─ " if last else "├─ ")
        deeper = prefix + ("   " if last else "│  ")
        if is_event:
            attrs = item.get("attributes") or {}
            label = f"· {item.get('name', '?')}"
            if attrs:
                label += "  " + _fields(attrs)
            walk.lines.append((_fmt_seconds(item.get("t")), "", guide + label))
            walk.end = max(walk.end, _num(item.get("t")))
        elif "span" in item:
            walk.spans += 1
            start, duration = item.get("start"), item.get("duration")
            walk.end = max(walk.end, _num(start) + _num(duration))
            if _is_model_call(item):
                walk.model_calls.append(item)
            if _error_text(item):
                walk.errors += 1
            walk.lines.append(
                (_fmt_seconds(start), _fmt_seconds(duration), guide + _span_label(item))
            )
            stack.append((children(item), deeper))
        elif "entry" in item:
            kind = str(item.get("entry", "?"))
            data = item.get("data")
            data = data if isinstance(data, Mapping) else {}
            if kind == "decision":
                walk.decisions += 1
            _account(walk, kind, data)
            walk.end = max(walk.end, _num(item.get("t")))
            walk.lines.append((_fmt_seconds(item.get("t")), "", guide + _entry_label(kind, data)))
    return walk


def _render_show(doc: Mapping[str, Any], source: str, width: int) -> list[str]:
    walk = _walk(doc)
    lines: list[str] = []
    header = doc.get("agentrig") or {}
    fmt = header.get("format") if isinstance(header, Mapping) else None
    lines.append(f"agentrig snapshot  {doc.get('name') or '(unnamed)'}")
    lines.append(f"file: {source}  (format {fmt})")
    calls = [c.get("attributes") or {} for c in walk.model_calls]
    tokens_in = sum(_int(a.get("gen_ai.usage.input_tokens")) for a in calls)
    tokens_out = sum(_int(a.get("gen_ai.usage.output_tokens")) for a in calls)
    cost = sum_usd(_usd(a.get(AGENTRIG_COST_USD)) for a in calls)
    run = [f"{_fmt_seconds(walk.end)} s virtual", _plural(walk.spans, "span")]
    if walk.errors:
        run.append(_plural(walk.errors, "failed span"))
    run.append(_plural(walk.decisions, "decision"))
    lines.append("run: " + " · ".join(run))
    lines.append(
        f"model: {_plural(len(walk.model_calls), 'call')} · {tokens_in + tokens_out} tokens "
        f"({tokens_in} in, {tokens_out} out) · {_fmt_usd(cost)}"
    )

    lines.append("")
    lines.append("Timeline (virtual seconds)")
    lines.append(f"{'start':>9} {'duration':>9}  what")
    if not walk.lines:
        lines.append(f"{'':>9} {'':>9}  (nothing recorded)")
    for start, duration, label in walk.lines:
        lines.append(f"{start:>9} {duration:>9}  {label}")

    lines.append("")
    lines.append(f"Model calls ({len(walk.model_calls)})")
    if walk.model_calls:
        lines.append(
            f"{'start':>9} {'duration':>9}  {'agent':<16} {'model':<16} {'in':>6} {'out':>6}"
            f" {'cost':>10}  status"
        )
        for call in walk.model_calls:
            attrs = call.get("attributes") or {}
            status = _error_text(call) or ("ok" if call.get("status") == "ok" else "")
            lines.append(
                f"{_fmt_seconds(call.get('start')):>9} {_fmt_seconds(call.get('duration')):>9}"
                f"  {_clip(_agent_of(attrs) or '-', 16):<16}"
                f" {_clip(str(attrs.get('gen_ai.request.model', '-')), 16):<16}"
                f" {_fmt_int(attrs.get('gen_ai.usage.input_tokens')):>6}"
                f" {_fmt_int(attrs.get('gen_ai.usage.output_tokens')):>6}"
                f" {_fmt_usd(attrs.get('agentrig.cost_usd')):>10}  {status}"
            )
        lines.append(
            f"{'':>9} {'':>9}  {'total':<16} {'':<16} {tokens_in:>6} {tokens_out:>6}"
            f" {_fmt_usd(cost):>10}"
        )
    else:
        lines.append("  (none)")

    lines.append("")
    lines.append("Budget by stage")
    if walk.stages:
        lines.append(
            f"  {'pool':<14} {'stage':<18} {'granted':>10} {'spent':>10} {'returned':>10}"
            f" {'tokens':>7} {'charges':>7}  notes"
        )
        rows = list(walk.stages.values())
        for r in rows:
            notes = []
            if r.refused_charges:
                notes.append(f"{_plural(r.refused_charges, 'charge')} over the cap")
            if r.refusals:
                notes.append(f"refused {_plural(r.refusals, 'time')}")
            lines.append(
                f"  {_clip(r.pool, 14):<14} {_clip(r.stage, 18):<18} {_fmt_usd(r.granted):>10}"
                f" {_fmt_usd(r.spent):>10} {_fmt_usd(r.returned):>10} {r.tokens:>7}"
                f" {r.charges:>7}  {', '.join(notes)}".rstrip()
            )
        lines.append(
            f"  {'total':<14} {'':<18} {_fmt_usd(sum_usd(r.granted for r in rows)):>10}"
            f" {_fmt_usd(sum_usd(r.spent for r in rows)):>10}"
            f" {_fmt_usd(sum_usd(r.returned for r in rows)):>10} {sum(r.tokens for r in rows):>7}"
            f" {sum(r.charges for r in rows):>7}"
        )
    else:
        lines.append("  (no budget activity recorded)")
    return [_clip(line.rstrip(), width) for line in lines]


def _show_width(asked: int | None, out: TextIO) -> int:
    """``--width``, else the terminal's width, else (piped: ``| less -S``, a file) no limit."""
    if asked is not None:
        return asked
    isatty = getattr(out, "isatty", None)
    if isatty is not None and isatty():
        return max(40, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)
    return sys.maxsize


def _cmd_show(ns: argparse.Namespace, out: TextIO) -> int:
    path = Path(ns.file)
    if path.name.endswith(CASSETTE_SUFFIX):
        from agentrig.cli import cassettes

        try:
            return cassettes.show(
                path, _display(path), out, _show_width(ns.width, out), as_json=ns.json
            )
        except (ConfigurationError, OSError, ValueError) as exc:  # CassetteError is a ValueError
            raise _Unusable(str(exc)) from None
    doc = _load(path)
    if ns.json and ns.otlp:
        raise _Unusable("give --json or --otlp, not both")
    if ns.json:
        out.write(dumps(doc).decode("utf-8"))
        return EXIT_OK
    if ns.otlp:
        from agentrig.otlp import dumps_otlp

        out.write(dumps_otlp(doc).decode("utf-8"))
        return EXIT_OK
    if ns.width is not None and ns.width < 40:
        raise _Unusable(f"--width must be at least 40 columns, got {ns.width}")
    for line in _render_show(doc, _display(path), _show_width(ns.width, out)):
        out.write(line + "\n")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# agentrig accept
# --------------------------------------------------------------------------------------------


def _cmd_accept(ns: argparse.Namespace, out: TextIO) -> int:
    from agentrig.cli.accept import cmd_accept

    return cmd_accept(ns, out)


# --------------------------------------------------------------------------------------------
# agentrig update
# --------------------------------------------------------------------------------------------

#: pytest options that take a value as the next argument (so it is not taken for a path).
_PYTEST_VALUE_OPTIONS: Final = frozenset(
    {
        "-k", "-m", "-o", "-c", "-p", "-W", "-n", "-r", "--rootdir", "--override-ini",
        "--config-file", "--confcutdir", "--basetemp", "--deselect", "--ignore",
        "--ignore-glob", "--maxfail", "--tb", "--junitxml", "--durations", "--log-level",
        "--agentrig-report", "--import-mode", "--capture", "--dist", "--numprocesses",
        "--maxprocesses", "--snapshot-default-extension", "--snapshot-diff-mode",
        "--snapshot-patch-pycharm-diff", "--cov", "--cov-report", "--timeout",
    }
)  # fmt: skip
#: Options that choose tests themselves: with one of them, update does not restrict further.
_SELECTING_OPTIONS: Final = frozenset(
    {"-k", "-m", "--deselect", "--lf", "--last-failed", "--sw", "--stepwise"}
)


@dataclass(slots=True)
class _PytestArgs:
    """What ``update`` needs to know of pytest's arguments."""

    paths: list[str] = field(default_factory=list)
    rootdir: str | None = None
    config_file: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    selects: bool = False


def _scan_pytest_args(args: Sequence[str]) -> _PytestArgs:
    scan = _PytestArgs()
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            scan.paths.extend(args[i:])
            break
        if not arg.startswith("-") or arg == "-":
            scan.paths.append(arg)
            continue
        name, value = arg, None
        if arg.startswith("--"):
            name, eq, inline = arg.partition("=")
            value = inline if eq else None
        elif len(arg) > 2 and arg[:2] in _PYTEST_VALUE_OPTIONS:  # -kfoo, -oini=value
            name, value = arg[:2], arg[2:]
        if name in _PYTEST_VALUE_OPTIONS and value is None and i < len(args):
            value = args[i]
            i += 1
        if name in _SELECTING_OPTIONS:
            scan.selects = True
        if name == "--rootdir" and value:
            scan.rootdir = value
        elif name in ("-c", "--config-file") and value:
            scan.config_file = value
        elif name in ("-o", "--override-ini") and value and "=" in value:
            key, _, ini_value = value.partition("=")
            scan.overrides[key.strip()] = ini_value
    return scan


def _update_project(scan: _PytestArgs) -> _Project:
    """The project pytest will run in, found from the same arguments pytest gets."""
    if scan.config_file:
        config = Path(scan.config_file).resolve()
        settings = _pytest_config_in(config) if config.is_file() else None
        root = Path(scan.rootdir).resolve() if scan.rootdir else config.parent
        value = scan.overrides.get(SNAPSHOT_DIR_INI, (settings or {}).get(SNAPSHOT_DIR_INI))
        return _Project(root, _snapshot_folder(root, str(value) if value else None))
    dirs: list[Path] = []
    for arg in scan.paths:
        path = Path(arg.split("::", 1)[0])
        if path.exists():
            dirs.append((path if path.is_dir() else path.parent).resolve())
    start = Path(os.path.commonpath(dirs)) if dirs else None
    return _find_project(
        start,
        rootdir=Path(scan.rootdir) if scan.rootdir else None,
        overrides=scan.overrides,
    )


def _read_snapshots(folder: Path) -> dict[str, bytes]:
    """Every snapshot file's bytes under ``folder``, by relative path."""
    if not folder.is_dir():
        return {}
    found: dict[str, bytes] = {}
    for path in _snapshot_files(folder):
        try:
            found[path.relative_to(folder).as_posix()] = path.read_bytes()
        except OSError:  # vanished or unreadable: it is not part of the before/after picture
            continue
    return found


def _describe_update(key: str, before: bytes, after: bytes, *, color: bool) -> list[str]:
    try:
        report = compare(loads(before, source=key), loads(after, source=key))
    except SnapshotError as exc:
        return [f"updated   {key}", f"    (not compared: {exc})"]
    if not report.changes:
        return [f"updated   {key}  rewritten, no semantic change"]
    lines = [f"updated   {key}  {_change_summary(report)}"]
    lines.extend(f"    {line}" for line in _first_changes(report, color=color))
    return lines


def _outcomes_file() -> Path:
    import tempfile

    handle, name = tempfile.mkstemp(prefix="agentrig-update-", suffix=".json")
    os.close(handle)
    os.unlink(name)  # the session writes it atomically; absent = the session never got there
    return Path(name)


def _ran_snapshots(outcomes: Path, rootdir: Path, folder: Path) -> set[str] | None:
    """The snapshots (relative to ``folder``) that the update session compared or wrote."""
    try:
        rows = orjson.loads(outcomes.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    finally:
        with contextlib.suppress(OSError):
            outcomes.unlink()
    ran: set[str] = set()
    for row in rows if isinstance(rows, list) else []:
        shown = row.get("snapshot") if isinstance(row, dict) else None
        if not isinstance(shown, str):
            continue
        path = Path(shown) if Path(shown).is_absolute() else Path.cwd() / shown
        for base in (path, rootdir / shown):
            with contextlib.suppress(ValueError):
                ran.add(base.resolve().relative_to(folder.resolve()).as_posix())
                break
    return ran


def _cmd_update(ns: argparse.Namespace, pytest_args: list[str], out: TextIO) -> int:
    scan = _scan_pytest_args(pytest_args)
    project = _update_project(scan)
    folder = project.snapshot_dir
    before = _read_snapshots(folder)

    command = [sys.executable, "-m", "pytest", "--snapshot-update"]
    restricted = not (scan.paths or scan.selects or ns.all)
    env = dict(os.environ)
    if restricted:
        # Only the tests that take ``agent_snapshot``: re-recording must not run the rest of
        # a big suite. This module is the (tiny) plugin that deselects them; the variable
        # makes sure it never filters anything anywhere else.
        command += ["-p", "agentrig.cli"]
        env[_RESTRICT_ENV] = "1"
    if ns.force:
        command.append("--agentrig-force-update")
    outcomes_file = _outcomes_file()
    env["AGENTRIG_UPDATE_OUTCOMES"] = str(outcomes_file)
    command += pytest_args
    shown = shlex.join(["python", *command[1:]])
    out.write(f"agentrig update: {shown}\n")
    if os.environ.get("CI", "").strip().lower() not in _FALSY and not ns.force:
        out.write(
            "agentrig update: CI is set, so the plugin will not write snapshots; pass --force "
            "to re-record anyway\n"
        )
    out.flush()
    status = subprocess.call(command, env=env)
    after = _read_snapshots(folder)

    color = _use_color(ns.color, out)
    created = sorted(after.keys() - before.keys())
    deleted = sorted(before.keys() - after.keys())
    updated = sorted(k for k in after.keys() & before.keys() if after[k] != before[k])
    ran = _ran_snapshots(outcomes_file, project.rootdir, folder)
    # unchanged: compared this run and left as they were (not: every file that was not hit)
    unchanged = (
        len((after.keys() & before.keys() & ran) - set(updated))
        if ran is not None
        else (len(after.keys() & before.keys()) - len(updated))
    )
    out.write(f"\nagentrig update: snapshots under {_display(folder)}\n")
    for key in sorted([*created, *deleted, *updated]):
        if key in before and key in after:
            lines = _describe_update(key, before[key], after[key], color=color)
        else:
            lines = [f"{'created' if key in after else 'deleted':<9} {key}"]
        for line in lines:
            out.write(f"  {line}\n")
    total = (
        f"total: {len(updated)} updated, {len(created)} created, {len(deleted)} deleted, "
        f"{unchanged} unchanged"
    )
    out.write(f"{total} (pytest exit status {status})\n")
    return status


_FALSY: Final = frozenset({"", "0", "false", "no", "off"})

# ``agentrig update`` loads this module into its pytest run as a plugin (``-p agentrig.cli``)
# to keep only the tests that use ``agent_snapshot``; the variable switches the hook on.
_RESTRICT_ENV: Final = "AGENTRIG_UPDATE_ONLY_SNAPSHOT_TESTS"


@HookimplMarker("pytest")(trylast=True)
def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """pytest hook, on only inside ``agentrig update``: deselect the tests without snapshots.

    ``trylast``: syrupy has already recorded the collected items, so it knows these were
    deselected and does not take their snapshots for unused ones.
    """
    if os.environ.get(_RESTRICT_ENV) != "1":
        return
    keep: list[Any] = []
    drop: list[Any] = []
    for item in items:
        (keep if "agent_snapshot" in getattr(item, "fixturenames", ()) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# --------------------------------------------------------------------------------------------
# The parser and main
# --------------------------------------------------------------------------------------------

_DESCRIPTION: Final = """\
The snapshot workflow of agentrig (multi-agent regression tests), outside pytest.

commands:
  update [PYTEST ARGS]   re-record the snapshots with pytest and show what changed
  diff A B               semantic drift between two snapshot files or two folders
  show FILE              a snapshot (or *.received.json) as a tree, timeline and tables
  accept [PATHS]         promote *.received.json files over their snapshots
  review [PATHS]         walk the drifted snapshots: accept, reject, skip or quit
  mutate [PYTEST ARGS]   how strong is the suite: mutants of the fakes, score, survivors

exit statuses: 0 success / no drift, 1 drift (diff) or score below --min-score (mutate),
2 unusable input; update exits with pytest's status.
"""

_UPDATE_DESCRIPTION: Final = """\
Re-record agentrig snapshots: runs `python -m pytest --snapshot-update [PYTEST ARGS]`, then
prints, per snapshot, what changed (the drift summary by class and the first changes) and a
total. Without paths, -k or -m only the tests that use the agent_snapshot fixture run.
Everything after update's own options goes to pytest unchanged (start it with -- to pass an
option update also has). Exits with pytest's status.
"""

_UPDATE_EPILOG: Final = """\
examples:
  agentrig update                                 every test that uses agent_snapshot
  agentrig update tests/test_app.py -k pipeline   only these tests
  agentrig update --all -- -n auto                the whole suite, on all cores
"""

_DIFF_DESCRIPTION: Final = """\
Semantic drift between two snapshot files, or two folders of them matched by relative path
(files on one side only are listed as added or removed). The report lists every change by its
place in the run, classified as structure, decision, text, usage-cost, timing or error. In a
folder, x.received.json stands for x.json when there is no x.json (downloaded CI artifacts).
Exit status: 0 no drift, 1 drift, 2 unusable input (missing file, not JSON, other format).
"""

_DIFF_EPILOG: Final = """\
examples:
  agentrig diff snapshots/tests/test_app/test_pipeline.json \\
                snapshots/tests/test_app/test_pipeline.received.json
  agentrig diff main-snapshots/ snapshots/ --json > drift.json
  agentrig diff a.json b.json --fail-on structure,decision,error --tolerance usage-cost:rel=5%
"""

_SHOW_DESCRIPTION: Final = """\
A snapshot (or *.received.json) rendered for a person: the span tree with virtual start
times and durations; model calls with agent, model, tokens, cost and reply; decisions, budget
moves and bus traffic in time order inside the span they happened in; then a table of the
model calls and the budget totals per stage. Lines fit the terminal; piped, nothing is cut.
"""

_SHOW_EPILOG: Final = """\
examples:
  agentrig show snapshots/tests/test_app/test_pipeline.json
  agentrig show snapshots/tests/test_app/test_pipeline.received.json | less -S
  agentrig show snapshots/tests/test_app/test_pipeline.json --json
  agentrig show snapshots/tests/test_app/test_pipeline.json --otlp > pipeline.otlp.json
"""

_ACCEPT_DESCRIPTION: Final = f"""\
Promote *.received.json files (written by the plugin beside a snapshot whose test drifted)
over their snapshots, listing each with what changed. Only the received files of the latest
pytest run are taken, while their snapshot is the one they were compared with; stale ones are
named with the command that refreshes them (--stale takes them anyway, exit status 1 when any
was skipped). Every file and target is checked before the first one moves (a folder or a
non-agentrig file where a snapshot should be: nothing moves); each write is atomic.
PATHS are folders, received files or snapshot files; by default the project's snapshot
folder (ini {SNAPSHOT_DIR_INI}, else {DEFAULT_SNAPSHOT_DIR}/ at the rootdir, found as pytest
finds it).
"""

_ACCEPT_EPILOG: Final = """\
examples:
  agentrig accept --dry-run        what would change
  agentrig accept                  every received file under the snapshot folder
  agentrig accept snapshots/tests/test_app/test_pipeline.received.json
"""


_REVIEW_DESCRIPTION: Final = """\
Walk the drifted snapshots (fresh *.received.json files, as accept takes them) one at a time:
each shows its drift report (root changes, consequence counts), then a key read from standard
input decides: a accept, r reject (delete the received file), s skip, q quit. --accept and
--reject decide every one without asking (for scripts and agents).
"""

_REVIEW_EPILOG: Final = """\
examples:
  agentrig review                  one at a time, keys on stdin
  agentrig review --reject         throw every received file away
  printf 'a\\ns\\n' | agentrig review   accept the first, skip the second
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=DEFAULT_WIDTH)


def _add_color(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        metavar="WHEN",
        help="colour the drift report: auto (on a terminal, unless NO_COLOR is set), always "
        "or never",
    )


def _build_parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The ``agentrig`` parser, and ``update``'s (which sees only update's own options)."""
    from agentrig import __version__

    parser = argparse.ArgumentParser(
        prog="agentrig",
        description=_DESCRIPTION,
        epilog="`agentrig COMMAND --help` shows a command's options and examples",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"agentrig {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    update = sub.add_parser(
        "update",
        help="re-record snapshots with pytest and show what changed",
        description=_UPDATE_DESCRIPTION,
        epilog=_UPDATE_EPILOG,
        formatter_class=_Formatter,
        usage="agentrig update [-h] [--all] [--force] [--color WHEN] [--] [PYTEST ARGS ...]",
    )
    update.add_argument(
        "--all",
        action="store_true",
        help="run every test pytest collects, not only those that use agent_snapshot",
    )
    update.add_argument(
        "--force",
        action="store_true",
        help="re-record even where CI is set (passes --agentrig-force-update to pytest)",
    )
    _add_color(update)

    diff = sub.add_parser(
        "diff",
        help="semantic drift between two snapshot files or folders",
        description=_DIFF_DESCRIPTION,
        epilog=_DIFF_EPILOG,
        formatter_class=_Formatter,
    )
    diff.add_argument("a", metavar="A", help="the expected snapshot file or folder")
    diff.add_argument("b", metavar="B", help="the received snapshot file or folder")
    diff.add_argument("--json", action="store_true", help="print the result as JSON")
    diff.add_argument(
        "--fail-on",
        metavar="CLASSES",
        help="the drift classes that count as drift (default all); others are listed as info",
    )
    diff.add_argument(
        "--tolerance",
        metavar="SPEC",
        help="numeric tolerances, e.g. usage-cost:rel=5%%,timing:abs=0.5 (as agentrig_tolerance)",
    )
    diff.add_argument(
        "--max-changes",
        type=int,
        default=50,
        metavar="N",
        help="list at most N root changes per snapshot (default 50; --json lists all)",
    )
    diff.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-vv lists every consequence under its root change",
    )
    _add_color(diff)

    show = sub.add_parser(
        "show",
        help="a snapshot as a readable tree, timeline and tables",
        description=_SHOW_DESCRIPTION,
        epilog=_SHOW_EPILOG,
        formatter_class=_Formatter,
    )
    show.add_argument("file", metavar="FILE", help="a snapshot or received file")
    show.add_argument("--json", action="store_true", help="print the normalized document")
    show.add_argument(
        "--otlp",
        action="store_true",
        help="print the run as OpenTelemetry OTLP/JSON (an ExportTraceServiceRequest) for any"
        " OTel backend or viewer",
    )
    show.add_argument(
        "--width",
        type=int,
        default=None,
        metavar="N",
        help="cut lines at N columns (default: the terminal's width; no limit when piped)",
    )

    accept = sub.add_parser(
        "accept",
        help="promote *.received.json files over their snapshots",
        description=_ACCEPT_DESCRIPTION,
        epilog=_ACCEPT_EPILOG,
        formatter_class=_Formatter,
    )
    accept.add_argument("paths", nargs="*", metavar="PATHS", help="what to accept")
    accept.add_argument(
        "-n", "--dry-run", action="store_true", help="show what would be accepted; move nothing"
    )
    accept.add_argument(
        "--rootdir", metavar="DIR", help="the project's rootdir (default: found as pytest does)"
    )
    accept.add_argument(
        "--stale",
        action="store_true",
        help="also take received files of older runs, of snapshots changed since, or unstamped",
    )
    review = sub.add_parser(
        "review",
        help="walk the drifted snapshots one at a time: accept, reject, skip or quit",
        description=_REVIEW_DESCRIPTION,
        epilog=_REVIEW_EPILOG,
        formatter_class=_Formatter,
    )
    review.add_argument("paths", nargs="*", metavar="PATHS", help="what to review")
    decide = review.add_mutually_exclusive_group()
    decide.add_argument("--accept", action="store_true", help="accept every one, without asking")
    decide.add_argument("--reject", action="store_true", help="reject every one, without asking")
    review.add_argument(
        "--rootdir", metavar="DIR", help="the project's rootdir (default: found as pytest does)"
    )
    review.add_argument(
        "--stale", action="store_true", help="also review received files of older runs"
    )
    from agentrig.cli import cassettes

    cassettes.add_parser(sub, _Formatter)
    # Listed here for `agentrig --help`; `agentrig mutate ...` is dispatched before parsing.
    sub.add_parser("mutate", help="mutation score of the suite: mutants, survivors, a CI gate")
    return parser, update


_UPDATE_FLAGS: Final = frozenset({"-h", "--help", "--all", "--force"})


def _split_update(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """``update``'s own leading options, and the rest (pytest's arguments)."""
    own: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _UPDATE_FLAGS or arg.startswith("--color="):
            own.append(arg)
        elif arg == "--color":
            own.extend(args[i : i + 2])
            i += 1
        else:
            break
        i += 1
    rest = list(args[i:])
    if rest and rest[0] == "--":
        rest.pop(0)
    return own, rest


def _run(args: list[str], out: TextIO) -> int:
    parser, update_parser = _build_parser()
    if args and args[0] == "update":
        own, pytest_args = _split_update(args[1:])
        return _cmd_update(update_parser.parse_args(own), pytest_args, out)
    if args and args[0] == "mutate":
        from agentrig.cli.mutate import run_mutate

        return run_mutate(args[1:], out)
    ns = parser.parse_args(args)
    if ns.command is None:
        parser.print_help(out)
        return EXIT_USAGE
    if ns.command == "diff":
        return _cmd_diff(ns, out)
    if ns.command == "show":
        return _cmd_show(ns, out)
    if ns.command == "review":
        from agentrig.cli.review import cmd_review

        return cmd_review(ns, out)
    if ns.command == "cassettes":
        from agentrig.cli import cassettes

        return cassettes.run(ns, out)
    return _cmd_accept(ns, out)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``agentrig`` command line; the console script and ``python -m agentrig``.

    Args:
        argv: the arguments after the program name (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0 success / no drift, 1 drift (``diff``), 2 unusable input or a bad
        option (one line on stderr, never a traceback); ``update`` returns pytest's status.

    Example::

        >>> main(["diff", "old.json", "new.json"])   # doctest: +SKIP
        1
    """
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args and not args[0].startswith("-") else None
    _tolerate_unencodable_output()
    out = sys.stdout
    try:
        return _run(args, out)
    except SystemExit as exc:  # argparse: --help, --version, usage errors (already printed)
        code = exc.code
        return code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_USAGE)
    except _Unusable as exc:
        prog = f"agentrig {command}" if command else "agentrig"
        sys.stderr.write(f"{prog}: error: {_printable(str(exc))}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `agentrig show x.json | head`: the reader left, nothing to say
        with contextlib.suppress(OSError, ValueError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - interpreter exit flushes it
        return EXIT_OK
    except Exception as exc:  # the guarantee: every failure is one line and exit status 2
        prog = f"agentrig {command}" if command else "agentrig"
        message = _printable(redact_secrets(f"{type(exc).__name__}: {exc}".splitlines()[0]))
        sys.stderr.write(
            f"{prog}: error: {message} (a bug in agentrig: please report it, with the command)\n"
        )
        return EXIT_USAGE


def _tolerate_unencodable_output() -> None:
    """Tree guides and arrows must not crash a console whose encoding lacks them (cp1252)."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        reconfigure = getattr(stream, "reconfigure", None)
        if encoding != "utf8" and reconfigure is not None:
            with contextlib.suppress(ValueError, OSError, TypeError):
                reconfigure(errors="replace")
