"""Every code block of the README is tested, so the first thing a new user tries cannot rot.

Generic on purpose: each fenced block is picked up by its language, wherever it is and whoever
wrote it.

* ``python`` blocks that define ``test_*`` functions run as a pytest session (through
  ``pytester``, with the README's own ``toml`` configuration and warnings as errors): they are
  recorded with ``--snapshot-update``, then pass against their snapshots. Other ``python`` blocks
  run as scripts in an empty folder.
* ``toml`` blocks parse; ``bash`` blocks name commands that exist (``agentrig <sub>`` has
  ``--help``, ``bash scripts/dev <job>`` is a job of the script) and the snapshot paths the
  first test writes; ``yaml`` blocks (here and in docs/ci.md) never install agentrig from a
  registry it is not on and install ``pytest-xdist`` when they run ``-n``.
* The drift excerpt at the top and the ``agentrig show`` excerpt are what the first test
  prints: every line shown (a trailing ``...`` allowed) is in the real output.

A block that is deliberately not runnable is preceded by ``<!-- not-tested: reason -->``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

# One copy of these across the in-process pytester sessions below (pytester drops modules an
# inner session imported first, while agentrig's lazy names would keep their classes).
import agentrig.fake
import agentrig.providers.responder  # noqa: F401
from agentrig.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
CI_DOC = ROOT / "docs" / "ci.md"

_FENCE_RE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
# The note may not contain "-->": a match must not start at an earlier comment and run on.
_COMMENT_RE = re.compile(r"<!--\s*(not-tested|drift-excerpt):?((?:(?!-->).)*)-->\s*\Z", re.S)


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int
    marker: str | None
    note: str

    @property
    def id(self) -> str:
        return f"{self.lang or 'text'}@README.md:{self.line}"

    @property
    def is_test_module(self) -> bool:
        return re.search(r"^(async )?def test_", self.code, re.M) is not None


def _blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for m in _FENCE_RE.finditer(text):
        before = text[: m.start()]
        comment = _COMMENT_RE.search(before)
        found.append(
            Block(
                lang=m.group(1),
                code=m.group(2),
                line=before.count("\n") + 1,
                marker=comment.group(1) if comment else None,
                note=comment.group(2).strip() if comment else "",
            )
        )
    return found


BLOCKS = _blocks(README)
TESTED = [b for b in BLOCKS if b.marker != "not-tested"]
PYTHON = [b for b in TESTED if b.lang == "python"]
FIRST_TEST = next(b for b in PYTHON if b.is_test_module)
TOML = next((b for b in TESTED if b.lang == "toml" and "tool.pytest.ini_options" in b.code), None)


def test_the_readme_shows_the_whole_pytest_configuration_of_its_first_test() -> None:
    assert TOML is not None, "README needs a ```toml block with [tool.pytest.ini_options]"
    assert TOML.line < FIRST_TEST.line


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's sessions run as a new user's would (not in CI mode, not as workers)."""
    for name in ("CI", "GITHUB_ACTIONS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        monkeypatch.delenv(name, raising=False)


def _project(pytester: pytest.Pytester, block: Block) -> Path:
    pytester.makepyprojecttoml(
        TOML.code if TOML else '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n'
    )
    path = pytester.path / "tests" / f"test_block_{block.line}.py"
    if block is FIRST_TEST:
        path = pytester.path / "tests" / "test_pipeline.py"  # the name the README uses
    path.parent.mkdir(exist_ok=True)
    path.write_text(block.code, encoding="utf-8")
    return path


FAST = ("-p", "no:randomly", "-p", "no:cacheprovider", "-W", "error")


@pytest.mark.parametrize("block", PYTHON, ids=lambda b: b.id)
def test_every_python_block_runs(block: Block, pytester: pytest.Pytester, tmp_path: Path) -> None:
    if block.is_test_module:
        _project(pytester, block)
        # OpenTelemetry keeps process-wide state (the global provider, proxy tracers bound to
        # it) that in-process sessions would share: such a block runs as a user runs it, fresh.
        fresh = "opentelemetry" in block.code
        run = pytester.runpytest_subprocess if fresh else pytester.runpytest
        recorded = run(*FAST, "--snapshot-update")
        assert recorded.ret == 0, recorded.stdout.str()[-3000:]
        again = run(*FAST)
        assert again.ret == 0, again.stdout.str()[-3000:]
        assert again.parseoutcomes().get("passed", 0) >= 1
        return
    script = tmp_path / "block.py"
    script.write_text(block.code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_every_toml_block_parses() -> None:
    for block in (b for b in TESTED if b.lang == "toml"):
        tomllib.loads(block.code)


def _excerpt_lines(block: Block) -> list[str]:
    lines = []
    for line in block.code.splitlines():
        line = line.rstrip()
        if line.strip() in ("...", "…", ""):
            continue
        lines.append(line.removesuffix("...").removesuffix("…").rstrip())
    return lines


def test_the_drift_and_show_excerpts_are_what_the_first_test_prints(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    excerpt = next(b for b in BLOCKS if b.marker == "drift-excerpt")
    changed = re.search(r'becomes\s+(f".*?")', excerpt.note, re.S)
    assert changed, "the drift excerpt's comment says which reply changes"
    path = _project(pytester, FIRST_TEST)
    assert pytester.runpytest(*FAST, "--snapshot-update").ret == 0

    monkeypatch.chdir(pytester.path)
    capsys.readouterr()
    assert main(["show", "snapshots/tests/test_pipeline/test_pipeline.json"]) == 0
    shown = capsys.readouterr().out
    show_block = next(b for b in TESTED if not b.lang and b.code.startswith("Timeline"))
    missing = [line for line in _excerpt_lines(show_block) if line not in shown]
    assert not missing, f"README's show excerpt is not what `agentrig show` prints: {missing}"

    source = path.read_text(encoding="utf-8")
    assert 'f"report on {prompt[:20]}"' in source
    path.write_text(source.replace('f"report on {prompt[:20]}"', changed.group(1)), "utf-8")
    drifted = pytester.runpytest(*FAST)
    assert drifted.ret == 1
    printed = drifted.stdout.str()
    missing = [line.strip() for line in _excerpt_lines(excerpt) if line.strip() not in printed]
    assert not missing, f"README's drift excerpt is not what the first test prints: {missing}"

    # The paths the bash blocks name are the files this test writes.
    for block in (b for b in TESTED if b.lang == "bash"):
        for mentioned in re.findall(r"snapshots/[\w/.\[\]-]+\.json", block.code):
            assert (pytester.path / mentioned).is_file(), f"{block.id} names {mentioned}"


def _commands(block: Block) -> list[list[str]]:
    text = block.code.replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            out.append(shlex.split(line))
    return out


def test_every_bash_block_names_real_commands(capsys: pytest.CaptureFixture[str]) -> None:
    dev = (ROOT / "scripts" / "dev").read_text(encoding="utf-8")
    for block in (b for b in TESTED if b.lang == "bash"):
        for argv in _commands(block):
            if argv[:2] == ["bash", "scripts/dev"]:
                assert f"  {argv[2]})" in dev, f"{block.id}: scripts/dev has no job {argv[2]}"
            elif argv[0] == "agentrig":
                assert main([argv[1], "--help"]) == 0, f"{block.id}: no `agentrig {argv[1]}`"
            elif argv[0] == "pip":
                assert "pytest-agentrig" not in argv or any("git+" in a for a in argv), block.id
            else:
                assert argv[0] in ("pytest", "python", "python3"), f"{block.id}: {argv[0]}?"
    capsys.readouterr()


@pytest.mark.parametrize("doc", [README, CI_DOC], ids=lambda p: p.name)
def test_every_ci_excerpt_installs_what_it_runs(doc: Path) -> None:
    for block in (b for b in _blocks(doc) if b.lang == "yaml"):
        code = block.code.replace(">-\n", " ")
        installs = " ".join(line for line in code.splitlines() if "pip install" in line)
        if re.search(r"pytest\b.*\s-n\s", code):
            assert "pytest-xdist" in code, f"{doc.name}:{block.line} runs -n without pytest-xdist"
        assert not re.search(r"install\s+(-U\s+)?pytest-agentrig\b", installs), (
            f"{doc.name}:{block.line} installs pytest-agentrig from a registry it is not on"
        )
        assert "pytest-agentrig" not in installs or "git+" in installs


def test_blocks_marked_not_tested_are_rare_and_say_why() -> None:
    marked = [b for b in BLOCKS if b.marker == "not-tested"]
    assert len(marked) <= 3, [b.id for b in marked]
    assert all(b.note for b in marked), "give the reason: <!-- not-tested: reason -->"
