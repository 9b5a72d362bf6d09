"""``agentrig update [PYTEST ARGS]``: re-record snapshots with pytest and say what changed.

It runs ``python -m pytest --snapshot-update`` in a subprocess (with the environment variables
of :mod:`agentrig.plugin.update`), reads the snapshot folder before and after, and prints per
snapshot the drift summary by class and the first changes. To know which folder pytest will
use it reads pytest's own arguments (paths, ``--rootdir``, ``-c``, ``-o``) as pytest would.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

import orjson

from agentrig._ci import ci_enabled
from agentrig._errors import SnapshotError
from agentrig.cli._common import (
    SNAPSHOT_DIR_INI,
    add_color,
    change_summary,
    display,
    first_changes,
    snapshot_files,
    split_own_args,
    use_color,
)
from agentrig.cli._project import (
    Project,
    find_project,
    project_snapshot_folder,
    pytest_config_in,
)
from agentrig.document import loads
from agentrig.drift import compare

__all__ = ["add_parser", "run", "split_args"]

DESCRIPTION: Final = """\
Re-record agentrig snapshots: runs `python -m pytest --snapshot-update [PYTEST ARGS]`, then
prints, per snapshot, what changed (the drift summary by class and the first changes) and a
total. Without paths, -k or -m only the tests that use the agent_snapshot fixture run.
Everything after update's own options goes to pytest unchanged (start it with -- to pass an
option update also has). Exits with pytest's status.
"""

EPILOG: Final = """\
examples:
  agentrig update                                 every test that uses agent_snapshot
  agentrig update tests/test_app.py -k pipeline   only these tests
  agentrig update --all -- -n auto                the whole suite, on all cores
"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter]) -> argparse.ArgumentParser:
    """The ``update`` subcommand's parser (it sees only update's own options)."""
    update: argparse.ArgumentParser = sub.add_parser(
        "update",
        help="re-record snapshots with pytest and show what changed",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter,
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
    add_color(update)
    return update


#: update's own options; everything after them goes to pytest.
_FLAGS: Final = frozenset({"-h", "--help", "--all", "--force"})
_VALUE_OPTIONS: Final = frozenset({"--color"})


def split_args(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """``update``'s own leading options, and the rest (pytest's arguments)."""
    return split_own_args(args, flags=_FLAGS, value_options=_VALUE_OPTIONS)


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


def _update_project(scan: _PytestArgs) -> Project:
    """The project pytest will run in, found from the same arguments pytest gets."""
    if scan.config_file:
        config = Path(scan.config_file).resolve()
        settings = pytest_config_in(config) if config.is_file() else None
        root = Path(scan.rootdir).resolve() if scan.rootdir else config.parent
        value = scan.overrides.get(SNAPSHOT_DIR_INI, (settings or {}).get(SNAPSHOT_DIR_INI))
        return Project(root, project_snapshot_folder(root, str(value) if value else None))
    dirs: list[Path] = []
    for arg in scan.paths:
        path = Path(arg.split("::", 1)[0])
        if path.exists():
            dirs.append((path if path.is_dir() else path.parent).resolve())
    start = Path(os.path.commonpath(dirs)) if dirs else None
    return find_project(
        start,
        rootdir=Path(scan.rootdir) if scan.rootdir else None,
        overrides=scan.overrides,
    )


def _read_snapshots(folder: Path) -> dict[str, bytes]:
    """Every snapshot file's bytes under ``folder``, by relative path."""
    if not folder.is_dir():
        return {}
    found: dict[str, bytes] = {}
    for path in snapshot_files(folder):
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
    lines = [f"updated   {key}  {change_summary(report)}"]
    lines.extend(f"    {line}" for line in first_changes(report, color=color))
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


def run(ns: argparse.Namespace, pytest_args: list[str], out: TextIO) -> int:
    """Run ``agentrig update``; returns pytest's exit status."""
    from agentrig.plugin.update import OUTCOMES_ENV, RESTRICT_ENV

    scan = _scan_pytest_args(pytest_args)
    project = _update_project(scan)
    folder = project.snapshot_dir
    before = _read_snapshots(folder)

    command = [sys.executable, "-m", "pytest", "--snapshot-update"]
    restricted = not (scan.paths or scan.selects or ns.all)
    env = dict(os.environ)
    if restricted:
        # Only the tests that take ``agent_snapshot``: re-recording must not run the rest of
        # a big suite (agentrig.plugin.update deselects them when it sees the variable).
        env[RESTRICT_ENV] = "1"
    if ns.force:
        command.append("--agentrig-force-update")
    outcomes_file = _outcomes_file()
    env[OUTCOMES_ENV] = str(outcomes_file)
    command += pytest_args
    shown = shlex.join(["python", *command[1:]])
    out.write(f"agentrig update: {shown}\n")
    if ci_enabled() and not ns.force:
        out.write(
            "agentrig update: CI is set, so the plugin will not write snapshots; pass --force "
            "to re-record anyway\n"
        )
    out.flush()
    status = subprocess.call(command, env=env)
    after = _read_snapshots(folder)

    color = use_color(ns.color, out)
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
    out.write(f"\nagentrig update: snapshots under {display(folder)}\n")
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
