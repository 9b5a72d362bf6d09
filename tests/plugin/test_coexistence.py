"""agentrig is a good neighbour: a test that does not use it runs exactly as without it.

Each scenario is a small pytest-asyncio project run twice, with agentrig and with
``-p no:agentrig``; the two runs must agree on everything a user can observe: exit code,
outcome counts (warnings included), collected item ids and their order, which items carry a
callspec, the order reports arrive in, fixture setups the tests log, and the error lines.
Then the mixed cases: agentrig tests among tests that share a loop or a fixture.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from agentrig_project import QUIET, Project

#: Logs what a user can observe into observed.jsonl (items, callspecs, report order).
OBSERVER = """
import json, os
import pytest

def _log(**event):
    with open(os.path.join(os.path.dirname(__file__), "observed.jsonl"), "a") as f:
        f.write(json.dumps(event) + "\\n")

def pytest_collection_finish(session):
    for item in session.items:
        _log(kind="item", nodeid=item.nodeid, callspec=hasattr(item, "callspec"))

def pytest_runtest_logreport(report):
    _log(kind="report", nodeid=report.nodeid, when=report.when, outcome=report.outcome)

@pytest.fixture
def events():
    def log(what):
        _log(kind="event", what=what)
    return log
"""

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


@dataclass
class Observed:
    ret: int
    outcomes: dict[str, int]
    log: list[dict[str, Any]]
    errors: list[str]


def _observe(project: Project, *args: str) -> Observed:
    log_path = project.path / "observed.jsonl"
    log_path.unlink(missing_ok=True)
    result = project.pytester.runpytest(*QUIET, *args)
    log = []
    if log_path.exists():
        log = [json.loads(line) for line in log_path.read_text().splitlines()]
    outcomes = {k: v for k, v in result.parseoutcomes().items() if k != "seconds"}
    errors = [
        line.strip()
        for line in [*result.outlines, *result.errlines]
        if "Error" in line or "loop_factories" in line or "not available" in line
    ]
    return Observed(int(result.ret), outcomes, log, errors)


def _same_with_and_without_agentrig(project: Project, *args: str) -> Observed:
    with_agentrig = _observe(project, *args)
    without = _observe(project, "-p", "no:agentrig", *args)
    assert with_agentrig == without
    return with_agentrig


def _scenario(project: Project, conftest: str, tests: dict[str, str], ini: str = INI) -> None:
    project.pytester.makeini(ini)
    project.write("conftest.py", OBSERVER + conftest)
    for path, source in tests.items():
        project.write(path, source)


def _events(observed: Observed) -> list[str]:
    return [e["what"] for e in observed.log if e["kind"] == "event"]


def _run_order(observed: Observed) -> list[str]:
    return [e["nodeid"] for e in observed.log if e["kind"] == "report" and e["when"] == "call"]


# -- projects that never use agentrig -------------------------------------------------------------


def test_a_conftest_hook_returning_none_is_still_a_usage_error(project: Project) -> None:
    _scenario(
        project,
        "def pytest_asyncio_loop_factories(config, item):\n    return None\n",
        {"test_a.py": "async def test_a():\n    pass\n"},
    )

    observed = _same_with_and_without_agentrig(project)

    assert observed.ret == pytest.ExitCode.USAGE_ERROR or observed.ret != 0
    assert any("must return a non-empty mapping" in line for line in observed.errors)


def test_a_projects_trylast_hook_keeps_its_precedence(project: Project) -> None:
    _scenario(
        project,
        """
import asyncio

class ProjectLoop(asyncio.SelectorEventLoop):
    pass

@pytest.hookimpl(trylast=True)
def pytest_asyncio_loop_factories(config, item):
    return {"project": ProjectLoop}
""",
        {
            "test_a.py": """
import asyncio
import pytest

async def test_runs_on_the_projects_loop(events):
    events(type(asyncio.get_running_loop()).__name__)

@pytest.mark.asyncio(loop_factories=["project"])
async def test_selected(events):
    events(type(asyncio.get_running_loop()).__name__)
"""
        },
    )

    observed = _same_with_and_without_agentrig(project)

    assert observed.outcomes == {"passed": 2}
    assert _events(observed) == ["ProjectLoop", "ProjectLoop"]


def test_a_loop_factory_marker_without_a_hook_stays_a_collection_error(project: Project) -> None:
    _scenario(
        project,
        "",
        {
            "test_a.py": """
import pytest

@pytest.mark.asyncio(loop_factories=["missing"])
async def test_a():
    pass

def test_b():
    pass
"""
        },
    )

    observed = _same_with_and_without_agentrig(project)

    assert observed.ret != 0
    assert any("requires at least one" in line for line in observed.errors)


def test_a_missing_factory_name_stays_what_pytest_asyncio_makes_of_it(project: Project) -> None:
    _scenario(
        project,
        "def pytest_asyncio_loop_factories(config, item):\n"
        "    import asyncio\n"
        "    return {'stdlib': asyncio.new_event_loop}\n",
        {
            "test_a.py": """
import pytest

@pytest.mark.asyncio(loop_factories=["missing"])
async def test_a():
    pass
"""
        },
    )

    observed = _same_with_and_without_agentrig(project)

    assert observed.outcomes == {"skipped": 1}


def test_items_ids_callspecs_and_order_are_unchanged(project: Project) -> None:
    _scenario(
        project,
        "",
        {
            "test_a.py": """
import pytest

async def test_async():
    pass

def test_sync():
    pass

@pytest.mark.parametrize("n", [1, 2])
async def test_param(n):
    pass

class TestGroup:
    @pytest.mark.asyncio(loop_scope="class")
    async def test_in_class(self):
        pass

    def test_sync_in_class(self):
        pass
""",
            "test_b.py": """
import pytest

@pytest.mark.asyncio(loop_scope="module")
async def test_m1():
    pass

def test_m2():
    pass

@pytest.mark.asyncio(loop_scope="module")
async def test_m3():
    pass
""",
        },
    )

    observed = _same_with_and_without_agentrig(project)

    items = [e for e in observed.log if e["kind"] == "item"]
    assert len(items) == 9
    assert [e["nodeid"] for e in items if e["callspec"]] == [
        "test_a.py::test_param[1]",
        "test_a.py::test_param[2]",
    ]


def test_a_session_scoped_async_fixture_is_set_up_once(project: Project) -> None:
    _scenario(
        project,
        """
import pytest_asyncio

@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database(events):
    events("database up")
    yield "db"
    events("database down")

@pytest.fixture(scope="session")
def events():
    def log(what):
        _log(kind="event", what=what)
    return log
""",
        {
            "test_a.py": """
import pytest

async def test_one(database):
    pass

async def test_two(database):
    pass

@pytest.mark.asyncio(loop_scope="session")
async def test_three(database):
    pass
"""
        },
    )

    observed = _same_with_and_without_agentrig(project)

    assert observed.outcomes == {"passed": 3}
    assert _events(observed) == ["database up", "database down"]


def test_module_loop_scope_ordering_is_unchanged(project: Project) -> None:
    _scenario(
        project,
        "",
        {
            "test_order.py": """
import pytest

seen = []

def test_first():
    seen.append("first")

@pytest.mark.asyncio(loop_scope="module")
async def test_second():
    assert seen == ["first"]
    seen.append("second")

def test_third():
    assert seen == ["first", "second"]
"""
        },
    )

    observed = _same_with_and_without_agentrig(project)

    assert observed.outcomes == {"passed": 3}
    assert _run_order(observed) == [
        "test_order.py::test_first",
        "test_order.py::test_second",
        "test_order.py::test_third",
    ]


def test_a_project_fixture_named_like_agentrigs_is_the_projects(project: Project) -> None:
    _scenario(
        project,
        """
import subprocess, sys

@pytest.fixture
def tracer():
    return "project tracer"

@pytest.fixture
def deadline():
    return 5.0
""",
        {
            "test_a.py": """
import asyncio, sys, time

async def test_real_time(tracer, deadline, events):
    loop = asyncio.get_running_loop()
    events(type(loop).__name__)
    started = time.monotonic()
    code = "import time; time.sleep(0.3)"
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
    await asyncio.wait_for(proc.wait(), timeout=deadline)
    events(f"waited real time: {time.monotonic() - started >= 0.3}")
"""
        },
    )

    observed = _same_with_and_without_agentrig(project)

    assert observed.outcomes == {"passed": 1}
    assert _events(observed) == ["_UnixSelectorEventLoop", "waited real time: True"]


# -- agentrig tests among other tests -------------------------------------------------------------


def test_agentrig_tests_do_not_recreate_a_neighbours_session_fixture(project: Project) -> None:
    _scenario(
        project,
        """
import pytest_asyncio

@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database(events):
    events("database up")
    yield "db"

@pytest.fixture(scope="session")
def events():
    def log(what):
        _log(kind="event", what=what)
    return log
""",
        {
            "test_a.py": """
import asyncio
import pytest

async def test_plain_one(database):
    pass

async def test_agentrig(fake_model, events):
    events(type(asyncio.get_running_loop()).__name__)
    await fake_model.agent("a", reply="x", latency=30.0).run("q")

async def test_plain_two(database):
    pass

@pytest.mark.asyncio(loop_scope="session")
async def test_plain_three(database):
    pass
"""
        },
    )

    observed = _observe(project)

    assert observed.outcomes == {"passed": 4}
    assert _events(observed) == ["database up", "VirtualEventLoop"]
    assert [e["nodeid"] for e in observed.log if e["kind"] == "item" and e["callspec"]] == []


def test_an_agentrig_test_on_a_shared_real_loop_is_named_in_a_warning(project: Project) -> None:
    _scenario(
        project,
        """
@pytest.fixture(scope="session")
def events():
    def log(what):
        _log(kind="event", what=what)
    return log
""",
        {
            "test_mixed.py": """
import asyncio
import pytest
import pytest_asyncio

module_loop = pytest.mark.asyncio(loop_scope="module")

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(events):
    events("shared up")
    return "shared"

@module_loop
async def test_plain(shared):
    pass

@module_loop
async def test_agentrig(shared, agent_recording, events):
    events(type(asyncio.get_running_loop()).__name__)

def test_sync():
    pass

@module_loop
async def test_plain_again(shared):
    pass
"""
        },
    )

    observed = _observe(project, "-W", "default::agentrig.AgentrigWarning")

    assert observed.outcomes == {"passed": 4, "warnings": 1}
    assert _events(observed) == ["shared up", "_UnixSelectorEventLoop"]
    assert _run_order(observed) == [
        "test_mixed.py::test_plain",
        "test_mixed.py::test_agentrig",
        "test_mixed.py::test_sync",
        "test_mixed.py::test_plain_again",
    ]
    output = project.pytester.runpytest("-p", "no:cacheprovider").stdout.str()
    assert (
        "test_mixed.py::test_agentrig uses agentrig but shares a module-scoped event loop" in output
    )
    assert 'loop_scope="function"' in output


def test_a_module_of_agentrig_tests_shares_one_virtual_loop(project: Project) -> None:
    _scenario(
        project,
        "",
        {
            "test_all.py": """
import asyncio
import pytest

pytestmark = [pytest.mark.agentrig, pytest.mark.asyncio(loop_scope="module")]

async def test_one(events):
    events(type(asyncio.get_running_loop()).__name__)
    await asyncio.sleep(100)

async def test_two(events, virtual_clock):
    events(type(asyncio.get_running_loop()).__name__)
    assert virtual_clock.time() == 0.0  # each test starts at 0 on the shared loop
"""
        },
    )

    observed = _observe(project)

    assert observed.outcomes == {"passed": 2}
    assert _events(observed) == ["VirtualEventLoop", "VirtualEventLoop"]


def test_an_anyio_agentrig_test_says_it_runs_in_real_time(project: Project) -> None:
    _scenario(
        project,
        "",
        {
            "test_anyio.py": """
import pytest

@pytest.mark.anyio
async def test_on_anyio(agent_recording):
    pass

@pytest.fixture
def anyio_backend():
    return "asyncio"
""",
        },
        ini=INI.replace("asyncio_mode = auto", "asyncio_mode = strict"),
    )

    result = project.pytester.runpytest("-p", "no:cacheprovider", "-W", "default")

    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*test_on_anyio uses agentrig but is run by another async*"])


def test_an_anyio_backend_with_the_virtual_loop_is_virtual_and_quiet(project: Project) -> None:
    _scenario(
        project,
        "",
        {
            "test_anyio.py": """
import asyncio
import pytest
import agentrig

@pytest.fixture
def anyio_backend():
    return ("asyncio", {"loop_factory": agentrig.VirtualEventLoop})

@pytest.mark.anyio
async def test_on_anyio(agent_recording):
    assert isinstance(asyncio.get_running_loop(), agentrig.VirtualEventLoop)
    await asyncio.sleep(600)
""",
        },
        ini=INI.replace("asyncio_mode = auto", "asyncio_mode = strict"),
    )

    project.pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_strict_mode_runs_unmarked_async_agentrig_tests_on_the_virtual_loop(
    project: Project,
) -> None:
    _scenario(
        project,
        "",
        {
            "test_strict.py": """
import asyncio

async def test_agentrig(fake_model):
    assert type(asyncio.get_running_loop()).__name__ == "VirtualEventLoop"
    await fake_model.agent("a", reply="x", latency=60.0).run("q")
""",
        },
        ini="[pytest]\nasyncio_default_fixture_loop_scope = function\n",
    )

    project.pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


# -- the snapshot folder holds other files too ----------------------------------------------------


def test_a_data_file_in_the_snapshot_folder_is_never_an_unused_snapshot(recorded: Project) -> None:
    data = recorded.snapshot("tests/test_app/expected.json")
    data.write_text('{"expected": [1, 2, 3]}\n', encoding="utf-8")
    recorded.write(
        "tests/test_data.py",
        """
import json, pathlib

def test_reads_its_data():
    path = pathlib.Path(__file__).parent.parent / "snapshots/tests/test_app/expected.json"
    assert json.loads(path.read_text())["expected"] == [1, 2, 3]
""",
    )
    stale = recorded.snapshot("tests/test_app/test_gone.json")
    stale.write_bytes(recorded.snapshot("tests/test_app/test_sync.json").read_bytes())

    plain = recorded.run("--snapshot-details")

    plain.assert_outcomes(passed=6)
    assert plain.ret == 1  # the stale agentrig snapshot is unused: syrupy's exit code
    assert "1 snapshot unused" in plain.stdout.str()
    assert "test_gone" in plain.stdout.str()
    assert "expected" not in plain.stdout.str()

    update = recorded.run("--snapshot-update")

    update.assert_outcomes(passed=6)
    assert update.ret == 0
    assert "expected" not in update.stdout.str()
    assert data.read_text(encoding="utf-8") == '{"expected": [1, 2, 3]}\n'
    assert not stale.exists()


# -- pytest-asyncio's start-up deprecation --------------------------------------------------------

_UNSET = '"asyncio_default_fixture_loop_scope" is unset'


def test_the_readme_config_alone_gives_an_agentrig_session_no_deprecation(project: Project) -> None:
    project.pytester.makeini("[pytest]\nasyncio_mode = auto\nfilterwarnings = error\n")
    project.write(
        "tests/test_first.py",
        "import asyncio\n\nasync def test_first(fake_model):\n    await asyncio.sleep(120)\n",
    )

    result = project.pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
    assert _UNSET not in result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_a_session_without_agentrig_keeps_pytest_asyncios_deprecation(project: Project) -> None:
    project.pytester.makeini("[pytest]\n")
    project.write("test_plain.py", "def test_a():\n    pass\n")  # never used pytest-asyncio

    for args in ((), ("-p", "no:agentrig")):
        shown = project.pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
        assert _UNSET in shown.stdout.str() + shown.stderr.str(), args
        assert shown.ret == 0, args
        # ... and pytest's own -W error makes it the same INTERNALERROR as without agentrig.
        error = project.pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "-W", "error", *args
        )
        assert error.ret == pytest.ExitCode.INTERNAL_ERROR, args


def test_the_projects_own_fixture_loop_scope_is_kept(project: Project) -> None:
    project.pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = module\n"
    )
    project.write("test_a.py", "async def test_a(fake_model):\n    pass\n")

    result = project.pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*asyncio_default_fixture_loop_scope=module*"])


# -- known conflicts of the dependencies, and their documented workarounds ------------------------


def test_pytester_getitem_works_with_syrupy_switched_off_for_its_inner_session(
    project: Project,
) -> None:
    """syrupy's pytest_sessionfinish reads ``session.exitstatus``, which a session made by
    ``pytester.getitem()`` never gets (docs/compatibility.md)."""
    project.pytester.makeini(INI + "addopts = -p pytester\n")
    project.write(
        "test_inner.py",
        """
import pytest

def test_getitem_as_is(pytester):
    with pytest.raises(AttributeError, match="exitstatus"):
        pytester.getitem("def test_func(): pass")

def test_getitem_with_the_workaround(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:syrupy")
    assert pytester.getitem("def test_func(): pass").name == "test_func"
""",
    )

    project.pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)
