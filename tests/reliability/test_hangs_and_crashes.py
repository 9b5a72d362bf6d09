"""Nothing hangs, nothing crashes: a FIFO, odd file names, a NUL, odd values in a snapshot.

A named pipe where a snapshot should be used to block ``open()`` forever (pytest, and
``agentrig show`` / ``diff``); non-UTF-8 file names crashed ``diff --json`` and
``--agentrig-report``; a NUL in ``agentrig_snapshot_dir`` crashed the session; a list where a
string was expected crashed ``show``. Every CLI failure is one line on stderr and exit 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_kit import Rig, assert_clean

from agentrig.cli import main
from agentrig.normalize import dumps, normalize

TEST = """
def test_a(agent_recording, agent_snapshot, decision_log):
    decision_log.record(decision="go")
    assert agent_recording == agent_snapshot
"""

DOC = dumps(
    normalize(
        {
            "name": "t",
            "spans": [
                {
                    "span_id": 1,
                    "name": "model.call",
                    "seq": 1,
                    "start": 0.0,
                    "end": 1.0,
                    "attributes": {"gen_ai.operation.name": ["chat", "odd"], "x": 1},
                }
            ],
            "entries": [],
        }
    )
)


PLAIN = ("-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:randomly")


def _cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process with a timeout: a hang fails the test instead of the suite."""
    return subprocess.run(
        [sys.executable, "-m", "agentrig", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def _one_line_error(err: str, command: str) -> None:
    err = err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith(f"agentrig {command}: error: "), err
    assert "Traceback" not in err


def test_a_fifo_where_a_snapshot_should_be_fails_its_test_instead_of_hanging(rig: Rig) -> None:
    rig.write("tests/test_app.py", TEST)
    fifo = rig.snapshot("tests/test_app/test_a.json")
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)

    result = rig.run_subprocess(timeout=60)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*snapshots/tests/test_app/test_a.json: it is not a regular file*"]
    )
    assert fifo.is_fifo()  # left alone


@pytest.mark.parametrize("command", ["show", "diff"])
def test_agentrig_show_and_diff_refuse_a_fifo_in_one_line(tmp_path: Path, command: str) -> None:
    (tmp_path / "good.json").write_bytes(DOC)
    os.mkfifo(tmp_path / "pipe.json")
    argv = ["show", "pipe.json"] if command == "show" else ["diff", "good.json", "pipe.json"]

    done = _cli(*argv, cwd=tmp_path)

    assert done.returncode == 2, done.stderr
    _one_line_error(done.stderr, command)
    assert "pipe.json is not a regular file" in done.stderr


def test_diff_json_on_non_utf8_file_names_is_valid_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for side in ("a", "b"):
        folder = tmp_path / side
        folder.mkdir()
        (folder / os.fsdecode(b"snap\xff.json")).write_bytes(DOC)
    (tmp_path / "b" / os.fsdecode(b"snap\xff.json")).write_bytes(DOC.replace(b'"x": 1', b'"x": 2'))

    status = main(["diff", "--json", "a", "b"])

    out = capsys.readouterr()
    assert status == 1, out.err  # drift, not a crash
    doc = json.loads(out.out)
    assert [f["path"] for f in doc["files"]] == ["snap\ufffd.json"]
    assert main(["diff", "a", "b"]) == 1  # the text form too
    assert "snap\ufffd.json" in capsys.readouterr().out


def test_a_non_utf8_test_file_name_does_not_crash_the_json_report(rig: Rig) -> None:
    (rig.path / os.fsdecode(b"test_caf\xe9.py")).write_text(TEST, encoding="utf-8")

    # (pytest prints the name's raw bytes: pytester cannot decode that output, so run it plainly)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *PLAIN, "--snapshot-update", "--agentrig-report=r.json"],
        cwd=rig.path,
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )

    assert done.returncode == 0, done.stdout[-3000:]
    assert b"INTERNALERROR" not in done.stdout + done.stderr
    report = json.loads((rig.path / "r.json").read_text(encoding="utf-8"))
    assert report["summary"]["created"] == 1
    assert report["tests"][0]["nodeid"] == "test_caf\ufffd.py::test_a"


@pytest.mark.parametrize("value", ["snap\x00shots", "snap\nshots"], ids=["nul", "newline"])
def test_a_control_character_in_the_snapshot_dir_is_a_usage_error(rig: Rig, value: str) -> None:
    rig.write("tests/test_app.py", TEST)

    result = rig.run("-o", f"agentrig_snapshot_dir={value}")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "holds a control character" in result.stderr.str()
    assert not any(p.name.startswith("snap") for p in rig.path.iterdir())


def test_show_renders_a_snapshot_whose_operation_name_is_a_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "odd.json").write_bytes(DOC)

    assert main(["show", "odd.json"]) == 0
    assert "model.call" in capsys.readouterr().out


def test_any_unexpected_cli_failure_is_one_redacted_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import agentrig.cli._common

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("boom with sk-abcdefghijklmnop1234\nsecond line")

    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.json").write_bytes(DOC)
    monkeypatch.setattr(agentrig.cli._common, "loads", broken)

    assert main(["show", "a.json"]) == 2
    err = capsys.readouterr().err
    _one_line_error(err, "show")
    assert "RuntimeError: boom with <redacted>" in err and "please report" in err
    assert_clean(err)
