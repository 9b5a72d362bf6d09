"""Suite-wide collection order: the longest tests start first.

``bash scripts/dev test`` runs this suite under pytest-xdist (``-n auto``: 2 workers on the
project's machines). In collection order the tests that drive whole pytest sessions in
subprocesses (xdist inside xdist, SIGKILL loops, record-then-replay) came late, and the run
ended with one worker busy on a 15 s test while the other idled. Started first, they overlap
with the many short tests instead, provided the workers share them out: xdist's default
scheduling gave them all to one worker, so this suite uses work stealing
(``pytest_xdist_make_scheduler``). Only the order and the worker a test runs on change, never
what runs; a renamed test simply loses its place (run ``pytest tests -n 2 --durations=40`` to
refresh the list).

The many pytest sessions this suite starts in subprocesses read the plugins' rewritten bytecode
from a cache one warm-up session writes (see ``_warm_the_rewrite_cache``).
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Imported by the warm-up session: every agentrig module (a pytest plugin distribution, so
#: rewritten) that inner sessions may import, not only those the plugin loads at startup.
WARM_CONFTEST = """
import importlib
import pkgutil

import agentrig

for module in pkgutil.walk_packages(agentrig.__path__, "agentrig."):
    if not module.name.endswith("__main__"):
        importlib.import_module(module.name)
"""


def _warm_the_rewrite_cache() -> None:
    """Write pytest's assertion-rewritten bytecode of the plugins once, for every inner session.

    pytest rewrites every module of a plugin distribution (hypothesis, syrupy, xdist, agentrig
    itself) when a session imports it, and caches the result beside the source, unless
    ``PYTHONDONTWRITEBYTECODE`` is set, as on the project's machines. Then each of the suite's
    subprocess sessions rewrote ~170 modules again: 1.0 s of CPU for an empty session, 0.35 s
    with the cache. One warm-up session, allowed to write, fills the cache (in the venv and in
    ``src/agentrig/__pycache__``, both git-ignored); the inner sessions keep the variable and
    only read it (pytest reads a cached pyc even when it may not write one), so no pytester
    project ever gets a cache of its own test files that a same-size edit could make stale.
    """
    if not sys.dont_write_bytecode or os.environ.get("PYTEST_XDIST_WORKER"):
        return  # sessions write their own cache, or the controller did this already
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="agentrig-warm-") as folder:
        (Path(folder) / "conftest.py").write_text(WARM_CONFTEST)
        command = [sys.executable, "-m", "pytest", "-q", "--co", "-p", "no:cacheprovider"]
        # Best effort: a failure here only leaves the inner sessions slower.
        subprocess.run(command, cwd=folder, env=env, capture_output=True, timeout=300, check=False)


#: ``sys.dont_write_bytecode`` as it was before collection lets this session write bytecode.
_WRITE_BYTECODE_UNTIL_COLLECTED: list[bool] = []


def pytest_configure(config: pytest.Config) -> None:
    _warm_the_rewrite_cache()
    # This suite's own modules get a bytecode cache too: each xdist worker rewrote all ~100
    # test files (~1.9 s of CPU) on every run. pytest's rewritten pycs are hash-checked against
    # the source (never stale); only the collection writes, so no in-process pytester session
    # leaves a cache in its project.
    if sys.dont_write_bytecode:
        _WRITE_BYTECODE_UNTIL_COLLECTED.append(True)
        sys.dont_write_bytecode = False


def pytest_collection_finish(session: pytest.Session) -> None:
    if _WRITE_BYTECODE_UNTIL_COLLECTED:
        sys.dont_write_bytecode = _WRITE_BYTECODE_UNTIL_COLLECTED.pop()


#: Node-id prefixes, longest first (seconds under -n 2 on the shared machine, load ~4, from
#: `--durations=0` after the subprocess sessions got their bytecode cache).
LONGEST_FIRST = (
    "tests/reliability/test_parallel_writes.py::test_parallel_updates_round_after_round",  # 17.0
    "tests/cassettes/test_llm_cassette.py::test_record_then_replay",  # 13.0
    "tests/reliability/test_crash_safety.py::test_sigkill_during_snapshot_update",  # 10.4
    "tests/mutate/test_tool_operators.py::test_tool_mutants_are_the_same_in_the_same_order",  # 9.8
    "tests/plugin/test_reports.py::test_xdist_records_updates_and_detects_unused_snapshots",  # 8.8
    "tests/reliability/test_crash_safety.py::",  # the accept kill loop, 6.1
    "tests/mutate/test_mutate_plugin.py::test_every_operator_changes_a_run",  # 5.8
    "tests/cassettes/test_llm_cassette.py::test_recording_under_xdist",  # 4.9
    "tests/reliability/test_parallel_writes.py::",  # two sessions at once, 4.4
    "tests/plugin/test_determinism.py::",  # xdist and 150-test sessions, 3-4.3 each
    "tests/test_html.py::",  # chromium, 2.5-4.0
    "tests/reliability/test_reliability_properties.py::",  # hypothesis, 1.4-3.8
    "tests/test_clock_real_io.py::",  # 20 runs at once per client and the subprocesses, 0.5-3
    "tests/cassettes/test_llm_cassette.py::",  # in-process record/replay sessions, 0.4-1.8
    "tests/mutate/",  # mutation sessions, 0.3-2.4
)


def _rank(nodeid: str) -> int:
    for rank, prefix in enumerate(LONGEST_FIRST):
        if nodeid.startswith(prefix):
            return rank
    return len(LONGEST_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A stable sort: within a rank (and for every other test) collection order stays.
    items.sort(key=lambda item: _rank(item.nodeid))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Work stealing instead of xdist's default ``load`` scheduling.

    ``load`` hands each worker a first chunk of a quarter of its share (200 tests here) and
    never takes it back: all the long tests sorted first landed on worker 0, which then ran
    ~60 % of the suite's time while worker 1 finished early and idled. With work stealing an
    idle worker takes half of a busy one's pending tests. Only the default is replaced; any
    other ``--dist`` mode stays as asked.
    """
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import WorkStealingScheduling

    return WorkStealingScheduling(config, log)


@pytest.fixture
def real_waits(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """The timeouts of every selector wait that could block on the wall clock (> 0 or None).

    Virtual time costs no real time when the loop never blocks in its selector: asserted on
    the calls themselves, not with a wall-clock ceiling that a loaded machine can break.
    """
    waits: list[float | None] = []
    cls = type(selectors.DefaultSelector())
    real_select = cls.select

    def select(self: Any, timeout: float | None = None) -> Any:
        if timeout is None or timeout > 0:
            waits.append(timeout)
        return real_select(self, 0 if timeout is None or timeout > 0 else timeout)

    monkeypatch.setattr(cls, "select", select)
    return waits


#: The HTML pages are checked in Debian's chromium (playwright's own download does not work on
#: these machines); `bash scripts/dev test` installs it.
CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            "Debian's chromium is missing at /usr/bin/chromium; `bash scripts/dev test` installs "
            "it (apt-get install -y chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


#: looptime is in the test extra (for tests/plugin/test_looptime.py), so it loads into every
#: inner pytest session, whose own ini does not carry this project's ``-p no:looptime_plugin``.
#: Its ``pytest_pyfunc_call`` makes a default loop through ``policy.get_event_loop()`` that
#: nobody closes; the loop's ResourceWarning then surfaces in whichever later in-process session
#: the collector happens to run in (a flake under ``-n 2``). Only the looptime tests keep it.
_NO_LOOPTIME = "-p no:looptime_plugin -p no:looptime_chronometers -p no:looptime_timeproxies"


@pytest.fixture
def pytester(
    pytester: pytest.Pytester, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """pytest's ``pytester``, its sessions without looptime unless the test is about looptime."""
    if "looptime" not in request.node.nodeid:
        # pytester itself removed PYTEST_ADDOPTS when it was set up; this runs after it.
        monkeypatch.setenv("PYTEST_ADDOPTS", _NO_LOOPTIME)
    return pytester
