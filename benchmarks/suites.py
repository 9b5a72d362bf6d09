"""Generated pytest projects for the whole-suite figures (suite overhead, start-up, xdist).

Each project is written into a fresh temporary directory (never inside the repo) and run with
``python -m pytest`` in a subprocess, exactly as a user would run it. ``run.py`` drives them.

Kinds of suite (one test function parametrized ``n`` ways in one module):

* ``floor``    — ``assert i >= 0``: what pytest itself costs per test.
* ``work``     — runs the small pipeline on fakes and the virtual clock by hand
  (``agentrig.run`` under a ``Recording``) and normalizes it, asserting nothing: the work
  every snapshot kind below does before its assertion.
* ``agentrig`` — the same pipeline through the plugin's fixtures (an async test on the virtual
  loop) and ``assert agent_recording == agent_snapshot``.
* ``amber``    — the ``work`` test plus ``assert doc == snapshot`` (syrupy's default amber
  extension, one ``.ambr`` file for the module).
* ``json``     — the same with syrupy's ``JSONSnapshotExtension`` (one file per test, whose
  name matching is quadratic in parametrized tests: see shared/TRAPS.md).
* ``collect``  — ``modules`` modules of ``n`` trivial tests, no agentrig, for the start-up figure.
"""

from __future__ import annotations

import importlib.util
import os
import re
import resource
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

SUITE_KINDS = ("floor", "work", "agentrig", "amber", "json")
SNAPSHOT_KINDS = frozenset({"agentrig", "amber", "json"})

_INI = """\
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

# The pipeline every non-trivial kind runs: three stages on fakes, 3.5 virtual seconds.
_FLOW = """\
from agentrig import BudgetPool
from agentrig.fake import FakeModel
from agentrig.patterns import run_pipeline


async def flow(fake_model: FakeModel, pool: BudgetPool, i: int) -> None:
    research = fake_model.agent("research", reply=f"notes about topic {i}", latency=1.0)
    draft = fake_model.agent("draft", reply=lambda p: f"report on {p[:20]}", latency=2.0)
    review = fake_model.agent("review", reply="APPROVED", latency=0.5)
    stages = [("research", research, 0.04), ("draft", draft, 0.04), ("review", review, 0.02)]
    await run_pipeline(stages, f"topic {i}", pool=pool)
"""

_BY_HAND = """\
import agentrig
from agentrig.normalize import normalize
from agentrig.recording import Recording


def recorded(nodeid: str, i: int) -> dict:
    rec = Recording(nodeid)
    with rec.activate():
        agentrig.run(flow(FakeModel(), BudgetPool(usd=0.10), i))
    return normalize(rec)
"""

_TESTS = {
    "floor": """\
import pytest


@pytest.mark.parametrize("i", range({n}))
def test_case(i):
    assert i >= 0
""",
    "work": """\
import pytest
{flow}
{by_hand}

@pytest.mark.parametrize("i", range({n}))
def test_case(i, request):
    assert recorded(request.node.nodeid, i)
""",
    "agentrig": """\
import pytest
{flow}

@pytest.mark.parametrize("i", range({n}))
async def test_case(i, fake_model, budget_pool, agent_recording, agent_snapshot):
    await flow(fake_model, budget_pool(usd=0.10), i)
    assert agent_recording == agent_snapshot
""",
    "amber": """\
import pytest
{flow}
{by_hand}

@pytest.mark.parametrize("i", range({n}))
def test_case(i, request, snapshot):
    assert recorded(request.node.nodeid, i) == snapshot
""",
    "json": """\
import pytest
from syrupy.extensions.json import JSONSnapshotExtension
{flow}
{by_hand}

@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("i", range({n}))
def test_case(i, request, snapshot_json):
    assert recorded(request.node.nodeid, i) == snapshot_json
""",
}


def bench_env(pycache: Path) -> dict[str, str]:
    """The environment of every benchmark subprocess.

    ``CI`` is removed (agentrig refuses to write snapshots on CI), as are ``PYTEST_*``
    variables that would change the runs. Byte-code is cached as for any user, but under
    ``pycache`` (``PYTHONPYCACHEPREFIX``), so nothing is written into the repository.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "CI" and not k.startswith("PYTEST_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["PYTHONHASHSEED"] = "0"
    return env


def write_suite(root: Path, kind: str, n: int) -> Path:
    """Write a project with one module holding ``n`` tests of ``kind``; return its folder."""
    project = root / f"suite-{kind}-{n}"
    tests = project / "tests"
    tests.mkdir(parents=True, exist_ok=True)
    (project / "pytest.ini").write_text(_INI)
    body = _TESTS[kind].format(n=n, flow=_FLOW, by_hand=_BY_HAND)
    (tests / "test_suite.py").write_text(body)
    return project


def write_collect_project(root: Path, modules: int, n: int) -> Path:
    """A project of ``modules`` modules with ``n`` trivial tests each and no agentrig test."""
    project = root / f"collect-{modules}x{n}"
    tests = project / "tests"
    tests.mkdir(parents=True, exist_ok=True)
    (project / "pytest.ini").write_text(_INI)
    for m in range(modules):
        funcs = "\n\n".join(f"def test_{m}_{k}():\n    assert {k} + 1 > {k}" for k in range(n))
        (tests / f"test_mod{m:02d}.py").write_text(funcs + "\n")
    return project


_COUNTS = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected|tests? collected)")


@dataclass(frozen=True)
class PytestRun:
    """One pytest subprocess: its wall time, exit code, and the counts of its summary line."""

    seconds: float
    cpu_seconds: float
    returncode: int
    counts: dict[str, int]
    tail: str


def _looptime_installed() -> bool:
    return importlib.util.find_spec("looptime") is not None


def run_pytest(
    project: Path, args: list[str], env: dict[str, str], *, keep_looptime: bool = False
) -> PytestRun:
    """Run ``python -m pytest ARGS`` in ``project``; time the whole process (wall).

    looptime's plugin, when installed (the project's test extra has it), is not loaded unless
    ``keep_looptime``: its ``pytest_fixture_setup`` lists pytest-asyncio's fixtures on every
    fixture of every test (~0.4 ms per agentrig test, measured), a cost of looptime's that a
    user without it never pays, and that would fall on the fixture-heavy suites only.
    """
    if not keep_looptime and _looptime_installed():
        args = ["-p", "no:looptime_plugin", *args]
    cmd = [sys.executable, "-m", "pytest", "-q", "--no-header", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=project, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Children are waited for one at a time, so the difference is this run's (and its
    # xdist workers') user + system time.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = proc.stdout + proc.stderr
    tail = "\n".join(out.strip().splitlines()[-15:])
    counts: dict[str, int] = {}
    lines = out.strip().splitlines()
    for line in lines[-3:]:
        for number, word in _COUNTS.findall(line):
            counts[word.rstrip("s") if word.startswith("error") else word] = int(number)
    return PytestRun(seconds, cpu, proc.returncode, counts, tail)


def check(run: PytestRun, what: str, *, passed: int | None = None) -> None:
    """Fail loudly when a benchmark run did not do what it was meant to do."""
    ok = run.returncode == 0 and (passed is None or run.counts.get("passed") == passed)
    if not ok:
        raise RuntimeError(
            f"{what}: exit {run.returncode}, counts {run.counts} (expected {passed} passed)"
            f"\n{textwrap.indent(run.tail, '    ')}"
        )
