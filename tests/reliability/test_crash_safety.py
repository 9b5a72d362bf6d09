"""A process killed (SIGKILL) while it writes snapshots loses nothing already on disk.

``pytest --snapshot-update`` and ``agentrig accept`` run as subprocesses that kill themselves
at exact points of the write path, chosen by the ``AGENTRIG_KILL_AT`` environment variable that
a small module loaded into them (:data:`KILL_POINT`) reads: before or after the fsync of the
k-th temporary file (its bytes written, not yet durable / durable, not yet renamed) and before
or after the k-th ``os.replace``, for the first file, the last one and files in between. After
every kill, each snapshot file is either the complete old version or the complete new one, and
exactly the files renamed before the kill are new (for ``accept``, a snapshot still old keeps
its received file beside it); a later run never sees a torn file. Temporary files a killed
writer leaves are hidden (``.<name>.<pid>.<hex>.tmp``) and are never taken for snapshots.

The kill points are counted in system calls, not in seconds: the test asserts the same thing on
a fast machine and on a loaded one (a version that killed at random moments within a wall-clock
budget failed under load: too few kills landed inside the write window).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agentrig.normalize import dumps, normalize
from agentrig.snapshot import is_snapshot_file

TESTS = 40

APP = f"""
import os

import pytest

VERSION = os.environ["AGENTRIG_CRASH_VERSION"]


@pytest.mark.parametrize("n", range({TESTS}))
def test_write(agent_recording, agent_snapshot, decision_log, n):
    # old and new differ in content and in size: a mix of the two would show
    size = 40_000 if VERSION == "old" else 60_000
    decision_log.record(decision="write", n=n, body=VERSION[0] * size)
    assert agent_recording == agent_snapshot
"""

INI = """[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""


def _env(version: str = "new") -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CI", "GITHUB_ACTIONS", "PYTEST_ADDOPTS") and not k.startswith("PYTEST_XDIST")
    }
    env["AGENTRIG_CRASH_VERSION"] = version
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


PYTEST = [
    sys.executable,
    "-m",
    "pytest",
    "-q",
    "-p",
    "no:cacheprovider",
    "-p",
    "no:randomly",
    "-p",
    "no:hypothesispytest",
    "-p",
    "no:xdist",
]


def _snapshot_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*.json"))
        if is_snapshot_file(p.name)
    }


def _restore(root: Path, files: dict[str, bytes]) -> None:
    """Put ``files`` back exactly and remove anything else (received and temporary files)."""
    for path in list(root.rglob("*")):
        if path.is_file() and path.relative_to(root).as_posix() not in files:
            path.unlink()
    for rel, data in files.items():
        (root / rel).write_bytes(data)


#: Loaded into the writer (``-p agentrig_kill_point`` for pytest, an import for the CLI):
#: ``AGENTRIG_KILL_AT=<fsync|replace>:<before|after>:<k>`` SIGKILLs the process at the k-th call
#: of ``os.fsync`` (of a regular file) or ``os.replace`` whose path names a ``MARK`` file.
KILL_POINT = """
import os
import signal
import stat

_SPEC = os.environ.get("AGENTRIG_KILL_AT")
_MARK = os.environ["AGENTRIG_KILL_MARK"]


def _install(call, when, nth):
    real = getattr(os, call)
    seen = 0

    def wrapped(*args, **kwargs):
        nonlocal seen
        if call == "fsync":
            fd = args[0]
            hit = stat.S_ISREG(os.fstat(fd).st_mode) and _MARK in os.readlink(f"/proc/self/fd/{fd}")
        else:
            hit = _MARK in os.fsdecode(args[1])
        seen += hit
        if hit and seen == nth and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(*args, **kwargs)
        if hit and seen == nth and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(os, call, wrapped)


if _SPEC:
    _call, _when, _nth = _SPEC.split(":")
    _install(_call, _when, int(_nth))
"""


def _kill_points(count: int, rng: random.Random) -> list[tuple[str, str, int]]:
    """Every point of the write path at the first and the last file, and at files between."""
    points = [(call, when) for call in ("fsync", "replace") for when in ("before", "after")]
    between = [rng.randrange(2, count) for _ in points]
    return [
        *((call, when, 1) for call, when in points),
        *((call, when, count) for call, when in points),
        *((call, when, k) for (call, when), k in zip(points, between, strict=True)),
    ]


def _killed_at(
    command: list[str], cwd: Path, env: dict[str, str], point: tuple[str, str, int]
) -> None:
    """Run ``command`` until it kills itself at ``point``; fail if it ended any other way."""
    call, when, nth = point
    done = subprocess.run(
        command,
        cwd=cwd,
        env={**env, "AGENTRIG_KILL_AT": f"{call}:{when}:{nth}"},
        capture_output=True,
        timeout=300,  # guards against a hang only
    )
    assert done.returncode == -signal.SIGKILL, (point, done.stdout.decode()[-3000:])


def _renamed_before(point: tuple[str, str, int]) -> int:
    """How many files were renamed into place when the kill at ``point`` struck."""
    call, when, nth = point
    return nth if (call, when) == ("replace", "after") else nth - 1


def _hidden_leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name.startswith(".")]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pytest.ini").write_text(INI)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_crash.py").write_text(APP)
    (tmp_path / "agentrig_kill_point.py").write_text(KILL_POINT)
    return tmp_path


def _record(project: Path, version: str) -> None:
    done = subprocess.run(
        [*PYTEST, "--snapshot-update"], cwd=project, env=_env(version), capture_output=True
    )
    assert done.returncode == 0, done.stdout.decode()[-3000:]


def test_sigkill_during_snapshot_update_leaves_each_file_old_or_new(project: Path) -> None:
    root = project / "snapshots"
    _record(project, "new")
    new = _snapshot_files(root)
    shutil.rmtree(root)
    _record(project, "old")
    old = _snapshot_files(root)
    assert len(old) == TESTS and old.keys() == new.keys()
    assert all(old[k] != new[k] and len(old[k]) != len(new[k]) for k in old)
    env = {**_env("new"), "AGENTRIG_KILL_MARK": "test_write["}
    command = [*PYTEST, "-p", "agentrig_kill_point", "--snapshot-update"]
    for point in _kill_points(TESTS, random.Random(20240611)):
        _restore(root, old)
        _killed_at(command, project, env, point)
        now = _snapshot_files(root)
        assert now.keys() == old.keys(), "a snapshot file went missing or appeared"
        for key, data in now.items():
            assert data in (old[key], new[key]), f"{key} is torn: {len(data)} bytes"
        fresh = sum(now[k] == new[k] for k in now)
        assert fresh == _renamed_before(point), f"killed at {point}: {fresh} files new"
        leftovers = _hidden_leftovers(root)
        for leftover in leftovers:
            assert leftover.name.endswith(".tmp") and not is_snapshot_file(leftover.name)
        # killed between writing a temporary file and renaming it: that file is left behind
        assert len(leftovers) == (point[1] == "before" or point[0] == "fsync"), point

    # A later run reads whatever the kill left: each test passes or drifts, none is unusable.
    report = project / "report.json"
    done = subprocess.run(
        [*PYTEST, f"--agentrig-report={report}"], cwd=project, env=_env("new"), check=False
    )
    assert done.returncode in (0, 1)
    statuses = {
        s["status"] for t in json.loads(report.read_text())["tests"] for s in t["snapshots"]
    }
    assert statuses <= {"drift"}


def _doc(n: int, version: str) -> bytes:
    body = version[0] * (200 if version == "old" else 300)
    return dumps(
        normalize(
            {
                "name": f"tests/test_x.py::test_{n}",
                "spans": [],
                "entries": [{"seq": 1, "kind": "decision", "data": {"decision": body}}],
            }
        )
    )


def test_sigkill_during_agentrig_accept_loses_neither_version(tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    folder = root / "tests" / "test_x"
    folder.mkdir(parents=True)
    count = 300
    old = {f"tests/test_x/test_{n:03d}.json": _doc(n, "old") for n in range(count)}
    new = {k: _doc(int(k[-8:-5]), "new") for k in old}
    state = {**old, **{k[:-5] + ".received.json": v for k, v in new.items()}}
    argv = ["accept", "--stale", str(root)]
    accept = f"from agentrig.cli import main; raise SystemExit(main({argv!r}))"
    command = [sys.executable, "-c", accept]  # the received files are unstamped: --stale
    env = _env()
    (tmp_path / "agentrig_kill_point.py").write_text(KILL_POINT)

    _restore(root, state)
    subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True)
    assert _snapshot_files(root) == new

    env["AGENTRIG_KILL_MARK"] = "test_x/test_"
    command = [sys.executable, "-c", f"import agentrig_kill_point; {accept}"]
    # accept renames each received file over its snapshot: os.replace is its only write
    points = [p for p in _kill_points(count, random.Random(7)) if p[0] == "replace"]
    for point in points:
        _restore(root, state)
        _killed_at(command, tmp_path, env, point)
        moved = 0
        for key in old:
            snapshot = root / key
            received = root / (key[:-5] + ".received.json")
            data = snapshot.read_bytes()
            if data == new[key]:
                assert not received.exists(), f"{key}: accepted but its received file remains"
                moved += 1
            else:
                assert data == old[key], f"{key} is torn"
                assert received.read_bytes() == new[key], f"{key}: received file lost"
        assert not _hidden_leftovers(root)
        assert moved == _renamed_before(point), f"killed at {point}: {moved} files moved"

    # Accepting again finishes the job.
    subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True)
    assert _snapshot_files(root) == new
