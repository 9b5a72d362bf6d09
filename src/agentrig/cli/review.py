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
from typing import Any, Final, TextIO

from agentrig.cli._common import EXIT_OK, Unusable, display, html_page_of, load, plural
from agentrig.cli.accept import (
    Candidate,
    find_targets,
    latest_run,
    plan_accept,
    promote,
    received_files,
    rerun,
)
from agentrig.drift import compare

__all__ = ["add_parser", "run"]

_KEYS = {"a": "accept", "r": "reject", "s": "skip", "q": "quit"}


DESCRIPTION: Final = """\
Walk the drifted snapshots (fresh *.received.json files, as accept takes them) one at a time:
each shows its drift report (root changes, consequence counts), then a key read from standard
input decides: a accept, r reject (delete the received file), s skip, q quit. --accept and
--reject decide every one without asking (for scripts and agents).
"""

EPILOG: Final = """\
examples:
  agentrig review                  one at a time, keys on stdin
  agentrig review --reject         throw every received file away
  printf 'a\\ns\\n' | agentrig review   accept the first, skip the second
"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """The ``review`` subcommand's parser."""
    review = sub.add_parser(
        "review",
        help="walk the drifted snapshots one at a time: accept, reject, skip or quit",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter,
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


def _reject(candidate: Candidate) -> None:
    candidate.received.unlink()
    with suppress(OSError):
        html_page_of(candidate.snapshot).unlink()


def _show(candidate: Candidate, index: int, total: int, out: TextIO) -> None:
    where = display(candidate.snapshot)
    test = f"  ({candidate.test})" if candidate.test else ""
    out.write(f"\n[{index}/{total}] {where}{test}\n")
    if candidate.snapshot.exists():
        try:
            report = compare(load(candidate.snapshot), candidate.doc)
        except Unusable as exc:
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


def run(ns: argparse.Namespace, out: TextIO, stdin: TextIO | None = None) -> int:
    """Run ``agentrig review``: see the module docstring."""
    stdin = stdin if stdin is not None else sys.stdin
    targets, rootdir = find_targets(ns)
    received = received_files(targets)
    if not received:
        out.write("nothing to review: no drifted snapshots\n")
        return EXIT_OK
    docs = {path: load(path) for path in received}
    latest = latest_run(rootdir, list(docs.values()))
    take, skipped, problems = plan_accept(docs, latest=latest, stale_ok=ns.stale)
    if problems:
        for problem in problems:
            out.write(f"cannot review: {problem}\n")
        raise Unusable(f"{plural(len(problems), 'received file')} cannot be reviewed")
    for candidate in skipped:
        out.write(
            f"stale     {display(candidate.received)}: {candidate.stale}; "
            f"{rerun(candidate.test)} to refresh it (or review it with --stale)\n"
        )
    done = {"accept": 0, "reject": 0, "skip": 0}
    for index, candidate in enumerate(take, 1):
        _show(candidate, index, len(take), out)
        choice = "accept" if ns.accept else "reject" if ns.reject else _ask(stdin, out)
        if choice == "quit":
            break
        if choice == "accept":
            promote(candidate)
            out.write(f"  accepted  {display(candidate.snapshot)}\n")
        elif choice == "reject":
            _reject(candidate)
            out.write(f"  rejected  {display(candidate.received)} (deleted)\n")
        done[choice] += 1
    left = len(take) - sum(done.values())
    out.write(
        f"\nreviewed {sum(done.values())} of {len(take)}: {done['accept']} accepted, "
        f"{done['reject']} rejected, {done['skip'] + left} left for later\n"
    )
    return EXIT_OK
