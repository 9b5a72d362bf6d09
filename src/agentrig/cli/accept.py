"""``agentrig accept``: promote received files — only fresh ones, all checked before any moves.

A received file carries a stamp (``"received": {"run", "snapshot_sha256", "test"}``, written by
the snapshot assertion): the pytest session it came from and the digest of the snapshot it was
compared against. By default only the received files of the latest session (the snapshot
folder's ``.agentrig-run``) are taken, and only while their snapshot is still the one they
were compared with; older ones — whose test has not run since, or passed since, or whose
snapshot changed since — are skipped and named with the command that refreshes them
(``--stale`` takes them anyway). Then every target is checked (a folder or a file that is not
an agentrig snapshot where the snapshot should be stops everything) before the first file
moves, so ``--dry-run`` and the real run report the same.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

from agentrig.cli._common import (
    DEFAULT_SNAPSHOT_DIR,
    EXIT_DRIFT,
    EXIT_OK,
    RECEIVED_SUFFIX,
    SNAPSHOT_DIR_INI,
    SNAPSHOT_SUFFIX,
    Unusable,
    change_summary,
    display,
    files_under,
    html_page_of,
    load,
    plural,
    received_of,
    snapshot_of,
)
from agentrig.cli._project import find_project
from agentrig.drift import compare
from agentrig.snapshot_files import RECEIVED_KEY

__all__ = [
    "Candidate",
    "add_parser",
    "find_targets",
    "latest_run",
    "plan_accept",
    "promote",
    "received_files",
    "rerun",
    "run",
]

#: The stamp's key in a received file.
_STAMP = RECEIVED_KEY


DESCRIPTION: Final = f"""\
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

EPILOG: Final = """\
examples:
  agentrig accept --dry-run        what would change
  agentrig accept                  every received file under the snapshot folder
  agentrig accept snapshots/tests/test_app/test_pipeline.received.json
"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """The ``accept`` subcommand's parser."""
    accept = sub.add_parser(
        "accept",
        help="promote *.received.json files over their snapshots",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter,
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


@dataclass(slots=True)
class Candidate:
    """One received file and what accepting it would do (or why it is not taken)."""

    received: Path
    snapshot: Path
    doc: dict[str, Any]
    what: str = ""
    stale: str | None = None  # why it is not from the latest run / not current
    test: str | None = None


def received_files(targets: Sequence[Path]) -> list[Path]:
    """The received files ``targets`` name: folders searched, snapshots mapped to theirs."""
    found: dict[Path, None] = {}
    for target in targets:
        if target.is_dir():
            for path in files_under(target, RECEIVED_SUFFIX):
                found[path] = None
        elif target.name.endswith(RECEIVED_SUFFIX):
            if not target.is_file():
                raise Unusable(f"no such file: {display(target)}")
            found[target] = None
        elif target.name.endswith(SNAPSHOT_SUFFIX) and target.is_file():
            received = received_of(target)
            if not received.is_file():
                raise Unusable(
                    f"nothing to accept for {display(target)}: there is no {received.name} "
                    "beside it"
                )
            found[received] = None
        elif not target.exists():
            raise Unusable(f"no such file or folder: {display(target)}")
        else:
            raise Unusable(
                f"{display(target)} is neither a folder, a snapshot (*{SNAPSHOT_SUFFIX}) nor a "
                f"received file (*{RECEIVED_SUFFIX})"
            )
    return list(found)


def latest_run(rootdir: Path | None, docs: Sequence[dict[str, Any]]) -> str | None:
    """The latest session that compared snapshots: pytest's cache entry, else (no cache) the
    newest run stamped in the received files (run ids sort by time)."""
    import json

    from agentrig._layout import RUN_CACHE_FILE

    if rootdir is not None:
        try:
            value = json.loads((rootdir / RUN_CACHE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            value = None
        if isinstance(value, str) and value:
            return value
    runs = [
        d[_STAMP]["run"]
        for d in docs
        if isinstance(d.get(_STAMP), dict) and isinstance(d[_STAMP].get("run"), str)
    ]
    return max(runs) if runs else None


def rerun(test: str | None) -> str:
    if not test:
        return "re-run its test"
    return f"re-run `pytest {shlex.quote(test)}`"


def _staleness(doc: dict[str, Any], snapshot: Path, latest: str | None) -> tuple[str | None, str]:
    stamp = doc.get(_STAMP)
    if not isinstance(stamp, dict):
        return "it carries no run stamp (written by an older agentrig, or by hand)", ""
    test = stamp.get("test") if isinstance(stamp.get("test"), str) else None
    run = stamp.get("run")
    if latest is None or run != latest:
        return (
            f"it is from run {run}, not the latest run {latest} (its test has not run since, "
            "or passed since)",
            test or "",
        )
    digest = stamp.get("snapshot_sha256")
    try:
        current: str | None = hashlib.sha256(snapshot.read_bytes()).hexdigest()
    except FileNotFoundError:
        current = None
    except OSError:
        current = "unreadable"
    if current != digest:
        return "its snapshot changed since it was compared", test or ""
    return None, test or ""


def _target_problem(snapshot: Path) -> str | None:
    """Why ``snapshot`` may not be replaced, if it may not (never a file agentrig did not write)."""
    if not os.path.lexists(snapshot):
        return None
    if snapshot.is_symlink() or not snapshot.is_file():
        kind = (
            "a symlink"
            if snapshot.is_symlink()
            else "a folder"
            if snapshot.is_dir()
            else "not a file"
        )
        return f"{display(snapshot)} is {kind}, not a snapshot file; move it away first"
    try:
        with open(snapshot, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        return f"cannot read {display(snapshot)}: {exc.strerror or exc}"
    if b'"agentrig"' not in head:
        return (
            f"{display(snapshot)} is not an agentrig snapshot; agentrig never replaces a file "
            "it did not write — move it away, or fix agentrig_snapshot_dir"
        )
    return None


def plan_accept(
    received: Mapping[Path, dict[str, Any]], *, latest: str | None, stale_ok: bool
) -> tuple[list[Candidate], list[Candidate], list[str]]:
    """Check everything: ``(to accept, skipped as stale, blocking problems)``."""
    take: list[Candidate] = []
    skipped: list[Candidate] = []
    problems: list[str] = []
    for path, doc in received.items():
        snapshot = snapshot_of(path)
        stale, test = _staleness(doc, snapshot, latest)
        candidate = Candidate(path, snapshot, doc, stale=stale, test=test or None)
        problem = _target_problem(snapshot)
        if problem is not None:
            problems.append(problem)
            continue
        if stale is not None and not stale_ok:
            skipped.append(candidate)
            continue
        if not snapshot.exists():
            candidate.what = "new snapshot"
        else:
            try:
                old = load(snapshot)
            except Unusable:
                candidate.what = "replaces an unreadable snapshot"
            else:
                report = compare(old, doc)
                candidate.what = change_summary(report) if report.changes else "no semantic change"
        take.append(candidate)
    return take, skipped, problems


def promote(candidate: Candidate) -> None:
    """Write the snapshot (the document without its stamp) atomically, then drop the files."""
    from agentrig.document import dumps
    from agentrig.snapshot_files import atomic_write

    if _STAMP in candidate.doc:
        doc = {k: v for k, v in candidate.doc.items() if k != _STAMP}
        atomic_write(candidate.snapshot, dumps(doc))
        candidate.received.unlink()
    else:
        os.replace(candidate.received, candidate.snapshot)  # atomic: old file or new one
    with suppress(OSError):
        html_page_of(candidate.snapshot).unlink()


def find_targets(ns: argparse.Namespace) -> tuple[list[Path], Path | None]:
    """What to accept, and the project's rootdir (where pytest's cache is), if found."""
    try:
        project = find_project(rootdir=Path(ns.rootdir) if ns.rootdir else None)
    except Unusable:
        if not ns.paths:
            raise
        project = None
    if ns.paths:
        return [Path(p) for p in ns.paths], project.rootdir if project else None
    assert project is not None
    if not project.snapshot_dir.is_dir():
        raise Unusable(
            f"no snapshot folder at {display(project.snapshot_dir)} (rootdir "
            f"{display(project.rootdir)}); run agentrig inside the project, or give the paths "
            "to accept"
        )
    return [project.snapshot_dir], project.rootdir


def run(ns: argparse.Namespace, out: TextIO) -> int:
    """Run ``agentrig accept``: see the module docstring."""
    targets, rootdir = find_targets(ns)
    received = received_files(targets)
    if not received:
        where = ", ".join(display(t) for t in targets)
        out.write(f"nothing to accept: no *{RECEIVED_SUFFIX} files under {where}\n")
        return EXIT_OK
    docs = {path: load(path) for path in received}
    latest = latest_run(rootdir, list(docs.values()))
    take, skipped, problems = plan_accept(docs, latest=latest, stale_ok=ns.stale)
    if problems:
        for problem in problems:
            out.write(f"cannot accept: {problem}\n")
        raise Unusable(
            f"{plural(len(problems), 'received file')} cannot be accepted (listed above); "
            "nothing moved"
        )
    verb = "would accept" if ns.dry_run else "accepted"
    for candidate in take:
        if not ns.dry_run:
            try:
                promote(candidate)
            except OSError as exc:
                raise Unusable(
                    f"cannot move {display(candidate.received)} over "
                    f"{display(candidate.snapshot)}: {exc.strerror or exc}"
                ) from None
        out.write(f"{verb}  {display(candidate.snapshot)}  {candidate.what}\n")
    for candidate in skipped:
        out.write(
            f"stale     {display(candidate.received)}: {candidate.stale}; "
            f"{rerun(candidate.test)} to refresh it, or take it anyway with --stale\n"
        )
    if ns.dry_run:
        out.write(f"dry run: {plural(len(take), 'snapshot')} would be accepted; nothing moved\n")
    else:
        out.write(f"accepted {plural(len(take), 'snapshot')}\n")
    if skipped:
        out.write(f"skipped {plural(len(skipped), 'stale received file')}\n")
        return EXIT_DRIFT
    return EXIT_OK
