"""``pytest --agentrig-mutate``: run each agentrig test, then against each of its mutants.

How a session runs (one process, or each xdist worker for its share of the tests):

1. **Baseline.** Each agentrig test runs once as usual, with :mod:`agentrig.mutate.hook`
   observing what its fakes and primitives did (which agents were called and how often, which
   broadcast members, pools, deadlines, verdicts and decisions). Its reports are the ones
   pytest shows: a test that fails here is reported as failed, and excluded from mutation.
2. **Mutants.** :func:`agentrig.mutate.operators.derive` turns the observed sites into the
   test's mutants; the test is re-run once per mutant, with that mutant applied. Re-running
   uses ``runtestprotocol`` as pytest-rerunfailures does, so function fixtures are set up
   fresh for each run (a new recording, a new virtual loop) while module and session fixtures
   are reused. A mutant run's reports are not logged: pytest counts the test once.
3. **Results** travel on the test's last report (``report.agentrig_mutation``, so they cross
   from xdist workers to the controller), which builds the report at session end: the terminal
   table, ``--agentrig-mutate-report=PATH`` (JSON), ``--agentrig-html=DIR`` (the page
   ``DIR/mutation.html``) and the ``--agentrig-min-score`` gate (exit status 1 below it).

Limits: ``--agentrig-max-mutants`` per test (so that the same suite gives the same mutants
under any ``-n``), a per-mutant real-time limit (``--agentrig-mutant-timeout``, default 20 x
the test's baseline time, at least 5 s: a ``SIGALRM`` interrupts a mutant that spins, and it
counts as killed by timeout), and a total real-time limit per process
(``--agentrig-mutate-time-limit``: mutants not started by then are ``not_run``).

A mutant run never writes or removes ``*.received.json`` files, and ``--snapshot-update`` is
refused: a mutant must never be recorded as the truth.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest

# pytest's own re-run entry point (public in spirit: pytest-rerunfailures relies on it, and
# runtestprotocol re-initialises a re-run item's fixtures itself). The only private import.
from _pytest.runner import runtestprotocol

if TYPE_CHECKING:
    from agentrig.mutate.hook import Mutant, Run

__all__ = ["MutantTimedOut", "MutatePlugin", "MutateSettings", "add_options"]

#: Why the mutator skips a test that is not an agentrig test.
NOT_AGENTRIG = (
    "agentrig mutate: not an agentrig test (it uses no agentrig fixture or marker), so there"
    " is nothing of agentrig's to mutate"
)
_MIN_MUTANT_TIMEOUT = 5.0
_TIMEOUT_FACTOR = 20.0
_KILL = pytest.StashKey["dict[str, str] | None"]()


class MutantTimedOut(BaseException):
    """A mutant run passed its real-time limit (a BaseException: agent code that catches
    ``Exception`` to recover must not swallow it)."""


def add_options(group: Any) -> None:
    """The ``--agentrig-mutate*`` options (called from the plugin's ``pytest_addoption``)."""
    group.addoption(
        "--agentrig-mutate",
        dest="agentrig_mutate",
        action="store_true",
        default=False,
        help="mutation run: each agentrig test runs once, then against each mutant of what its"
        " fakes and primitives did; reports the mutation score and the survivors",
    )
    group.addoption(
        "--agentrig-mutate-operators",
        dest="agentrig_mutate_operators",
        metavar="NAMES",
        default=None,
        help="comma-separated mutation operators (default all); `agentrig mutate --help`"
        " lists them",
    )
    group.addoption(
        "--agentrig-max-mutants",
        dest="agentrig_max_mutants",
        metavar="N",
        default=None,
        help="at most N mutants per test (default: all of them)",
    )
    group.addoption(
        "--agentrig-mutant-timeout",
        dest="agentrig_mutant_timeout",
        metavar="SECONDS",
        default=None,
        help="real seconds one mutant run may take before it is killed (default: 20 x the"
        f" test's own time, at least {_MIN_MUTANT_TIMEOUT:g})",
    )
    group.addoption(
        "--agentrig-mutate-time-limit",
        dest="agentrig_mutate_time_limit",
        metavar="SECONDS",
        default=None,
        help="real seconds for the whole mutation run (per process); later mutants are not run",
    )
    group.addoption(
        "--agentrig-min-score",
        dest="agentrig_min_score",
        metavar="SCORE",
        default=None,
        help="fail the session (exit 1) when the mutation score is below SCORE (0..1, e.g. 0.8)",
    )
    group.addoption(
        "--agentrig-mutate-report",
        dest="agentrig_mutate_report",
        metavar="PATH",
        default=None,
        help="write the mutation report as JSON to PATH",
    )


def _positive(config: pytest.Config, dest: str, flag: str, *, integer: bool) -> float | None:
    raw = config.getoption(dest)
    if raw is None:
        return None
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = -1
    if not math.isfinite(value) or value <= 0:
        kind = "a positive integer" if integer else "a positive number of seconds"
        raise pytest.UsageError(f"{flag} must be {kind}, got {raw!r}")
    return value


class MutateSettings:
    """The mutation options, checked once (bad values are a usage error naming the flag)."""

    __slots__ = (
        "max_mutants",
        "min_score",
        "mutant_timeout",
        "operators",
        "report_path",
        "time_limit",
    )

    def __init__(self, config: pytest.Config) -> None:
        from agentrig._errors import ConfigurationError
        from agentrig.mutate.operators import parse_operators

        if config.getoption("update_snapshots", False):
            raise pytest.UsageError(
                "--agentrig-mutate runs tests against mutants, which must never be recorded:"
                " drop --snapshot-update (record first, then mutate)"
            )
        try:
            self.operators = parse_operators(config.getoption("agentrig_mutate_operators"))
        except ConfigurationError as exc:
            raise pytest.UsageError(f"--agentrig-mutate-operators: {exc}") from None
        limit = _positive(config, "agentrig_max_mutants", "--agentrig-max-mutants", integer=True)
        self.max_mutants = None if limit is None else int(limit)
        self.mutant_timeout = _positive(
            config, "agentrig_mutant_timeout", "--agentrig-mutant-timeout", integer=False
        )
        self.time_limit = _positive(
            config, "agentrig_mutate_time_limit", "--agentrig-mutate-time-limit", integer=False
        )
        raw = config.getoption("agentrig_min_score")
        self.min_score: float | None = None
        if raw is not None:
            try:
                score = float(raw)
            except ValueError:
                score = -1.0
            if not 0 <= score <= 1:
                raise pytest.UsageError(
                    f"--agentrig-min-score must be a number from 0 to 1 (0.8 is 80%), got {raw!r}"
                )
            self.min_score = score
        path = config.getoption("agentrig_mutate_report")
        self.report_path = None if not path else Path(config.invocation_params.dir) / str(path)


def _uses_agentrig(item: pytest.Item) -> bool:
    from agentrig.plugin.usage import is_agentrig_test

    return is_agentrig_test(item)


def _recorded(item: pytest.Item) -> object:
    """The normalized recording of the item's last run (``None`` if it had none)."""
    from agentrig.normalize import normalize
    from agentrig.plugin.fixtures import RECORDING  # the test's Recording

    recording = item.stash.get(RECORDING, None)
    return None if recording is None else normalize(recording)


def _first_line(text: str, limit: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _classify(excinfo: pytest.ExceptionInfo[BaseException]) -> dict[str, str]:
    """What killed a mutant: drift, assertion, gate, timeout, skipped or error.

    A mutant that hangs is killed by a time limit either way: ``MutantTimedOut`` (it kept the
    process busy) or the virtual loop's ``StallError`` (it awaited something nothing would
    ever do, for ``agentrig_stall_timeout`` real seconds).
    """
    from agentrig._errors import StallError

    exc = excinfo.value
    message = str(exc)
    if isinstance(exc, (MutantTimedOut, StallError)):
        by = "timeout"
    elif isinstance(exc, pytest.skip.Exception):
        by = "skipped"
    elif isinstance(exc, AssertionError) and message.startswith("The recording drifted"):
        by = "drift"
        lines = message.splitlines()
        message = lines[1] if len(lines) > 1 else message
    elif "agentrig cost gate" in message:
        by = "gate"
    elif isinstance(exc, AssertionError):
        by = "assertion"
    else:
        by = "error"
    return {"by": by, "detail": _first_line(f"{type(exc).__name__}: {message}")}


class _Alarm:
    """A real-time limit for one mutant run, by SIGALRM (main thread of a POSIX process only).

    The timer repeats every second after the first expiry, so agent code that swallows the
    first ``MutantTimedOut`` is interrupted again.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.enabled = (
            seconds is not None
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
        )
        self._old: Any = None

    def _fire(self, signum: int, frame: FrameType | None) -> None:
        raise MutantTimedOut(f"the mutant run passed its time limit of {self.seconds:g} s")

    def __enter__(self) -> _Alarm:
        if self.enabled and self.seconds is not None:
            self._old = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds, 1.0)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.enabled:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)


class MutatePlugin:
    """The mutation run's hooks (registered by ``pytest_configure`` with ``--agentrig-mutate``)."""

    def __init__(self, config: pytest.Config, settings: MutateSettings) -> None:
        self.config = config
        self.settings = settings
        self.started = time.perf_counter()
        self.results: dict[str, dict[str, Any]] = {}
        self.report: Any = None
        self.report_error: str | None = None
        self.html_page: Path | None = None
        self.html_error: str | None = None

    # -- collection -----------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            if not _uses_agentrig(item):
                item.add_marker(pytest.mark.skip(reason=NOT_AGENTRIG))

    # -- running ------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> bool | None:
        if not _uses_agentrig(item):
            return None  # pytest's own protocol: the skip marker reports the note
        from agentrig.mutate import hook

        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        hook.start(None)
        try:
            reports = runtestprotocol(item, nextitem=nextitem, log=False)
        finally:
            run = hook.stop()
        result = self._mutate(item, nextitem, reports, run)
        reports[-1].agentrig_mutation = result  # type: ignore[attr-defined]
        for report in reports:
            ihook.pytest_runtest_logreport(report=report)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def _mutate(
        self,
        item: pytest.Item,
        nextitem: pytest.Item | None,
        reports: list[pytest.TestReport],
        run: Run | None,
    ) -> dict[str, Any]:
        from agentrig.mutate.operators import derive, describe

        baseline = sum(r.duration for r in reports)
        result: dict[str, Any] = {
            "nodeid": item.nodeid,
            "baseline_seconds": round(baseline, 6),
            "mutants": [],
        }
        failed = [r for r in reports if r.failed]
        if failed:
            result["status"] = "baseline_failed"
            result["detail"] = _first_line(failed[0].longreprtext)
            return result
        if any(r.skipped for r in reports):
            result["status"] = "baseline_skipped"
            return result
        sites = run.sites if run is not None else {}
        before = _recorded(item)
        mutants, left_out = derive(
            sites, operators=self.settings.operators, max_mutants=self.settings.max_mutants
        )
        result["left_out"] = left_out
        result["status"] = "mutated" if mutants else "no_mutants"
        limit = self.settings.mutant_timeout
        if limit is None:
            limit = max(_MIN_MUTANT_TIMEOUT, _TIMEOUT_FACTOR * baseline)
        spent = 0.0
        for mutant in mutants:
            entry: dict[str, Any] = {
                "id": mutant.id,
                "operator": mutant.operator,
                "description": describe(mutant),
            }
            over = self.settings.time_limit
            if over is not None and time.perf_counter() - self.started > over:
                entry["status"] = "not_run"
            else:
                entry.update(self._run_mutant(item, nextitem, mutant, limit, before))
                spent += entry["seconds"]
            result["mutants"].append(entry)
        result["mutation_seconds"] = round(spent, 6)
        return result

    def _run_mutant(
        self,
        item: pytest.Item,
        nextitem: pytest.Item | None,
        mutant: Mutant,
        limit: float,
        before: object,
    ) -> dict[str, Any]:
        from agentrig.mutate import hook
        from agentrig.snapshot import OUTCOMES_KEY

        item.stash[_KILL] = None
        # Each run appends its snapshot outcomes to the item's list, which every report then
        # serializes: start each mutant with an empty one (quadratic otherwise), keep the
        # baseline's.
        baseline_outcomes = item.stash.get(OUTCOMES_KEY, None)
        item.stash[OUTCOMES_KEY] = []
        started = time.perf_counter()
        killed: dict[str, str] | None = None
        hook.start(mutant)
        try:
            with _Alarm(limit):
                try:
                    reports = runtestprotocol(item, nextitem=nextitem, log=False)
                except MutantTimedOut as exc:  # fired between the phases pytest guards
                    reports = []
                    killed = {"by": "timeout", "detail": str(exc)}
        except MutantTimedOut as exc:  # fired while the alarm was being disarmed
            reports = []
            killed = {"by": "timeout", "detail": str(exc)}
        finally:
            run = hook.stop()
        if killed is None:
            killed = item.stash.get(_KILL, None)
        if killed is None and any(r.failed for r in reports):
            bad = next(r for r in reports if r.failed)
            killed = {"by": "error", "detail": _first_line(bad.longreprtext)}
        applied = run is not None and run.applied > 0
        entry: dict[str, Any] = {}
        if killed is not None and killed["by"] == "skipped":
            entry["status"] = "skipped"
            entry["detail"] = killed["detail"]
        elif killed is not None:
            entry["status"] = "killed"
            entry["killed_by"] = killed["by"]
            entry["detail"] = killed["detail"]
        elif not applied or (before is not None and _recorded(item) == before):
            entry["status"] = "equivalent"  # the run recorded exactly what the baseline did
        else:
            entry["status"] = "survived"
        # The whole cost of the mutant, the equivalence check included.
        entry["seconds"] = round(time.perf_counter() - started, 6)
        if baseline_outcomes is not None:
            item.stash[OUTCOMES_KEY] = baseline_outcomes
        return entry

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> pytest.TestReport | None:
        """During a mutant run: classify the failure, and make a cheap report.

        Nobody sees a mutant run's reports, and pytest's own failure formatting (the
        traceback with source) costs ~50 ms per killed mutant, more than the test itself.
        """
        from agentrig.mutate.hook import mutating

        if not mutating():
            return None
        killed = None if call.excinfo is None else _classify(call.excinfo)
        if killed is not None and item.stash.get(_KILL, None) is None:
            item.stash[_KILL] = killed
        if killed is not None and killed["by"] == "skipped":
            return None  # pytest's report for a skip (it needs the location)
        return pytest.TestReport(
            item.nodeid,
            item.location,
            keywords={},
            outcome="passed" if killed is None else "failed",
            longrepr=None if killed is None else killed["detail"],
            when=call.when,  # type: ignore[arg-type]  # never "collect" here
            duration=call.duration,
            start=call.start,
            stop=call.stop,
        )

    # -- collecting and reporting ------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "agentrig_mutation", None)
        if isinstance(data, dict):
            self.results[report.nodeid] = data
        elif report.when == "setup" and report.skipped and NOT_AGENTRIG in str(report.longrepr):
            self.results[report.nodeid] = {
                "nodeid": report.nodeid,
                "status": "not_agentrig",
                "mutants": [],
            }

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput"):
            return  # an xdist worker: its results went to the controller on the reports
        from agentrig.mutate.report import MutationReport

        notes = []
        if not hasattr(signal, "setitimer"):
            notes.append("note: no SIGALRM here, so mutants ran without a per-mutant time limit")
        report = MutationReport(
            self.results.values(), min_score=self.settings.min_score, notes=notes
        )
        self.report = report
        data_json = report.to_json()
        self._write_html(data_json)
        path = self.settings.report_path
        if path is not None:
            import orjson

            from agentrig.snapshot import atomic_write

            data = orjson.dumps(data_json, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, data)
            except OSError as exc:
                self.report_error = (
                    f"agentrig: cannot write --agentrig-mutate-report {path}:"
                    f" {exc.strerror or exc}; choose a writable path"
                )
                session.exitstatus = pytest.ExitCode.USAGE_ERROR
                return
        if report.below_floor and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _write_html(self, data: dict[str, Any]) -> None:
        """With ``--agentrig-html=DIR``: the report as ``DIR/mutation.html``, beside the drift
        index (the same folder rule)."""
        folder = self.config.getoption("agentrig_html", None)
        if not folder:
            return
        from agentrig.html import render_mutation_html
        from agentrig.snapshot import atomic_write

        page = Path(self.config.invocation_params.dir) / str(folder) / "mutation.html"
        try:
            page.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(page, render_mutation_html(data).encode("utf-8"))
        except OSError as exc:
            self.html_error = (
                f"agentrig: cannot write the mutation page {page}: {exc.strerror or exc};"
                " choose a writable --agentrig-html folder"
            )
            return
        self.html_page = page

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.report is None:
            return
        terminalreporter.write_sep("-", "agentrig mutation")
        for line in self.report.render():
            red = line.startswith(("survivors", "mutation score")) and self.report.below_floor
            terminalreporter.write_line(line, red=red)
        if self.report_error:
            terminalreporter.write_line(self.report_error, red=True)
        if self.html_error:
            terminalreporter.write_line(self.html_error, red=True)
        elif self.html_page is not None:
            import os

            shown = Path(os.path.relpath(self.html_page, self.config.invocation_params.dir))
            terminalreporter.write_line(f"agentrig HTML: mutation report in {shown.as_posix()}")
