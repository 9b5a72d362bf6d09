"""A process killed (SIGKILL) while it writes snapshots loses nothing already on disk.

``pytest --snapshot-update`` and ``agentrig accept`` run as subprocesses and are killed at many
points: at random moments over the whole run (start-up, comparing, writing) and, to be sure the
kills land inside the short window where files are being replaced, right after the first file
changed. After every kill, each snapshot file is either the complete old version or the
complete new one (and for ``accept``, a snapshot still old keeps its received file beside it);
a later run never sees a torn file. Temporary files a killed writer leaves are hidden
(``.<name>.<pid>.<hex>.tmp``) and are never taken for snapshots.

Each scenario makes exactly ``KILLS`` kills, whatever the machine's speed (a wall-clock budget
made the count, and so the test, depend on the load; the timing of a kill is relative to the
run it interrupts).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agentrig.normalize import dumps, normalize
from agentrig.snapshot import is_snapshot_file

KILLS = 10
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


def _kill_at(
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    first_change: Callable[[], bool],
    jitter: float,
) -> Callable[[float | None], None]:
    """Start ``command``; kill it ``delay`` s after start, or (``None``) a random moment of
    up to ``jitter`` s after ``first_change()`` turned true."""

    def run(delay: float | None) -> None:
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            if delay is not None:
                time.sleep(delay)
            else:
                deadline = time.monotonic() + 20
                while not first_change() and proc.poll() is None and time.monotonic() < deadline:
                    pass  # a tight poll: the write window is milliseconds long
                time.sleep(random.uniform(0, jitter))
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)

    return run


def _hidden_leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name.startswith(".")]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pytest.ini").write_text(INI)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_crash.py").write_text(APP)
    return tmp_path


def _record(project: Path, version: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [*PYTEST, "--snapshot-update"], cwd=project, env=_env(version), capture_output=True
    )
    assert done.returncode == 0, done.stdout.decode()[-3000:]
    return time.perf_counter() - started


def test_sigkill_during_snapshot_update_leaves_each_file_old_or_new(project: Path) -> None:
    root = project / "snapshots"
    _record(project, "new")
    new = _snapshot_files(root)
    shutil.rmtree(root)
    _record(project, "old")
    old = _snapshot_files(root)
    assert len(old) == TESTS and old.keys() == new.keys()
    assert all(old[k] != new[k] and len(old[k]) != len(new[k]) for k in old)
    full = _record(project, "new")  # how long a whole run takes here
    _restore(root, old)

    first = root / "tests/test_crash/test_write[0].json"
    first_stat = first.stat()

    def first_written() -> bool:
        try:
            st = first.stat()
        except FileNotFoundError:
            return False
        return (st.st_size, st.st_mtime_ns) != (first_stat.st_size, first_stat.st_mtime_ns)

    kill = _kill_at([*PYTEST, "--snapshot-update"], project, _env("new"), first_written, 0.06)
    rng = random.Random(20240611)
    outcomes: list[tuple[int, int]] = []  # (files new, files old) after each kill
    for kills in range(KILLS):
        _restore(root, old)
        first_stat = first.stat()
        # Odd kills: a random moment of the whole run; even kills: inside the write window.
        kill(rng.uniform(0, full * 1.1) if kills % 2 else None)
        now = _snapshot_files(root)
        assert now.keys() == old.keys(), "a snapshot file went missing or appeared"
        for key, data in now.items():
            assert data in (old[key], new[key]), f"{key} is torn: {len(data)} bytes"
        for leftover in _hidden_leftovers(root):
            assert leftover.name.endswith(".tmp") and not is_snapshot_file(leftover.name)
        outcomes.append((sum(now[k] == new[k] for k in now), sum(now[k] == old[k] for k in now)))

    mixed = [o for o in outcomes if o[0] and o[1]]
    assert len(mixed) >= 2, f"too few kills landed while files were replaced: {outcomes}"

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
    command = [sys.executable, "-m", "agentrig", "accept", str(root)]
    env = _env()

    _restore(root, state)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    full = time.perf_counter() - started
    assert _snapshot_files(root) == new

    first_received = root / "tests/test_x/test_000.received.json"
    # Moving 300 files takes milliseconds: kill within 5 ms of the first move.
    kill = _kill_at(command, tmp_path, env, lambda: not first_received.exists(), 0.005)
    rng = random.Random(7)
    moved_counts: list[int] = []
    for kills in range(KILLS):
        _restore(root, state)
        kill(rng.uniform(0, full * 1.1) if kills % 2 else None)
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
        moved_counts.append(moved)

    midway = [m for m in moved_counts if 0 < m < count]
    assert len(midway) >= 2, f"too few kills landed while files were moved: {moved_counts}"
    # Accepting again finishes the job.
    subprocess.run(command, env=env, check=True, capture_output=True)
    assert _snapshot_files(root) == new
