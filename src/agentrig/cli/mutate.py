"""``agentrig mutate [OPTIONS] [PYTEST ARGS]``: the mutation run as a command, with a CI gate.

It runs ``python -m pytest --agentrig-mutate ...`` (the plugin does the work: see
:mod:`agentrig.plugin.mutate`), passing its own options on as ``--agentrig-*`` options and
everything else to pytest unchanged, then reads the JSON report the run wrote and turns it
into an exit status a CI can gate on: 0 the score meets ``--min-score`` (or none was given),
1 below it, 2 unusable (a bad option, pytest could not run, no report).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final, TextIO

import orjson

from agentrig._errors import ConfigurationError
from agentrig.cli._common import split_own_args
from agentrig.mutate.operators import OPERATORS, parse_operators

__all__ = ["build_parser", "run_mutate", "split_args"]

EXIT_OK: Final = 0
EXIT_BELOW: Final = 1
EXIT_USAGE: Final = 2
#: Real seconds the command waits past --time-limit before it stops pytest itself.
_GRACE: Final = 60.0

DESCRIPTION: Final = """\
How strong is the suite? Runs the selected agentrig tests once, derives mutants of what their
fakes and primitives did (an agent times out, a reply is truncated, a broadcast loses a member,
a pool has half its budget, ...), runs each test against each of its mutants, and reports the
mutation score per test, per operator and overall, and every surviving mutant in words. A
mutant is killed when the test fails (snapshot drift, assertion, cost gate, error, time limit).
Everything after mutate's own options goes to pytest unchanged (-n 2 runs on two cores; start
with -- to pass an option mutate also has). Tests that use no agentrig fixture or marker are
skipped with a note; tests that fail before mutation are reported and excluded.

exit statuses: 0 ok, 1 the score is below --min-score, 2 unusable (bad option, pytest failed
to run).
"""


def _epilog() -> str:
    width = max(len(n) for n in OPERATORS)
    lines = ["operators (--operators, comma-separated; default all):"]
    lines += [f"  {op.name:<{width}}  {op.doc}" for op in OPERATORS.values()]
    lines += [
        "",
        "examples:",
        "  agentrig mutate examples                         the example suite",
        "  agentrig mutate --min-score 0.8 tests -n 2       a CI gate, on two cores",
        "  agentrig mutate --operators call-timeout,verdict-flipped tests/test_flows.py",
        "  agentrig mutate --json tests > mutation.json     the report for machines",
        "  agentrig mutate --html mutation-html examples    the report as a page",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The parser of mutate's own options."""
    parser = argparse.ArgumentParser(
        prog="agentrig mutate",
        description=DESCRIPTION,
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="agentrig mutate [-h] [OPTIONS] [--] [PYTEST ARGS ...]",
    )
    parser.add_argument("--operators", metavar="NAMES", help="the operators to use")
    parser.add_argument("--max-mutants", metavar="N", help="at most N mutants per test")
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        help="real seconds one mutant run may take (default 20 x the test's own time, >= 5)",
    )
    parser.add_argument(
        "--time-limit", metavar="SECONDS", help="real seconds for the whole run (per process)"
    )
    parser.add_argument(
        "--min-score", metavar="SCORE", help="exit 1 when the score is below SCORE (0..1)"
    )
    parser.add_argument(
        "--html",
        metavar="DIR",
        help="write the report as DIR/mutation.html (beside the drift index of --agentrig-html)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON on stdout (pytest's output goes to stderr)",
    )
    return parser


_VALUE_OPTIONS: Final = frozenset(
    {"--operators", "--max-mutants", "--timeout", "--time-limit", "--min-score", "--html"}
)
_FLAGS: Final = frozenset({"-h", "--help", "--json"})
_PASS_ON: Final = {
    "operators": "--agentrig-mutate-operators",
    "max_mutants": "--agentrig-max-mutants",
    "timeout": "--agentrig-mutant-timeout",
    "time_limit": "--agentrig-mutate-time-limit",
    "min_score": "--agentrig-min-score",
    "html": "--agentrig-html",
}


def split_args(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """mutate's own leading options, and the rest (pytest's arguments)."""
    return split_own_args(args, flags=_FLAGS, value_options=_VALUE_OPTIONS)


def _score_text(value: object) -> str:
    return "–" if not isinstance(value, (int, float)) else f"{100 * value:.1f}%"


def run_mutate(args: Sequence[str], out: TextIO) -> int:
    """Run ``agentrig mutate`` with ``args`` (after the subcommand); returns the exit status."""
    own, pytest_args = split_args(args)
    try:
        ns = build_parser().parse_args(own)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        parse_operators(ns.operators)  # before pytest starts: the error belongs to us
    except ConfigurationError as exc:
        sys.stderr.write(f"agentrig mutate: error: --operators: {exc}\n")
        return EXIT_USAGE
    with tempfile.TemporaryDirectory(prefix="agentrig-mutate-") as tmp:
        report_path = Path(tmp) / "mutation.json"
        command = [sys.executable, "-m", "pytest", "--agentrig-mutate"]
        for dest, flag in _PASS_ON.items():
            value = getattr(ns, dest)
            if value is not None:
                command.append(f"{flag}={value}")
        command += [f"--agentrig-mutate-report={report_path}", *pytest_args]
        shown = shlex.join(["python", *command[1:]]).replace(str(report_path), "<tmp>")
        log = sys.stderr if ns.json else out
        log.write(f"agentrig mutate: {shown}\n")
        log.flush()
        limit = None if ns.time_limit is None else _seconds(ns.time_limit)
        try:
            done = subprocess.run(
                command,
                stdout=subprocess.PIPE if ns.json else None,
                timeout=None if limit is None else limit + _GRACE,
                env=dict(os.environ),
                check=False,
            )
            status = done.returncode
            if ns.json:  # pytest's own output still reaches the reader, on stderr
                sys.stderr.write(done.stdout.decode("utf-8", "replace"))
        except subprocess.TimeoutExpired:
            sys.stderr.write(
                f"agentrig mutate: error: pytest was still running {_GRACE:g} s after"
                f" --time-limit={ns.time_limit}; it was stopped (a mutant that cannot be"
                " interrupted?). Lower --timeout, or select fewer tests or operators\n"
            )
            return EXIT_USAGE
        if status in (2, 3, 4, 5) or not report_path.is_file():
            why = {
                2: "the run was interrupted",
                3: "pytest hit an internal error",
                4: "pytest refused the arguments (see above)",
                5: "no tests were collected",
            }.get(status, "no mutation report was written")
            sys.stderr.write(f"agentrig mutate: error: {why} (pytest exit status {status})\n")
            return EXIT_USAGE
        report = orjson.loads(report_path.read_bytes())
    if ns.json:
        out.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    overall = report.get("overall", {})
    failed = [t for t in report.get("tests", []) if t.get("status") == "baseline_failed"]
    if failed and not ns.json:
        out.write(
            f"agentrig mutate: {len(failed)} test(s) failed before mutation and were excluded"
            " from the score; fix them first\n"
        )
    if report.get("below_floor"):
        sys.stderr.write(
            f"agentrig mutate: score {_score_text(overall.get('score'))} is below"
            f" --min-score={ns.min_score}\n"
        )
        return EXIT_BELOW
    return EXIT_OK


def _seconds(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None  # pytest reports the bad value as a usage error
