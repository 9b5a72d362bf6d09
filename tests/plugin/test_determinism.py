"""Byte-stable snapshots, and subset runs that never report false "unused" snapshots."""

from __future__ import annotations

import shutil

import pytest
from agentrig_project import Project

BROADCAST = """
import asyncio
import random
import time

async def test_broadcast(fake_model, tracer, decision_log, agent_recording, agent_snapshot):
    async def agent(name):
        with tracer.span("agent", attributes={"agent": name}):
            await asyncio.to_thread(time.sleep, random.random() / 100)
            out = await fake_model.agent(name, reply={name: 1 for name in "abc"}.__repr__())\\
                .run(f"search {name}")
            decision_log.record(decision="found", agent=name, tokens=out.tokens)

    with tracer.span("broadcast"):
        await asyncio.gather(*(agent(n) for n in ["web", "papers", "forums", "news"]))
    assert agent_recording == agent_snapshot
"""


@pytest.fixture
def suite(project: Project) -> Project:
    project.write_app()
    project.write("tests/test_broadcast.py", BROADCAST)
    project.write(
        "tests/test_more.py",
        """
import pytest

@pytest.mark.parametrize("n", [1, 2, 3])
async def test_more(fake_model, agent_recording, agent_snapshot, n):
    await fake_model.agent("more", reply=f"n={n}", latency=n).run("q")
    assert agent_recording == agent_snapshot
""",
    )
    return project


def test_snapshot_files_are_byte_identical_across_hash_seeds_test_orders_and_xdist(
    suite: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONHASHSEED", "1")
    suite.run_subprocess("--snapshot-update").assert_outcomes(passed=9)
    baseline = suite.snapshot_files()
    assert len(baseline) == 9

    # re-recorded from scratch under another hash seed, in reverse order, by two workers
    ids = [line for line in suite.run("--collect-only", "-q").stdout.lines if "::" in line]
    assert len(ids) == 9
    shutil.rmtree(suite.path / "snapshots")
    monkeypatch.setenv("PYTHONHASHSEED", "4242")
    result = suite.run_subprocess("--snapshot-update", *reversed(ids))
    result.assert_outcomes(passed=9)
    assert suite.snapshot_files() == baseline

    shutil.rmtree(suite.path / "snapshots")
    monkeypatch.setenv("PYTHONHASHSEED", "7")
    suite.run_subprocess("-n", "2", "--snapshot-update").assert_outcomes(passed=9)
    assert suite.snapshot_files() == baseline

    # and plain re-runs neither fail nor touch anything
    monkeypatch.setenv("PYTHONHASHSEED", "99")
    assert suite.run_subprocess("-n", "2").ret == 0
    assert suite.run("--snapshot-update").ret == 0
    assert suite.snapshot_files() == baseline


@pytest.mark.parametrize(
    "args",
    [
        ["tests/test_app.py::test_pipeline"],
        ["tests/test_app.py::test_agents[beta]"],
        ["tests/test_app.py::test_agents"],
        ["tests/test_more.py::test_more[2]", "tests/test_app.py::test_sync"],
        ["tests/test_more.py"],
        ["tests"],
        ["-k", "agents and not beta"],
        ["-k", "more"],
        ["--deselect", "tests/test_more.py::test_more[1]"],
        ["--deselect", "tests/test_app.py::test_pipeline", "tests/test_app.py"],
        ["-m", "not slow"],
    ],
    ids=repr,
)
def test_subset_runs_exit_zero_without_unused_snapshots(suite: Project, args: list[str]) -> None:
    suite.run("--snapshot-update").assert_outcomes(passed=9)

    result = suite.run(*args)

    assert result.ret == 0, result.stdout.str()
    assert " unused" not in result.stdout.str()


def test_reordered_node_ids_exit_zero(suite: Project) -> None:
    suite.run("--snapshot-update").assert_outcomes(passed=9)
    ids = [line for line in suite.run("--collect-only", "-q").stdout.lines if "::" in line]

    result = suite.run(*reversed(ids))

    result.assert_outcomes(passed=9)
    assert result.ret == 0


def test_last_failed_rerun_exits_zero(suite: Project) -> None:
    suite.run("--snapshot-update").assert_outcomes(passed=9)
    suite.write(
        "tests/test_more.py",
        (suite.path / "tests" / "test_more.py").read_text().replace('f"n={n}"', 'f"n = {n}!"'),
    )
    suite.pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=6, failed=3)
    suite.write(
        "tests/test_more.py",
        (suite.path / "tests" / "test_more.py").read_text().replace('f"n = {n}!"', 'f"n={n}"'),
    )

    result = suite.pytester.runpytest("-p", "no:randomly", "--lf")

    result.assert_outcomes(passed=3)
    assert result.ret == 0


def test_ignored_modules_keep_their_snapshots(suite: Project) -> None:
    suite.run("--snapshot-update").assert_outcomes(passed=9)

    result = suite.run("--ignore=tests/test_more.py")

    assert result.ret == 0
    result = suite.run("--ignore=tests/test_more.py", "--snapshot-update")
    assert result.ret == 0
    assert suite.snapshot("tests/test_more/test_more[1].json").exists()


def test_snapshots_of_deleted_tests_and_modules_are_unused_and_cleaned_up(suite: Project) -> None:
    suite.run("--snapshot-update").assert_outcomes(passed=9)
    (suite.path / "tests" / "test_more.py").unlink()
    source = (suite.path / "tests" / "test_app.py").read_text()
    suite.write("tests/test_app.py", source.replace("def test_sync", "def _gone"))

    result = suite.run()

    assert result.ret == 1
    result.stdout.fnmatch_lines(["*4 snapshots unused*"])
    suite.run("--snapshot-update").assert_outcomes(passed=5)
    assert not (suite.path / "snapshots" / "tests" / "test_more").exists()
    assert not suite.snapshot("tests/test_app/test_sync.json").exists()
    assert suite.run().ret == 0


@pytest.mark.parametrize("args", [["tests"], ["-n", "2", "tests"], ["-k", "not many[1]"]], ids=repr)
def test_relating_snapshots_to_tests_is_linear_in_the_number_of_tests(
    project: Project, args: list[str]
) -> None:
    """syrupy asks, per snapshot, about every test of its module: a quadratic scan that our
    extension must answer at the first test it is asked about."""
    n = 150
    project.write(
        "tests/test_many.py",
        f"""
import pytest

@pytest.mark.parametrize("i", range({n}))
def test_many(agent_recording, agent_snapshot, i):
    agent_recording.add_entry("note", {{"i": i}})
    assert agent_recording == agent_snapshot
""",
    )
    project.write(
        "conftest.py",
        """
import os
from agentrig.snapshot import AgentrigSnapshotExtension

calls = 0
original = AgentrigSnapshotExtension.matches_test_location.__func__

def counting(cls, **kwargs):
    global calls
    calls += 1
    return original(cls, **kwargs)

AgentrigSnapshotExtension.matches_test_location = classmethod(counting)

def pytest_unconfigure(config):
    if not hasattr(config, "workerinput"):
        with open("calls.txt", "w") as f:
            f.write(str(calls))
""",
    )
    project.run_subprocess("--snapshot-update", "tests").assert_outcomes(passed=n)

    result = project.run_subprocess(*args)

    assert result.ret == 0
    calls = int((project.path / "calls.txt").read_text())
    assert calls <= 3 * n, calls
