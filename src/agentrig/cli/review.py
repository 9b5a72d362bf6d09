"""``agentrig review``: walk the drifted snapshots one at a time, in the spirit of cargo-insta.

Each fresh received file (the same rules as ``agentrig accept``: the latest run's, with its
snapshot unchanged since) is shown with its drift report — the root changes and their
consequence counts — and a key decides: ``a`` accept (the snapshot becomes the received
document), ``r`` reject (the received file and its HTML page are deleted), ``s`` skip (left
for later), ``q`` quit. Keys are read one line at a time from standard input, so scripts and
tests drive it with a pipe; ``--accept`` / ``--reject`` decide every file without asking.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import suppress
from pathlib import Path
from typing import TextIO

from agentrig.cli import EXIT_OK, _display, _load, _plural, _Unusable
from agentrig.cli.accept import (
    Candidate,
    _latest_run,
    _promote,
    _received_files,
    _rerun,
    _targets,
    plan_accept,
)
from agentrig.drift import compare
from agentrig.snapshot_files import html_path

__all__ = ["cmd_review"]

_KEYS = {"a": "accept", "r": "reject", "s": "skip", "q": "quit"}


def _reject(candidate: Candidate) -> None:
    candidate.received.unlink()
    with suppress(OSError):
        Path(html_path(str(candidate.snapshot))).unlink()


def _show(candidate: Candidate, index: int, total: int, out: TextIO) -> None:
    where = _display(candidate.snapshot)
    test = f"  ({candidate.test})" if candidate.test else ""
    out.write(f"\n[{index}/{total}] {where}{test}\n")
    if candidate.snapshot.exists():
        try:
            report = compare(_load(candidate.snapshot), candidate.doc)
        except _Unusable as exc:
            out.write(f"  the snapshot is unreadable ({exc}); accepting replaces it\n")
            return
        text = report.render() if report.changes else "no semantic change"
        out.write("".join(f"  {line}\n" for line in text.splitlines()))
    else:
        out.write("  a new snapshot (none recorded yet)\n")


def _ask(stdin: TextIO, out: TextIO) -> str:
    while True:
        out.write("accept (a) / reject (r) / skip (s) / quit (q)? ")
        out.flush()
        line = stdin.readline()
        if not line:
            out.write("\n")
            return "quit"  # end of input
        key = line.strip().lower()[:1]
        if key in _KEYS:
            return _KEYS[key]
        out.write(f"  unknown key {line.strip()!r}\n")


def cmd_review(ns: argparse.Namespace, out: TextIO, stdin: TextIO | None = None) -> int:
    """``agentrig review``: see the module docstring."""
    stdin = stdin if stdin is not None else sys.stdin
    targets, rootdir = _targets(ns)
    received = _received_files(targets)
    if not received:
        out.write("nothing to review: no drifted snapshots\n")
        return EXIT_OK
    docs = {path: _load(path) for path in received}
    latest = _latest_run(rootdir, list(docs.values()))
    take, skipped, problems = plan_accept(docs, latest=latest, stale_ok=ns.stale)
    if problems:
        for problem in problems:
            out.write(f"cannot review: {problem}\n")
        raise _Unusable(f"{_plural(len(problems), 'received file')} cannot be reviewed")
    for candidate in skipped:
        out.write(
            f"stale     {_display(candidate.received)}: {candidate.stale}; "
            f"{_rerun(candidate.test)} to refresh it (or review it with --stale)\n"
        )
    done = {"accept": 0, "reject": 0, "skip": 0}
    for index, candidate in enumerate(take, 1):
        _show(candidate, index, len(take), out)
        choice = "accept" if ns.accept else "reject" if ns.reject else _ask(stdin, out)
        if choice == "quit":
            break
        if choice == "accept":
            _promote(candidate)
            out.write(f"  accepted  {_display(candidate.snapshot)}\n")
        elif choice == "reject":
            _reject(candidate)
            out.write(f"  rejected  {_display(candidate.received)} (deleted)\n")
        done[choice] += 1
    left = len(take) - sum(done.values())
    out.write(
        f"\nreviewed {sum(done.values())} of {len(take)}: {done['accept']} accepted, "
        f"{done['reject']} rejected, {done['skip'] + left} left for later\n"
    )
    return EXIT_OK
