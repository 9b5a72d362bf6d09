"""Suite-wide collection order: the longest tests start first.

``bash scripts/dev test`` runs this suite under pytest-xdist (``-n auto``: 2 workers on the
project's machines). In collection order the tests that drive whole pytest sessions in
subprocesses (xdist inside xdist, SIGKILL loops, record-then-replay) came late, and the run
ended with one worker busy on a 15 s test while the other idled. Started first, they overlap
with the many short tests instead. Only the order changes, never what runs; a renamed test
simply loses its place (run ``pytest tests -n 2 --durations=40`` to refresh the list).

The many pytest sessions this suite starts in subprocesses cache their bytecode in one folder
outside the projects they run (see ``_cache_bytecode_of_inner_sessions``).
"""

from __future__ import annotations

import os
import selectors
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _cache_bytecode_of_inner_sessions() -> None:
    """Let the suite's subprocess sessions reuse pytest's assertion-rewritten bytecode.

    pytest rewrites every module of a plugin distribution (hypothesis, syrupy, xdist, agentrig
    itself) when a session imports it, and caches the result beside the source unless
    ``PYTHONDONTWRITEBYTECODE`` is set. With it set, as on the project's machines, every
    subprocess session rewrote ~170 modules again: 1.0 s of CPU for an empty session, 0.35 s
    with the cache. The cache goes to one folder under the temporary directory
    (``PYTHONPYCACHEPREFIX``), never into the pytester projects, whose files several tests scan
    byte for byte (no secret on disk). A prefix the caller set is kept.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    prefix = Path(tempfile.gettempdir()) / f"agentrig-tests-pycache-{os.getuid()}"
    os.environ.setdefault("PYTHONPYCACHEPREFIX", str(prefix))


_cache_bytecode_of_inner_sessions()

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
