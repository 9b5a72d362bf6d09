"""``agentrig diff A B``: semantic drift between two snapshot files, or two folders of them.

Folders are matched by relative path; a file on one side only is added or removed, and an
``x.received.json`` stands for ``x.json`` where there is none (downloaded CI artifacts).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TextIO

import orjson

from agentrig._errors import ConfigurationError
from agentrig.cli._common import (
    EXIT_DRIFT,
    EXIT_OK,
    SNAPSHOT_SUFFIX,
    Unusable,
    add_color,
    display,
    files_under,
    is_received,
    load,
    plural,
    printable,
    silence_stdout,
    snapshot_of,
    use_color,
)
from agentrig.drift import DriftConfig, DriftReport, compare
from agentrig.snapshot_files import is_snapshot_file

__all__ = ["add_parser", "run"]

DESCRIPTION: Final = """\
Semantic drift between two snapshot files, or two folders of them matched by relative path
(files on one side only are listed as added or removed). The report lists every change by its
place in the run, classified as structure, decision, text, usage-cost, timing or error. In a
folder, x.received.json stands for x.json when there is no x.json (downloaded CI artifacts).
Exit status: 0 no drift, 1 drift, 2 unusable input (missing file, not JSON, other format).
"""

EPILOG: Final = """\
examples:
  agentrig diff snapshots/tests/test_app/test_pipeline.json \\
                snapshots/tests/test_app/test_pipeline.received.json
  agentrig diff main-snapshots/ snapshots/ --json > drift.json
  agentrig diff a.json b.json --fail-on structure,decision,error --tolerance usage-cost:rel=5%
"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """The ``diff`` subcommand's parser."""
    diff = sub.add_parser(
        "diff",
        help="semantic drift between two snapshot files or folders",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter,
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
    add_color(diff)


DiffStatus = Literal["same", "tolerated", "drift", "added", "removed"]
_DIFF_STATUSES: Final[tuple[DiffStatus, ...]] = ("same", "tolerated", "drift", "added", "removed")


@dataclass(slots=True)
class _FileDiff:
    """One pair of snapshots (or a snapshot on one side only) and its drift."""

    key: str
    status: DiffStatus
    report: DriftReport | None = None

    def __post_init__(self) -> None:
        self.key = printable(self.key)  # a non-UTF-8 file name, printed or in JSON


def _folder_snapshots(folder: Path) -> dict[str, Path]:
    """The snapshot files under ``folder`` by relative path (POSIX), sorted.

    A ``x.received.json`` stands for ``x.json`` when the folder has no ``x.json`` (a folder of
    downloaded CI artifacts); beside its snapshot it is ignored.
    """
    found: dict[str, Path] = {}
    received: dict[str, Path] = {}
    for path in files_under(folder, SNAPSHOT_SUFFIX):
        if not (is_snapshot_file(path.name) or is_received(path)):  # a cassette, say
            continue
        rel = path.relative_to(folder)
        if is_received(path):
            received[snapshot_of(rel).as_posix()] = path
        else:
            found[rel.as_posix()] = path
    for key, path in received.items():
        found.setdefault(key, path)
    return dict(sorted(found.items()))


def _compare_files(key: str, a: Path, b: Path, config: DriftConfig) -> _FileDiff:
    report = compare(load(a), load(b), config=config)
    status: DiffStatus = "drift" if report.failed else "tolerated" if report.changes else "same"
    return _FileDiff(key, status, report)


def _diff_paths(a: Path, b: Path, config: DriftConfig) -> list[_FileDiff]:
    for p in (a, b):
        if not p.exists():
            raise Unusable(f"no such file or folder: {display(p)}")
    if a.is_dir() != b.is_dir():
        folder, file = (a, b) if a.is_dir() else (b, a)
        raise Unusable(
            f"{display(folder)} is a folder but {display(file)} is a file; "
            "give two snapshot files or two folders"
        )
    if not a.is_dir():
        return [_compare_files(b.name, a, b, config)]
    left, right = _folder_snapshots(a), _folder_snapshots(b)
    diffs: list[_FileDiff] = []
    for key in sorted(left.keys() | right.keys()):
        if key not in right:
            load(left[key])  # an unreadable file is unusable input, on either side
            diffs.append(_FileDiff(key, "removed"))
        elif key not in left:
            load(right[key])
            diffs.append(_FileDiff(key, "added"))
        else:
            diffs.append(_compare_files(key, left[key], right[key], config))
    return diffs


def _diff_config(ns: argparse.Namespace) -> DriftConfig:
    try:
        return DriftConfig.from_strings(fail_on=ns.fail_on, tolerance=ns.tolerance)
    except ConfigurationError as exc:
        raise Unusable(str(exc)) from None


def _diff_json(a: Path, b: Path, diffs: Sequence[_FileDiff], drifted: bool) -> bytes:
    doc = {
        "agentrig_diff": 1,
        "a": printable(a.as_posix()),
        "b": printable(b.as_posix()),
        "drift": drifted,
        "counts": {s: sum(1 for d in diffs if d.status == s) for s in _DIFF_STATUSES},
        "files": [
            {
                "path": printable(d.key),
                "status": d.status,
                "report": d.report.to_dict() if d.report is not None else None,
            }
            for d in diffs
        ],
    }
    return orjson.dumps(
        doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
    )


def run(ns: argparse.Namespace, out: TextIO) -> int:
    """Run ``agentrig diff``; 0 no drift, 1 drift."""
    a, b = Path(ns.a), Path(ns.b)
    diffs = _diff_paths(a, b, _diff_config(ns))
    drifted = any(d.status in ("drift", "added", "removed") for d in diffs)
    status = EXIT_DRIFT if drifted else EXIT_OK
    try:
        _write_diff(ns, out, a, b, diffs, drifted)
    except BrokenPipeError:
        # `agentrig diff A B | head`: the reader left early; the verdict still stands.
        silence_stdout(out)
    return status


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

    color = use_color(ns.color, out)
    if not a.is_dir():
        report = diffs[0].report
        assert report is not None
        if not report.changes:
            out.write(f"no drift: {display(a)} and {display(b)} are equivalent\n")
        else:
            out.write(f"--- {display(a)}\n+++ {display(b)}\n")
            out.write(
                report.render(color=color, max_changes=ns.max_changes, verbose=ns.verbose) + "\n"
            )
        out.flush()
        return

    for d in diffs:
        if d.status == "added":
            out.write(f"added     {d.key}  (only in {display(b)})\n")
        elif d.status == "removed":
            out.write(f"removed   {d.key}  (only in {display(a)})\n")
        elif d.report is not None and d.report.changes:
            out.write(f"{d.status:<9} {d.key}\n")
            text = d.report.render(color=color, max_changes=ns.max_changes, verbose=ns.verbose)
            for line in text.splitlines():
                out.write(f"    {line}\n")
    n = {s: sum(1 for d in diffs if d.status == s) for s in _DIFF_STATUSES}
    if not drifted:
        tolerated = f" ({n['tolerated']} with tolerated changes)" if n["tolerated"] else ""
        out.write(
            f"no drift: {plural(len(diffs), 'snapshot')} in {display(a)} and {display(b)} "
            f"are equivalent{tolerated}\n"
        )
    else:
        out.write(
            f"{plural(len(diffs), 'snapshot')}: {n['drift']} drifted, {n['added']} added, "
            f"{n['removed']} removed, {n['tolerated']} tolerated, {n['same']} unchanged\n"
        )
    out.flush()
