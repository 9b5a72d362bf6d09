"""``agentrig accept`` never blesses a stale received file, never follows a snapshot folder the
plugin refuses, never replaces a file agentrig did not write, and checks before it moves."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from reliability_kit import Rig

from agentrig.cli import main

APP = """
import pytest

REPLY = {reply!r}


async def test_pipeline(fake_model, agent_recording, agent_snapshot):
    await fake_model.agent("research", reply=REPLY, latency=1.0).run("query")
    assert agent_recording == agent_snapshot


@pytest.mark.parametrize("who", ["a", "b"])
async def test_other(fake_model, agent_recording, agent_snapshot, who):
    await fake_model.agent(who, reply={reply!r} + who).run("hi")
    assert agent_recording == agent_snapshot
"""
SNAPSHOT = "tests/test_app/test_pipeline.json"
RECEIVED = "tests/test_app/test_pipeline.received.json"


def _app(rig: Rig, reply: str) -> None:
    rig.write("tests/test_app.py", APP.format(reply=reply))


@pytest.fixture
def drifted(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> Rig:
    """Recorded with one reply, then run with another: three received files of one run."""
    _app(rig, "notes about X")
    rig.run("--snapshot-update").assert_outcomes(passed=3)
    _app(rig, "notes about Y")
    rig.run().assert_outcomes(failed=3)
    monkeypatch.chdir(rig.path)
    return rig


def _stamp(path: Path) -> dict[str, object]:
    stamp = json.loads(path.read_text())["received"]
    assert isinstance(stamp, dict)
    return stamp


def test_received_files_carry_the_run_and_the_digest_of_their_snapshot(drifted: Rig) -> None:
    import hashlib

    stamp = _stamp(drifted.snapshot(RECEIVED))
    runs = {_stamp(p)["run"] for p in drifted.snapshots.rglob("*.received.json")}
    assert runs == {stamp["run"]} and isinstance(stamp["run"], str)
    assert stamp["test"] == "tests/test_app.py::test_pipeline"
    digest = hashlib.sha256(drifted.snapshot(SNAPSHOT).read_bytes()).hexdigest()
    assert stamp["snapshot_sha256"] == digest


def test_every_xdist_worker_stamps_the_same_run(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    _app(rig, "notes about X")
    rig.run("--snapshot-update").assert_outcomes(passed=3)  # recording needs no fresh process
    _app(rig, "notes about Y")
    rig.run_subprocess("-n", "2", "-p", "cacheprovider").assert_outcomes(failed=3)
    runs = {_stamp(p)["run"] for p in rig.snapshots.rglob("*.received.json")}
    assert runs == {json.loads((rig.path / ".pytest_cache/v/agentrig/run").read_text())}


def test_accept_refuses_a_received_file_of_an_older_run_and_says_how_to_refresh_it(
    drifted: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    before = drifted.snapshot(SNAPSHOT).read_bytes()
    drifted.run("-k", "test_other").assert_outcomes(failed=2)  # a later run, without it
    capsys.readouterr()

    assert main(["accept", "--dry-run"]) == 1
    dry = capsys.readouterr().out
    assert main(["accept"]) == 1
    out = capsys.readouterr().out
    assert "stale     snapshots/tests/test_app/test_pipeline.received.json" in out
    assert "not the latest run" in out
    assert "re-run `pytest tests/test_app.py::test_pipeline` to refresh it" in out
    assert "accepted 2 snapshots" in out and "skipped 1 stale received file" in out
    assert dry.replace("would accept", "accepted").splitlines()[:2] == out.splitlines()[:2]
    assert drifted.snapshot(SNAPSHOT).read_bytes() == before  # not blessed
    assert main(["accept", "--stale"]) == 0
    assert drifted.snapshot(SNAPSHOT).read_bytes() != before


def test_accept_refuses_a_received_file_whose_test_passed_since(
    drifted: Rig, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    keep = tmp_path / "kept.json"
    shutil.copy(drifted.snapshot(RECEIVED), keep)
    _app(drifted, "notes about X")  # the code changed back
    drifted.run("-p", "cacheprovider").assert_outcomes(passed=3)  # noted in pytest's cache
    assert not drifted.snapshot(RECEIVED).exists()  # the plugin removed it
    shutil.copy(keep, drifted.snapshot(RECEIVED))  # e.g. restored from a CI artifact
    assert main(["accept"]) == 1
    assert "not the latest run" in capsys.readouterr().out
    drifted.run().assert_outcomes(passed=3)


def test_accept_refuses_a_received_file_whose_snapshot_changed_since(
    drifted: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = drifted.snapshot(SNAPSHOT)
    doc = json.loads(snapshot.read_text())
    doc["name"] = "edited by a colleague"
    snapshot.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    assert main(["accept", str(drifted.snapshot(RECEIVED))]) == 1
    assert "its snapshot changed since it was compared" in capsys.readouterr().out
    assert json.loads(snapshot.read_text())["name"] == "edited by a colleague"


def test_accepted_snapshots_are_what_snapshot_update_writes(drifted: Rig, tmp_path: Path) -> None:
    assert main(["accept"]) == 0
    accepted = drifted.files()
    assert not any(name.endswith((".received.json", ".received.html")) for name in accepted)
    drifted.run("--snapshot-update").assert_outcomes(passed=3)
    rerecorded = drifted.files()
    assert {k: v for k, v in rerecorded.items() if not k.startswith(".")} == {
        k: v for k, v in accepted.items() if not k.startswith(".")
    }


def test_accept_dry_run_and_the_real_run_agree_a_folder_where_a_snapshot_should_be(
    drifted: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    other = drifted.snapshot("tests/test_app/test_other[a].json")
    other.unlink()
    other.mkdir()
    before = drifted.files()
    assert main(["accept", "--dry-run"]) == 2
    dry = capsys.readouterr()
    assert main(["accept"]) == 2
    real = capsys.readouterr()
    assert dry.out == real.out and "is a folder, not a snapshot file" in real.out
    assert "nothing moved" in real.err
    assert drifted.files() == before  # nothing moved, not even the good ones


def test_accept_never_replaces_a_file_that_is_not_an_agentrig_snapshot(
    drifted: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = drifted.snapshot(SNAPSHOT)
    settings.write_text('{"theme": "dark"}\n')
    assert main(["accept", "--stale"]) == 2
    assert "is not an agentrig snapshot" in capsys.readouterr().out
    assert settings.read_text() == '{"theme": "dark"}\n'


@pytest.mark.parametrize("folder", ["../outside", "/tmp/agentrig-abs-snapshots", "."])
def test_accept_applies_the_plugins_rules_for_the_snapshot_folder(
    rig: Rig, folder: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig.configure(f"agentrig_snapshot_dir = {folder}")
    monkeypatch.chdir(rig.path)
    plugin = rig.run()
    assert plugin.ret == pytest.ExitCode.USAGE_ERROR
    expected = "outside the rootdir" if folder != "." else "the rootdir itself"
    assert expected in plugin.stderr.str()
    capsys.readouterr()
    assert main(["accept"]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
    assert main(["update"]) == 2
    assert expected in capsys.readouterr().err
    assert not os.path.exists("/tmp/agentrig-abs-snapshots")
