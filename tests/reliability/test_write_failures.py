"""Disk full and permission denied while writing a snapshot: a clear failure, the old file kept.

We run as root, where a read-only folder is still writable, so the failures are injected at
the system calls agentrig's atomic write makes (``os.open`` of the temporary file, ``os.fsync``,
``os.replace``), only for paths under the snapshot folder, inside an in-process pytest session;
and a file placed where a snapshot folder must be gives a real error from the file system.
Afterwards the snapshot holds its old bytes, no temporary file is left behind, and the test
fails with what went wrong and what to do, never an INTERNALERROR.

(The injections use their own ``MonkeyPatch.context()``: undoing the ``monkeypatch`` fixture
would also undo pytester's ``chdir`` into its project.)
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import Rig

APP = """
def test_app(agent_recording, agent_snapshot, decision_log):
    decision_log.record(decision="route", to={to!r})
    assert agent_recording == agent_snapshot


def test_other(agent_recording, agent_snapshot, decision_log):
    decision_log.record(decision="other", to={to!r})
    assert agent_recording == agent_snapshot
"""

SNAPSHOT = "tests/test_app/test_app.json"


def _recorded(rig: Rig) -> dict[str, bytes]:
    rig.write("tests/test_app.py", APP.format(to="billing"))
    rig.run("--snapshot-update").assert_outcomes(passed=2)
    rig.write("tests/test_app.py", APP.format(to="sales, a longer destination"))
    return rig.files()


def _under(path: Any, root: Path) -> bool:
    try:
        Path(os.fsdecode(path)).resolve().relative_to(root.resolve())
    except (ValueError, TypeError):
        return False
    return True


def _inject(
    monkeypatch: pytest.MonkeyPatch, root: Path, name: str, code: int
) -> Callable[..., Any]:
    """Make ``os.<name>`` fail with ``code`` for paths (or descriptors of files) under root."""
    real = getattr(os, name)
    calls: list[Any] = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        target = args[1] if name == "replace" else args[0]
        hit = (
            _under(os.readlink(f"/proc/self/fd/{target}"), root)
            if isinstance(target, int)
            else _under(target, root)
        )
        if hit:
            calls.append(target)
            raise OSError(code, os.strerror(code), None if isinstance(target, int) else target)
        return real(*args, **kwargs)

    monkeypatch.setattr(os, name, failing)
    return failing


def _no_temporary_files(rig: Rig) -> None:
    leftovers = [p for p in rig.snapshots.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


@pytest.mark.parametrize(
    ("call", "code", "reason"),
    [
        ("replace", errno.ENOSPC, "No space left on device"),
        ("fsync", errno.ENOSPC, "No space left on device"),
        ("fsync", errno.EIO, "Input/output error"),
        ("open", errno.EACCES, "Permission denied"),
        ("open", errno.EROFS, "Read-only file system"),
    ],
)
def test_a_failed_snapshot_write_fails_the_test_clearly_and_keeps_the_old_file(
    rig: Rig, call: str, code: int, reason: str
) -> None:
    before = _recorded(rig)
    root = rig.snapshots
    with pytest.MonkeyPatch.context() as mp:
        if call == "open":
            # Only the temporary file's creation fails (reading the old snapshot still works).
            real_open = os.open

            def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
                if flags & os.O_CREAT and _under(path, root):
                    raise OSError(code, os.strerror(code), path)
                return real_open(path, flags, *args, **kwargs)

            mp.setattr(os, "open", open_)
        else:
            _inject(mp, root, call, code)
        result = rig.run("--snapshot-update")

    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*agentrig cannot write snapshot snapshots/tests/test_app/test_app.json:",
            f"*cannot write snapshot snapshots/tests/test_app/test_app.json: {reason}; the file "
            "on disk (if any) is unchanged. Free disk space or make the folder writable, then "
            f"re-run with --snapshot-update (received file not written: {reason})",
            "*Once that is fixed, re-record it with:",
            "*pytest tests/test_app.py::test_app --snapshot-update",
        ]
    )
    assert rig.files() == before  # old bytes, no received file, nothing half-written
    _no_temporary_files(rig)
    # Once the disk has room again, the same command records the change.
    rig.run("--snapshot-update").assert_outcomes(passed=2)
    assert rig.files()[SNAPSHOT] != before[SNAPSHOT]


def test_a_failed_first_recording_leaves_no_file_and_says_why(rig: Rig) -> None:
    rig.write("tests/test_app.py", APP.format(to="billing"))
    rig.snapshots.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        _inject(mp, rig.snapshots, "replace", errno.ENOSPC)
        result = rig.run("--snapshot-update")

    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*cannot write snapshot *: No space left on device*"])
    assert rig.files() == {}


def test_a_failed_received_file_write_still_reports_the_drift(rig: Rig) -> None:
    before = _recorded(rig)
    with pytest.MonkeyPatch.context() as mp:
        _inject(mp, rig.snapshots, "replace", errno.ENOSPC)
        result = rig.run()

    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*The recording drifted from snapshot snapshots/tests/test_app/test_app.json*"]
    )
    result.stdout.fnmatch_lines(
        ["E       Note: received file not written: No space left on device"]
    )
    assert rig.files() == before
    _no_temporary_files(rig)


def test_a_file_where_the_snapshot_folder_must_be_is_named_and_left_alone(rig: Rig) -> None:
    rig.write("tests/test_app.py", APP.format(to="billing"))
    blocker = rig.snapshot("tests/test_app")
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file in the way")

    result = rig.run("--snapshot-update")

    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*cannot read snapshot snapshots/tests/test_app/test_app.json: Not a directory "
            "(snapshots/tests/test_app is a file where a folder must be); fix its permissions, "
            "or move what is in the way, and re-record",
        ]
    )
    assert blocker.read_text() == "a file in the way"
    blocker.unlink()
    rig.run("--snapshot-update").assert_outcomes(passed=2)
