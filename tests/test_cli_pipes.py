"""``agentrig diff`` and ``show`` on pipes: the verdict survives a reader that leaves early,
and ``show`` fits the terminal but never cuts what goes to a pipe or a file."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentrig.cli import main
from agentrig.normalize import dumps
from drift_cases import changed_kb_reply


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("pipes")
    expected, received = changed_kb_reply()
    a, b = folder / "test_ticket.json", folder / "test_ticket.received.json"
    a.write_bytes(dumps(expected))
    b.write_bytes(dumps(received))
    return a, b


class _ClosedAfter(io.StringIO):
    """A stdout whose reader leaves after the first line (``| head -1``)."""

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if self.getvalue():
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


def test_diff_exits_1_on_drift_when_its_reader_leaves_early(
    pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdout", _ClosedAfter())
    assert main(["diff", str(pair[0]), str(pair[1]), "-vv", "--color", "never"]) == 1
    monkeypatch.setattr(sys, "stdout", _ClosedAfter())
    assert main(["diff", str(pair[0]), str(pair[1]), "--json"]) == 1
    monkeypatch.setattr(sys, "stdout", _ClosedAfter())
    assert main(["diff", str(pair[0]), str(pair[0])]) == 0


def test_diff_piped_into_head_exits_1_in_a_real_shell(pair: tuple[Path, Path]) -> None:
    src = str(Path(__file__).parents[1] / "src")
    command = (
        f'"{sys.executable}" -m agentrig diff "{pair[0]}" "{pair[1]}" -vv | head -1; '
        'echo "status=${PIPESTATUS[0]}"'
    )
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=env, check=True
    )
    lines = done.stdout.splitlines()
    assert lines[0].startswith("--- ")
    assert lines[-1] == "status=1"
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


def test_show_piped_keeps_whole_lines(
    pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(pair[1])]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) > 100  # nothing cut at 100 columns
    assert "…" not in out.splitlines()[0]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_show_on_a_terminal_fits_its_width(
    pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "72")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["show", str(pair[1])]) == 0
    lines = terminal.getvalue().splitlines()
    assert max(len(line) for line in lines) == 72
    # an explicit --width still wins
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["show", str(pair[1]), "--width", "60"]) == 0
    assert max(len(line) for line in terminal.getvalue().splitlines()) <= 60
