"""Suite-wide collection order: the longest tests start first.

``bash scripts/dev test`` runs this suite under pytest-xdist (``-n auto``: 2 workers on the
project's machines). In collection order the tests that drive whole pytest sessions in
subprocesses (xdist inside xdist, SIGKILL loops, record-then-replay) came late, and the run
ended with one worker busy on a 15 s test while the other idled. Started first, they overlap
with the many short tests instead. Only the order changes, never what runs; a renamed test
simply loses its place (run ``pytest tests -n 2 --durations=40`` to refresh the list).
"""

from __future__ import annotations

import selectors
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Node-id prefixes, longest first (seconds under -n 2, benchmarks/RESULTS.md section 6).
LONGEST_FIRST = (
    "tests/plugin/test_reports.py::test_xdist_records_updates_and_detects_unused_snapshots",  # 16.6
    "tests/cassettes/test_llm_cassette.py::test_recording_under_xdist",  # 15.9
    "tests/reliability/test_crash_safety.py::test_sigkill_during_snapshot_update",  # 14.3
    "tests/reliability/test_parallel_writes.py::test_parallel_updates_round_after_round",  # 12.7
    "tests/cassettes/test_llm_cassette.py::test_record_then_replay",  # 11.3
    "tests/plugin/test_determinism.py::test_snapshot_files_are_byte_identical_across",  # 8.2
    "tests/reliability/test_parallel_writes.py::test_two_sessions_updating",  # 7.6
    "tests/plugin/test_otel_pydantic_ai.py::test_pydantic_ai_spans_and_a_served_call",  # 7.6
    "tests/test_html.py::test_a_drifted_test_gets_a_page",  # 7.2
    "tests/cassettes/test_llm_cassette.py::",  # the other record/replay sessions, 3-10 each
    "tests/test_readme.py::",  # README blocks as sessions, up to 5.6
    "tests/reliability/test_crash_safety.py::",  # 4.0
    "tests/mutate/test_mutate_plugin.py::",  # 3.4-4.1
)


def _rank(nodeid: str) -> int:
    for rank, prefix in enumerate(LONGEST_FIRST):
        if nodeid.startswith(prefix):
            return rank
    return len(LONGEST_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A stable sort: within a rank (and for every other test) collection order stays.
    items.sort(key=lambda item: _rank(item.nodeid))


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
