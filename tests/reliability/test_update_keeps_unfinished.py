"""`--snapshot-update` deletes only what it saw finish.

A snapshot is "unused" when its test ran to the end without using it. A test that errored in
a fixture, failed before its assertion, or never ran because the session stopped (`-x`,
`--maxfail`, Ctrl-C), and a module that failed to import, say nothing about their snapshots:
deleting them would lose recorded behaviour that nobody asked to drop. syrupy's own
extensions delete them; agentrig must not.
"""

from __future__ import annotations

import pytest
from reliability_kit import Rig, assert_nothing_unused

# BREAK names what goes wrong on the second run; the first run records every snapshot.
MODULE = """
import os
import pytest

BREAK = os.environ.get("BREAK", "")

@pytest.fixture
def service():
    if BREAK == "fixture":
        raise RuntimeError("database is down")
    return "svc"

def test_a_fixture(service, agent_recording, agent_snapshot, decision_log):
    decision_log.record(decision="a")
    assert agent_recording == agent_snapshot

def test_b_before_assert(agent_recording, agent_snapshot, decision_log):
    decision_log.record(decision="b")
    if BREAK in ("before", "stop"):
        raise ValueError("broke before the assertion")
    if BREAK == "ctrl-c":
        raise KeyboardInterrupt
    assert agent_recording == agent_snapshot

def test_c_two_snapshots(agent_recording, agent_snapshot, decision_log):
    decision_log.record(decision="c")
    assert agent_recording == agent_snapshot(name="first")
    if BREAK == "between":
        raise ValueError("broke between the assertions")
    assert agent_recording == agent_snapshot(name="second")

def test_d_later(agent_recording, agent_snapshot, decision_log):
    decision_log.record(decision="d")
    assert agent_recording == agent_snapshot
"""

SNAPSHOTS = (
    "tests/test_app/test_a_fixture.json",
    "tests/test_app/test_b_before_assert.json",
    "tests/test_app/test_c_two_snapshots[first].json",
    "tests/test_app/test_c_two_snapshots[second].json",
    "tests/test_app/test_d_later.json",
)


def _recorded(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    monkeypatch.delenv("BREAK", raising=False)
    rig.write("tests/test_app.py", MODULE)
    rig.run("--snapshot-update")
    before = rig.files()
    assert set(SNAPSHOTS) <= set(before)
    return before


@pytest.mark.parametrize(
    ("why", "args"),
    [
        ("fixture", ()),
        ("before", ()),
        ("between", ()),
        ("stop", ("-x",)),
        ("stop", ("--maxfail=1",)),
        ("ctrl-c", ()),
    ],
    ids=[
        "fixture-error",
        "fails-before-assert",
        "fails-between-asserts",
        "-x",
        "maxfail",
        "ctrl-c",
    ],
)
def test_snapshot_update_keeps_the_snapshots_of_tests_that_did_not_finish(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, why: str, args: tuple[str, ...]
) -> None:
    before = _recorded(rig, monkeypatch)
    # A stale snapshot of a test that no longer exists: only a session that ran to the end may
    # call it unused.
    orphan = rig.snapshot("tests/test_app/test_gone.json")
    orphan.write_bytes(before["tests/test_app/test_d_later.json"])
    monkeypatch.setenv("BREAK", why)

    # (A KeyboardInterrupt would also stop an in-process session's caller: a subprocess.)
    run = rig.run_subprocess if why == "ctrl-c" else rig.run
    result = run("--snapshot-update", *args)

    assert result.ret != 0
    after = rig.files()
    for name in SNAPSHOTS:
        assert after.get(name) == before[name], f"{name} lost or rewritten after {why} {args}"
    stopped_early = why in ("stop", "ctrl-c")
    assert orphan.exists() is stopped_early, "an orphan is deleted only by a finished session"
    if stopped_early:
        assert_nothing_unused(result)


def test_a_plain_run_does_not_report_an_unfinished_tests_snapshots_as_unused(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    _recorded(rig, monkeypatch)
    monkeypatch.setenv("BREAK", "between")

    result = rig.run()

    result.assert_outcomes(passed=3, failed=1)
    assert_nothing_unused(result)


def test_snapshot_update_keeps_the_snapshots_of_a_module_that_failed_to_import(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.write("tests/test_other.py", MODULE.replace('"a"', '"other"'))
    before = _recorded(rig, monkeypatch)
    other = {k: v for k, v in rig.files().items() if k.startswith("tests/test_other/")}
    assert len(other) == len(SNAPSHOTS)
    rig.write("tests/test_other.py", "import not_installed_anywhere\n" + MODULE)

    result = rig.run("--snapshot-update", "--continue-on-collection-errors")

    result.assert_outcomes(passed=4, errors=1)
    after = rig.files()
    assert {k: v for k, v in after.items() if k.startswith("tests/test_other/")} == other
    assert {k: after[k] for k in before} == before
    assert_nothing_unused(result)


def test_snapshot_update_under_xdist_keeps_the_snapshots_of_tests_that_did_not_finish(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _recorded(rig, monkeypatch)
    monkeypatch.setenv("BREAK", "between")

    result = rig.run_subprocess("--snapshot-update", "-n", "2")

    result.assert_outcomes(passed=3, failed=1)
    assert {k: v for k, v in rig.files().items() if k in before} == before


def test_agentrig_update_keeps_the_snapshots_of_tests_that_did_not_finish(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from agentrig.cli import main

    before = _recorded(rig, monkeypatch)
    monkeypatch.setenv("BREAK", "before")
    monkeypatch.chdir(rig.path)

    status = main(["update", "-p", "no:randomly", "-p", "no:cacheprovider"])

    assert status == 1
    assert {k: v for k, v in rig.files().items() if k in before} == before
    assert ", 0 deleted," in capsys.readouterr().out
