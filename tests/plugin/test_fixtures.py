"""The fixtures, the virtual-time loop they run on, and what tests without agentrig keep."""

from __future__ import annotations

import time

import pytest
from agentrig_project import Project


def test_agentrig_async_tests_run_on_the_virtual_loop_in_no_wall_time(project: Project) -> None:
    project.write(
        "tests/test_time.py",
        """
import asyncio
from agentrig import VirtualEventLoop

async def test_sleeps(virtual_clock, deadline):
    loop = asyncio.get_running_loop()
    assert loop is virtual_clock
    assert isinstance(loop, VirtualEventLoop)
    d = deadline(seconds=120)
    await asyncio.sleep(119)
    assert not d.expired()
    await asyncio.sleep(1)
    assert d.expired()
    assert virtual_clock.time() == 120.0
    virtual_clock.advance(5)
    assert virtual_clock.time() == 125.0
""",
    )
    started = time.perf_counter()

    project.run().assert_outcomes(passed=1)

    assert time.perf_counter() - started < 30  # 120 virtual seconds cost no real ones


def test_async_tests_without_agentrig_keep_the_default_loop(project: Project) -> None:
    project.write(
        "tests/test_plain.py",
        """
import asyncio

async def test_plain():
    assert type(asyncio.get_running_loop()).__name__ != "VirtualEventLoop"
    started = asyncio.get_running_loop().time()
    await asyncio.sleep(0.01)
    assert asyncio.get_running_loop().time() > started

def test_sync():
    pass
""",
    )

    project.run().assert_outcomes(passed=2)


def test_test_ids_are_unchanged_by_the_plugin(project: Project) -> None:
    project.write_app()
    project.write(
        "tests/test_plain.py",
        """
import pytest

@pytest.mark.parametrize("n", [1, 2])
async def test_plain(n):
    pass
""",
    )

    with_plugin = project.run("--collect-only", "-q").stdout.lines
    without = project.run("--collect-only", "-q", "-p", "no:agentrig").stdout.lines

    ids = [line for line in with_plugin if "::" in line]
    assert ids == [line for line in without if "::" in line]
    assert "tests/test_plain.py::test_plain[1]" in ids
    assert "tests/test_app.py::test_pipeline" in ids


def test_strict_mode_runs_marked_agentrig_tests_on_the_virtual_loop(project: Project) -> None:
    project.configure(mode="strict")
    project.write(
        "tests/test_strict.py",
        """
import asyncio
import pytest

@pytest.mark.asyncio
async def test_virtual(agent_recording):
    await asyncio.sleep(3600)
    assert asyncio.get_running_loop().time() == 3600.0

@pytest.mark.asyncio
async def test_plain():
    assert type(asyncio.get_running_loop()).__name__ != "VirtualEventLoop"
""",
    )

    project.run().assert_outcomes(passed=2)


def test_each_test_on_a_module_scoped_loop_starts_at_zero_with_its_own_recording(
    project: Project,
) -> None:
    project.write(
        "tests/test_shared.py",
        """
import asyncio
import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")
LOOPS = []

async def test_first(agent_recording, agent_snapshot, decision_log):
    LOOPS.append(asyncio.get_running_loop())
    await asyncio.sleep(10)
    decision_log.record(decision="done")
    assert agent_recording == agent_snapshot

async def test_second(agent_recording, agent_snapshot, decision_log, virtual_clock):
    if LOOPS:
        assert asyncio.get_running_loop() is LOOPS[0] is virtual_clock   # one shared loop
    assert virtual_clock.time() == 0.0
    assert len(agent_recording.entries) == 0
    await asyncio.sleep(10)
    decision_log.record(decision="done")
    assert agent_recording == agent_snapshot
""",
    )

    project.run("--snapshot-update").assert_outcomes(passed=2)

    first = project.snapshot("tests/test_shared/test_first.json").read_text()
    second = project.snapshot("tests/test_shared/test_second.json").read_text()
    assert first.replace("test_first", "test_second") == second
    assert '"t": 10.0' in first
    project.run("tests/test_shared.py::test_second").assert_outcomes(passed=1)


def test_a_test_that_would_wait_forever_fails_with_a_stall_error(project: Project) -> None:
    project.write(
        "tests/test_stall.py",
        """
import asyncio

async def test_waits_forever(agent_recording):
    await asyncio.get_running_loop().create_future()
""",
    )
    started = time.perf_counter()

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*StallError*virtual clock stalled*"])
    assert time.perf_counter() - started < 60


def test_module_level_exports_land_under_tmp_path_not_in_the_project(project: Project) -> None:
    project.write(
        "tests/app_module.py",
        """
from agentrig import DecisionLog, Tracer

log = DecisionLog(path="pipeline_decisions.jsonl")
tracer = Tracer(export_path="traces/broadcast.jsonl")
""",
    )
    project.write(
        "tests/test_redirect.py",
        """
import app_module

def test_exports(agent_recording, tmp_path):
    app_module.log.record(decision="stage_complete", stage="research")
    with app_module.tracer.span("broadcast"):
        pass
    assert (tmp_path / "agentrig" / "pipeline_decisions.jsonl").is_file()
    assert (tmp_path / "agentrig" / "traces" / "broadcast.jsonl").is_file()
    assert agent_recording.decisions[0]["stage"] == "research"
""",
    )

    project.run().assert_outcomes(passed=1)

    assert not list(project.path.rglob("pipeline_decisions.jsonl"))
    assert not list(project.path.rglob("broadcast.jsonl"))


def test_fixtures_report_into_the_tests_own_recording(project: Project) -> None:
    project.write(
        "tests/test_prims.py",
        """
import agentrig

async def test_all(fake_model, budget_pool, deadline, event_bus, tracer, decision_log,
                   agent_recording):
    assert agentrig.active_recording() is agent_recording
    pool = budget_pool(usd=0.10)

    @event_bus.on("task:summarize")
    async def on_summarize(event):
        return event["text"].upper()

    assert await event_bus.emit("task:summarize", text="hi") == "HI"
    with tracer.span("stage"):
        async with pool.acquire(max_usd=0.04) as stage:
            await fake_model.agent("a", reply="ok").run("q", budget=stage)
    decision_log.record(decision="done")
    async with deadline(seconds=5):
        pass
    kinds = {e.kind for e in agent_recording.entries}
    assert {"bus.emit", "budget.acquire", "budget.charge", "decision"} <= kinds
    assert [s.name for s in agent_recording.spans] == ["stage", "chat fake-model"]

def test_recordings_are_per_test(agent_recording):
    assert agent_recording.entries == [] and agent_recording.spans == []
    assert agent_recording.name == "tests/test_prims.py::test_recordings_are_per_test"
""",
    )

    project.run().assert_outcomes(passed=2)


def test_a_sync_test_gets_a_virtual_clock_of_its_own(project: Project) -> None:
    project.write(
        "tests/test_sync_clock.py",
        """
import asyncio

def test_sync(virtual_clock, agent_recording, decision_log):
    async def main():
        await asyncio.sleep(30)
        decision_log.record(decision="late")
    virtual_clock.run_until_complete(main())
    assert virtual_clock.time() == 30.0
    assert agent_recording.entries[0].t == 30.0
""",
    )

    project.run().assert_outcomes(passed=1)


def test_a_marker_alone_makes_an_agentrig_test(project: Project) -> None:
    project.write(
        "tests/test_marker_only.py",
        """
import asyncio
import pytest
import agentrig

@pytest.mark.agentrig
async def test_marked():
    assert agentrig.active_recording() is not None
    assert type(asyncio.get_running_loop()).__name__ == "VirtualEventLoop"
""",
    )

    project.run().assert_outcomes(passed=1)


def test_thread_work_of_random_length_never_drifts_a_broadcast(project: Project) -> None:
    project.write(
        "tests/test_threads.py",
        """
import asyncio
import random
import time

async def test_broadcast(fake_model, tracer, agent_recording, agent_snapshot):
    async def agent(name):
        with tracer.span("agent", attributes={"agent": name}):
            await asyncio.to_thread(time.sleep, random.random() / 50)
            await fake_model.agent(name, reply=f"{name} says hi", latency=1.0).run("go")

    with tracer.span("broadcast"):
        await asyncio.gather(*(agent(n) for n in ["web", "papers", "forums", "news"]))
    assert agent_recording == agent_snapshot
""",
    )
    project.run("--snapshot-update").assert_outcomes(passed=1)
    recorded = project.snapshot_files()

    for _ in range(3):
        project.run().assert_outcomes(passed=1)

    assert project.snapshot_files() == recorded


@pytest.mark.parametrize("mode", ["auto", "strict"])
def test_agent_snapshot_works_in_both_asyncio_modes(project: Project, mode: str) -> None:
    project.configure(mode=mode)
    project.write(
        "tests/test_modes.py",
        """
import pytest

@pytest.mark.asyncio
async def test_it(fake_model, agent_recording, agent_snapshot):
    await fake_model.agent("a", reply="x", latency=2).run("q")
    assert agent_recording == agent_snapshot
""",
    )

    project.run("--snapshot-update").assert_outcomes(passed=1)
    project.run().assert_outcomes(passed=1)
    assert '"duration": 2.0' in project.snapshot("tests/test_modes/test_it.json").read_text()
