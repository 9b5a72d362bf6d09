"""``agentrig update`` reports what happened, once and truthfully, and its own ``--force``."""

from __future__ import annotations

import pytest
from reliability_kit import Rig

from agentrig.cli import main

APP = """
import pytest

REPLY = {reply!r}


async def test_pipeline(fake_model, agent_recording, agent_snapshot):
    await fake_model.agent("research", reply=REPLY).run("query")
    assert agent_recording == agent_snapshot


@pytest.mark.parametrize("who", ["a", "b"])
async def test_other(fake_model, agent_recording, agent_snapshot, who):
    await fake_model.agent(who, reply="hi " + who).run("hi")
    assert agent_recording == agent_snapshot
"""
KEY = "tests/test_app/test_pipeline.json"


@pytest.fixture
def recorded(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> Rig:
    rig.write("tests/test_app.py", APP.format(reply="notes about X"))
    rig.run("--snapshot-update").assert_outcomes(passed=3)
    rig.write("tests/test_app.py", APP.format(reply="notes about Y"))
    monkeypatch.chdir(rig.path)
    return rig


def test_update_prints_each_updated_snapshot_once(
    recorded: Rig, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["update", "-p", "no:randomly"]) == 0
    out = capfd.readouterr().out
    mentions = [line for line in out.splitlines() if KEY in line and "updated" in line]
    assert len(mentions) == 1, out
    assert "total: 1 updated, 0 created, 0 deleted, 2 unchanged" in out


def test_update_does_not_count_snapshots_that_did_not_run_as_unchanged(
    recorded: Rig, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["update", "tests/test_app.py::test_pipeline", "-p", "no:randomly"]) == 0
    out = capfd.readouterr().out
    assert "total: 1 updated, 0 created, 0 deleted, 0 unchanged" in out


def test_update_under_ci_suggests_its_own_force(
    recorded: Rig, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    before = recorded.snapshot(KEY).read_bytes()
    assert main(["update", "-p", "no:randomly"]) != 0
    out = capfd.readouterr().out
    assert "agentrig update --force" in out
    assert "--agentrig-force-update to allow" not in out
    assert recorded.snapshot(KEY).read_bytes() == before
    monkeypatch.delenv("CI")
    assert main(["update", "--force", "-p", "no:randomly"]) == 0
    assert recorded.snapshot(KEY).read_bytes() != before
