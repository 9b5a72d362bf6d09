"""Power-loss safety at one folder fsync per folder: every file is fsynced before its rename, and
each folder a session wrote into is fsynced once, after its last rename (issue #20: two fsyncs
per snapshot were ~64 % of ``--snapshot-update``'s cost).

The fsyncs are counted by wrapping ``os.fsync`` around a real in-process pytest session (the
file system is not what is tested here, the order of agentrig's calls is).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_kit import Rig

from agentrig.snapshot_files import atomic_write, folder_sync_batch

APP = """
import pytest


@pytest.mark.parametrize("n", range({count}))
def test_write(agent_recording, agent_snapshot, decision_log, n):
    decision_log.record(decision={decision!r}, n=n)
    assert agent_recording == agent_snapshot
"""


def _watch(mp: pytest.MonkeyPatch, root: Path) -> list[tuple[str, str]]:
    """Record ``("fsync-file" | "fsync-folder" | "replace", path)`` for paths under ``root``."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace
    root = root.resolve()

    def fsync(fd: int) -> None:
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if path.is_relative_to(root):
            kind = "fsync-folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync-file"
            events.append((kind, path.relative_to(root).as_posix()))
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        real_replace(src, dst)
        path = Path(os.fsdecode(dst)).resolve()
        if path.is_relative_to(root):
            events.append(("replace", path.relative_to(root).as_posix()))

    mp.setattr(os, "fsync", fsync)
    mp.setattr(os, "replace", replace)
    return events


def _check(events: list[tuple[str, str]], files: set[str]) -> None:
    replaced = [p for kind, p in events if kind == "replace"]
    assert sorted(replaced) == sorted(files)
    # each file: its content fsynced (temporary file, so under a hidden name) before its rename
    assert [k for k, _ in events if k != "fsync-folder"] == ["fsync-file", "replace"] * len(files)
    folders = [p for kind, p in events if kind == "fsync-folder"]
    assert sorted(folders) == sorted({p.rpartition("/")[0] for p in files})  # once each
    last_rename = max(i for i, (kind, _) in enumerate(events) if kind == "replace")
    first_folder_sync = min(i for i, (kind, _) in enumerate(events) if kind == "fsync-folder")
    assert first_folder_sync > last_rename  # after every rename of the session


def test_snapshot_update_fsyncs_each_file_and_each_folder_once(rig: Rig) -> None:
    rig.write("tests/test_one.py", APP.format(count=6, decision="a"))
    rig.write("tests/test_two.py", APP.format(count=4, decision="a"))
    rig.snapshots.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        events = _watch(mp, rig.snapshots)
        rig.run("--snapshot-update").assert_outcomes(passed=10)
    _check(events, set(rig.files()))
    assert {p for kind, p in events if kind == "fsync-folder"} == {
        "tests/test_one",
        "tests/test_two",
    }


def test_received_files_of_a_drifting_run_share_one_folder_fsync(rig: Rig) -> None:
    rig.write("tests/test_one.py", APP.format(count=5, decision="a"))
    rig.run("--snapshot-update").assert_outcomes(passed=5)
    rig.write("tests/test_one.py", APP.format(count=5, decision="changed"))
    with pytest.MonkeyPatch.context() as mp:
        events = _watch(mp, rig.snapshots)
        rig.run().assert_outcomes(failed=5)
    received = {p for p in rig.files() if ".received." in p}  # the JSON and its HTML page
    assert len(received) == 10
    _check(events, received)


def test_a_batch_inside_the_session_syncs_its_folders_when_it_ends(tmp_path: Path) -> None:
    # This test runs inside a pytest session, whose own batch stays open around it.
    with pytest.MonkeyPatch.context() as mp:
        events = _watch(mp, tmp_path)
        with folder_sync_batch():
            atomic_write(tmp_path / "a" / "x.json", b"{}")
            atomic_write(tmp_path / "a" / "y.json", b"{}")
            atomic_write(tmp_path / "b" / "z.json", b"{}")
            assert [k for k, _ in events].count("fsync-folder") == 0
        after_block = list(events)
        atomic_write(tmp_path / "c" / "w.json", b"{}")  # the session's batch: synced at its end
    _check(after_block, {"a/x.json", "a/y.json", "b/z.json"})
    assert events[len(after_block) :][1:] == [("replace", "c/w.json")]


WITHOUT_BATCH = """
import json, os, stat, sys
from pathlib import Path
from agentrig.snapshot_files import atomic_write, folder_sync_batch

events = []
real = os.fsync
def fsync(fd):
    events.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
    real(fd)
os.fsync = fsync
atomic_write(Path(sys.argv[1]) / "x.json", b"{}")
atomic_write(Path(sys.argv[1]) / "y.json", b"{}")
print(json.dumps(events))
"""


def test_a_write_outside_any_batch_syncs_its_folder_at_once(tmp_path: Path) -> None:
    # a library user's write (a cassette recorded from a script): durable when it returns
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_BATCH, str(tmp_path)],
        capture_output=True,
        check=True,
        text=True,
    )
    assert json.loads(done.stdout) == ["file", "folder", "file", "folder"]
    assert (tmp_path / "y.json").read_bytes() == b"{}"
