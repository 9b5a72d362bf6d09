"""The ``agentrig`` command line, driven in-process through ``main(argv)`` (as time-machine does).

Snapshot documents are real: recordings of the three patterns run on FakeModel agents under the
virtual clock, normalized and written exactly as the plugin writes them. The ``update`` and
``accept`` workflows run real pytest sessions (``pytester``) against the plugin.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from agentrig.budget import BudgetPool
from agentrig.cli import github_annotation, main
from agentrig.clock import run
from agentrig.fake import FakeModel
from agentrig.normalize import FORMAT_VERSION, dumps, loads, normalize
from agentrig.patterns import run_broadcast, run_pipeline, run_supervisor
from agentrig.recording import Recording

Scenario = Callable[[FakeModel], Coroutine[Any, Any, object]]


# -- real snapshot documents --------------------------------------------------------------------


def _pipeline(draft_reply: str = "report on battery recycling") -> Scenario:
    async def scenario(fm: FakeModel) -> object:
        research = fm.agent("research", reply="notes about battery recycling", latency=2.0)
        draft = fm.agent("draft", reply=draft_reply, latency=3.0)
        review = fm.agent("review", reply="APPROVED", latency=1.0)
        return await run_pipeline(
            [("research", research, 0.04), ("draft", draft, 0.04), ("review", review, 0.02)],
            "battery recycling",
            pool=BudgetPool(usd=0.10),
        )

    return scenario


def _broadcast() -> Scenario:
    async def scenario(fm: FakeModel) -> object:
        web = fm.agent("web", error=TimeoutError("search timed out"), latency=5.0)
        papers = fm.agent("papers", reply="papers say X", latency=2.0)
        forums = fm.agent("forums", reply="forums say Y", latency=3.0)
        synth = fm.agent("synth", reply="summary of X and Y", latency=1.0)
        return await run_broadcast(
            [web, papers, forums],
            "battery recycling",
            aggregator=synth,
            pool=BudgetPool(usd=0.10),
            max_usd=0.02,
        )

    return scenario


def _supervisor() -> Scenario:
    async def scenario(fm: FakeModel) -> object:
        writer = fm.agent("writer", reply=lambda p: f"draft of {p[:15]}", latency=4.0)
        critic = fm.agent("critic", replies=["1. tighten intro", "APPROVED"], latency=1.0)
        return await run_supervisor(writer, critic, "write a post", max_revisions=3, deadline=120)

    return scenario


def _write_snapshot(path: Path, scenario: Scenario, *, name: str = "") -> Path:
    """Run ``scenario`` under a Recording and write its normalized document to ``path``."""
    recording = Recording(name or path.stem, export_dir=path.parent / "_exports")
    fm = FakeModel()
    with recording.activate():
        run(scenario(fm))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dumps(normalize(recording)))
    return path


@pytest.fixture
def pipeline_snapshot(tmp_path: Path) -> Path:
    return _write_snapshot(tmp_path / "a" / "test_pipeline.json", _pipeline())


def _assert_one_line_error(err: str, *fragments: str) -> None:
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err


# -- help ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["update", "diff", "show", "accept"])
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: agentrig {command}")
    assert "examples:" in out
    assert f"agentrig {command}" in out.split("examples:")[1]
    assert max(len(line) for line in out.splitlines()) <= 100


def test_top_level_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("update", "diff", "show", "accept"):
        assert command in out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: agentrig" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'frobnicate'" in err
    assert "Traceback" not in err


def test_console_script_and_python_dash_m_run_main() -> None:
    script = shutil.which("agentrig", path=str(Path(sys.executable).parent))
    assert script is not None, "the agentrig console script is not installed in this venv"
    done = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "usage: agentrig" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "agentrig", "show", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "usage: agentrig show" in done.stdout


# -- diff ---------------------------------------------------------------------------------------


def test_diff_of_equivalent_snapshots_exits_0(
    pipeline_snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    again = _write_snapshot(tmp_path / "b" / "test_pipeline.json", _pipeline())
    assert main(["diff", str(pipeline_snapshot), str(again)]) == 0
    assert "no drift" in capsys.readouterr().out


def test_diff_of_drifted_snapshots_exits_1_and_lists_every_change(
    pipeline_snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drifted = _write_snapshot(
        tmp_path / "b" / "test_pipeline.json", _pipeline(draft_reply="a different report")
    )
    assert main(["diff", str(pipeline_snapshot), str(drifted), "--color", "never"]) == 1
    out = capsys.readouterr().out
    assert (
        "[text] invoke_workflow pipeline › invoke_agent draft › chat fake-model · agentrig.reply"
        in out
    )
    assert "'a different report'" in out
    # The review stage got the new draft as its prompt: folded under the reply, counted...
    assert "+21 consequences: prompts 1, tokens 9, cost 11" in out
    assert "invoke_agent review › chat fake-model · agentrig.prompt" not in out
    assert "\x1b[" not in out
    # ... and listed with -vv: every leaf change, not just the first.
    assert main(["diff", str(pipeline_snapshot), str(drifted), "--color", "never", "-vv"]) == 1
    out = capsys.readouterr().out
    assert (
        "↳ [text] invoke_workflow pipeline › invoke_agent review › chat fake-model"
        " · agentrig.prompt" in out
    )


def test_diff_json_is_machine_readable(
    pipeline_snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drifted = _write_snapshot(
        tmp_path / "b" / "test_pipeline.json", _pipeline(draft_reply="a different report")
    )
    assert main(["diff", str(pipeline_snapshot), str(drifted), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["drift"] is True
    (entry,) = doc["files"]
    assert entry["status"] == "drift"
    assert entry["report"]["failed"] is True
    assert entry["report"]["counts"]["text"] >= 1
    assert {c["class"] for c in entry["report"]["changes"]} <= {"text", "usage-cost"}


def test_diff_fail_on_turns_other_classes_into_info(
    pipeline_snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drifted = _write_snapshot(
        tmp_path / "b" / "test_pipeline.json", _pipeline(draft_reply="a different report")
    )
    argv = ["diff", str(pipeline_snapshot), str(drifted), "--fail-on", "structure,decision"]
    assert main(argv) == 0
    assert "(info: text is not in fail_on)" in capsys.readouterr().out


def test_diff_of_folders_matches_by_relative_path_and_lists_added_and_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _write_snapshot(a / "tests" / "test_app" / "test_pipeline.json", _pipeline())
    _write_snapshot(a / "tests" / "test_app" / "test_supervisor.json", _supervisor())
    _write_snapshot(a / "tests" / "test_old" / "test_gone.json", _supervisor())
    _write_snapshot(b / "tests" / "test_app" / "test_pipeline.json", _pipeline("changed"))
    _write_snapshot(b / "tests" / "test_app" / "test_supervisor.json", _supervisor())
    _write_snapshot(b / "tests" / "test_new" / "test_broadcast.json", _broadcast())

    assert main(["diff", str(a), str(b), "--color", "never"]) == 1
    out = capsys.readouterr().out
    assert "drift     tests/test_app/test_pipeline.json" in out
    assert "added     tests/test_new/test_broadcast.json" in out
    assert "removed   tests/test_old/test_gone.json" in out
    assert "test_supervisor" not in out  # unchanged snapshots are not listed
    assert "4 snapshots: 1 drifted, 1 added, 1 removed, 0 tolerated, 1 unchanged" in out


def test_diff_of_folders_reads_received_files_as_their_snapshots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshots, artifacts = tmp_path / "snapshots", tmp_path / "artifacts"
    _write_snapshot(snapshots / "t" / "test_pipeline.json", _pipeline())
    _write_snapshot(snapshots / "t" / "test_pipeline.received.json", _pipeline("stale"))
    _write_snapshot(artifacts / "t" / "test_pipeline.received.json", _pipeline())
    assert main(["diff", str(snapshots), str(artifacts)]) == 0
    assert "no drift: 1 snapshot" in capsys.readouterr().out


def test_diff_of_identical_folders_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for side in ("a", "b"):
        _write_snapshot(tmp_path / side / "x" / "test_broadcast.json", _broadcast())
    assert main(["diff", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert "no drift" in capsys.readouterr().out


def _not_json(path: Path) -> None:
    path.write_text('{"agentrig": {"format": 1}, "timeline": [', encoding="utf-8")


def _other_version(path: Path) -> None:
    doc = loads(path.read_bytes())
    doc["agentrig"]["format"] = FORMAT_VERSION + 1
    path.write_bytes(dumps(doc))


def _not_a_snapshot(path: Path) -> None:
    path.write_text('{"hello": "world"}\n', encoding="utf-8")


@pytest.mark.parametrize(
    ("spoil", "fragments"),
    [
        (lambda p: p.unlink(), ["no such file or folder", "test_pipeline.json"]),
        (_not_json, ["is not valid JSON"]),
        (_other_version, [f"snapshot format {FORMAT_VERSION + 1}", "agentrig update"]),
        (_not_a_snapshot, ["is not an agentrig snapshot"]),
    ],
    ids=["missing", "not-json", "other-format-version", "not-a-snapshot"],
)
def test_diff_of_unusable_input_exits_2_with_one_line_and_no_traceback(
    spoil: Callable[[Path], None],
    fragments: list[str],
    pipeline_snapshot: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = _write_snapshot(tmp_path / "b" / "test_pipeline.json", _pipeline())
    spoil(pipeline_snapshot)
    assert main(["diff", str(pipeline_snapshot), str(good)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    _assert_one_line_error(captured.err, "agentrig diff: error:", *fragments)


def test_diff_of_a_folder_and_a_file_exits_2(
    pipeline_snapshot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diff", str(pipeline_snapshot.parent), str(pipeline_snapshot)]) == 2
    _assert_one_line_error(capsys.readouterr().err, "is a folder but", "is a file")


def test_diff_with_a_bad_tolerance_exits_2(
    pipeline_snapshot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["diff", str(pipeline_snapshot), str(pipeline_snapshot), "--fail-on", "vibes"]
    assert main(argv) == 2
    _assert_one_line_error(capsys.readouterr().err, "'vibes'", "structure")


def test_diff_with_an_unreadable_file_in_a_folder_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_snapshot(tmp_path / "a" / "test_pipeline.json", _pipeline())
    _write_snapshot(tmp_path / "b" / "test_pipeline.json", _pipeline())
    _not_json(tmp_path / "b" / "test_extra.json")
    assert main(["diff", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    _assert_one_line_error(capsys.readouterr().err, "test_extra.json is not valid JSON")


# -- show ---------------------------------------------------------------------------------------


def _show(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    # at a 100-column width (piped, the default is no limit: tests/test_cli_pipes.py)
    assert main(["show", str(path), "--width", "100"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100
    return out


def test_show_pipeline_renders_the_tree_calls_decisions_and_budget(
    pipeline_snapshot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _show(pipeline_snapshot, capsys)
    lines = out.splitlines()
    assert lines[0] == "agentrig snapshot  test_pipeline"
    assert "run: 6.000 s virtual" in out
    # The span tree, with virtual start and duration, stages in time order.
    research = next(i for i, line in enumerate(lines) if line.endswith("├─ invoke_agent research"))
    draft = next(i for i, line in enumerate(lines) if line.endswith("├─ invoke_agent draft"))
    assert research < draft
    assert lines[draft].split()[:2] == ["2.000", "3.000"]
    # A model call: agent, model, tokens, cost and the reply.
    call = next(line for line in lines if "chat fake-model  draft" in line)
    assert "draft  5→5 tok  $0.0000" in call
    assert '→ "report on' in call  # the reply, cut to fit 100 columns
    # Decisions interleaved inside their stage, after the call that led to them.
    decision = next(i for i, line in enumerate(lines) if "◆ stage_complete  stage=draft" in line)
    assert (
        draft
        < decision
        < next(i for i, line in enumerate(lines) if "├─ invoke_agent review" in line)
    )
    # The tables.
    assert "Model calls (3)" in out
    budget = out.split("Budget by stage")[1].splitlines()
    assert any(row.split()[:3] == ["pool", "research", "$0.04"] for row in budget)
    assert any(row.split()[:2] == ["total", "$0.10"] for row in budget)


def test_show_broadcast_marks_the_failed_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_snapshot(tmp_path / "test_broadcast.json", _broadcast())
    out = _show(path, capsys)
    assert "├─ invoke_agent web  ✗ TimeoutError: search timed out" in out
    assert "◆ agent_failed" in out
    assert "Model calls (4)" in out
    for agent in ("forums", "papers", "web", "synth"):
        assert f"$ acquire {agent}" in out
    assert "1 failed span" in out or "2 failed spans" in out


def test_show_names_a_span_by_the_same_actor_as_drift_an_empty_agent_is_no_agent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One rule for "who is acting in this span" (agentrig.document.span_actor): an empty
    # ``agent`` attribute does not hide the stage behind it.
    raw = {
        "name": "t",
        "spans": [
            {
                "span_id": 1,
                "name": "step",
                "start": 0.0,
                "end": 1.0,
                "status": "ok",
                "attributes": {"agent": "", "stage": "draft"},
            },
        ],
        "entries": [],
    }
    path = tmp_path / "t.json"
    path.write_bytes(dumps(normalize(raw)))
    out = _show(path, capsys)
    assert "step  [draft]" in out
    assert "[]" not in out


def test_show_supervisor_shows_each_round(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_snapshot(tmp_path / "test_supervisor.json", _supervisor())
    out = _show(path, capsys)
    assert out.count("chat fake-model  writer") == 2
    assert out.count("chat fake-model  critic") == 2
    assert "◆ draft_reviewed  approved=false" in out
    assert "◆ supervisor_finished  outcome=approved" in out
    assert "(no budget activity recorded)" in out


def test_show_fits_a_narrower_terminal_when_asked(
    pipeline_snapshot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(pipeline_snapshot), "--width", "60"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 60
    assert "…" in out


def test_show_json_passes_the_normalized_document_through(
    pipeline_snapshot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(pipeline_snapshot), "--json"]) == 0
    assert capsys.readouterr().out.encode("utf-8") == pipeline_snapshot.read_bytes()


@pytest.mark.parametrize(
    ("spoil", "fragment"),
    [
        (lambda p: p.unlink(), "no such file"),
        (_not_json, "is not valid JSON"),
        (_other_version, f"snapshot format {FORMAT_VERSION + 1}"),
    ],
    ids=["missing", "not-json", "other-format-version"],
)
def test_show_of_unusable_input_exits_2(
    spoil: Callable[[Path], None],
    fragment: str,
    pipeline_snapshot: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spoil(pipeline_snapshot)
    assert main(["show", str(pipeline_snapshot)]) == 2
    _assert_one_line_error(capsys.readouterr().err, "agentrig show: error:", fragment)


def test_show_of_a_folder_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(tmp_path)]) == 2
    _assert_one_line_error(capsys.readouterr().err, "is a folder, not a snapshot file")


# -- accept (files from a real pytest run) --------------------------------------------------------

_APP_TEST = """
from pathlib import Path

from agentrig.patterns import run_pipeline

REPLY = Path(__file__).with_name("reply.txt")


async def test_pipeline(fake_model, budget_pool, agent_recording, agent_snapshot):
    research = fake_model.agent("research", reply=REPLY.read_text().strip(), latency=2.0)
    draft = fake_model.agent("draft", reply=lambda p: f"report on {p}", latency=3.0)
    pool = budget_pool(usd=0.10)
    await run_pipeline([("research", research, 0.04), ("draft", draft, 0.04)], "X", pool=pool)
    assert agent_recording == agent_snapshot


def test_without_snapshot():
    # agentrig update does not run this (it takes no agent_snapshot).
    assert not Path(__file__).with_name("broken").exists()
"""

_PYPROJECT = """
[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
"""


# hypothesis's pytest plugin costs seconds per session when pytester re-imports it.
_QUICK = ("-p", "no:hypothesispytest")
# A module name no other test suite of this repository uses (pytester runs in-process).
_APP = "test_agentrig_cli_app"
SNAPSHOT = Path(f"snapshots/tests/{_APP}/test_pipeline.json")
RECEIVED = Path(f"snapshots/tests/{_APP}/test_pipeline.received.json")


def _pytest(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*_QUICK, *args)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project whose one snapshot test has been recorded, then drifted (reply changed)."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    pytester.makepyprojecttoml(_PYPROJECT)
    tests = pytester.mkdir("tests")
    (tests / f"{_APP}.py").write_text(textwrap.dedent(_APP_TEST), encoding="utf-8")
    (tests / "reply.txt").write_text("notes about batteries\n", encoding="utf-8")
    _pytest(pytester, "--snapshot-update").assert_outcomes(passed=2)
    assert SNAPSHOT.is_file()
    (tests / "reply.txt").write_text("notes about recycling\n", encoding="utf-8")
    _pytest(pytester).assert_outcomes(passed=1, failed=1)
    assert RECEIVED.is_file()
    return pytester


def test_accept_dry_run_lists_the_files_and_moves_nothing(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    before = SNAPSHOT.read_bytes()
    assert main(["accept", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would accept  {SNAPSHOT.as_posix()}" in out
    assert "text" in out
    assert "nothing moved" in out
    assert SNAPSHOT.read_bytes() == before
    assert RECEIVED.exists()


def test_accept_promotes_received_files_and_the_suite_passes_again(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    stamped = loads(RECEIVED.read_bytes())
    assert main(["accept"]) == 0
    out = capsys.readouterr().out
    assert f"accepted  {SNAPSHOT.as_posix()}" in out
    assert "accepted 1 snapshot" in out
    # the snapshot is the received document without its run stamp
    del stamped["received"]
    assert SNAPSHOT.read_bytes() == dumps(stamped)
    assert not RECEIVED.exists()
    _pytest(project).assert_outcomes(passed=2)
    assert main(["accept"]) == 0
    assert "nothing to accept" in capsys.readouterr().out


def test_accept_takes_a_snapshot_path_and_finds_its_received_file(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["accept", str(SNAPSHOT)]) == 0
    assert f"accepted  {SNAPSHOT.as_posix()}" in capsys.readouterr().out
    assert not RECEIVED.exists()


def test_accept_checks_every_file_before_moving_any(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = Path("snapshots/tests/test_zzz/test_bad.received.json")
    bad.parent.mkdir(parents=True)
    bad.write_text("not json", encoding="utf-8")
    before = SNAPSHOT.read_bytes()
    assert main(["accept"]) == 2
    _assert_one_line_error(capsys.readouterr().err, "agentrig accept: error:", "test_bad")
    assert SNAPSHOT.read_bytes() == before
    assert RECEIVED.exists()


def test_accept_of_a_missing_path_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["accept", str(tmp_path / "nope")]) == 2
    _assert_one_line_error(capsys.readouterr().err, "no such file or folder")


def test_accept_finds_the_snapshot_folder_from_the_ini(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nagentrig_snapshot_dir = golden\n")
    received = _write_snapshot(tmp_path / "golden" / "t" / "test_x.received.json", _supervisor())
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    # written by hand, so without a run stamp: stale unless asked for
    assert main(["accept"]) == 1
    assert "it carries no run stamp" in capsys.readouterr().out
    assert main(["accept", "--stale"]) == 0
    assert "new snapshot" in capsys.readouterr().out
    assert (tmp_path / "golden" / "t" / "test_x.json").exists()
    assert not received.exists()


# -- update (a real pytest run in a subprocess) -------------------------------------------------


def test_update_after_an_injected_drift_rerecords_and_prints_the_change(
    project: pytest.Pytester, capfd: pytest.CaptureFixture[str]
) -> None:
    # The test without a snapshot would fail now; update runs only the snapshot tests.
    Path("tests/broken").write_text("", encoding="utf-8")
    status = main(["update", "--color", "never", *_QUICK])
    out = capfd.readouterr().out
    assert status == 0, out
    assert "--snapshot-update" in out
    assert "1 deselected" in out
    assert f"updated   {SNAPSHOT.relative_to('snapshots').as_posix()}" in out
    assert (
        "[text] invoke_workflow pipeline › invoke_agent research › chat fake-model"
        " · agentrig.reply:" in out
    )
    assert "'notes about batteries' → 'notes about recycling'" in out
    assert "total: 1 updated, 0 created, 0 deleted, 0 unchanged" in out
    assert not RECEIVED.exists()
    Path("tests/broken").unlink()
    _pytest(project).assert_outcomes(passed=2)


def test_update_exits_with_pytests_status(
    project: pytest.Pytester, capfd: pytest.CaptureFixture[str]
) -> None:
    Path("tests/broken").write_text("", encoding="utf-8")
    # A path argument selects the tests itself: the failing test runs too.
    assert main(["update", f"tests/{_APP}.py", "-q", *_QUICK]) == 1
    out = capfd.readouterr().out
    assert "1 failed, 1 passed" in out
    assert "total: 1 updated" in out


# -- GitHub annotations ---------------------------------------------------------------------------


def test_github_annotation_escapes_as_githubs_toolkit_does() -> None:
    line = github_annotation(
        "tests/test_app.py",
        12,
        "agentrig drift: test_pipeline[a,b]",
        "2 changes: 100% text\r\n[text] pipeline › draft",
    )
    assert line == (
        "::error file=tests/test_app.py,line=12,title=agentrig drift%3A test_pipeline[a%2Cb]"
        "::2 changes: 100%25 text%0D%0A[text] pipeline › draft"
    )


def test_github_annotation_relative_to_root_and_levels(tmp_path: Path) -> None:
    path = tmp_path / "tests" / "test_app.py"
    line = github_annotation(path, None, "", "m", level="warning", root=tmp_path)
    assert line == "::warning file=tests/test_app.py::m"
    with pytest.raises(ValueError, match="`level` must be one of error, warning, notice"):
        github_annotation("x.py", 1, "t", "m", level="fatal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`line` must be 1 or more"):
        github_annotation("x.py", 0, "t", "m")


def test_main_reads_sys_argv_by_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["agentrig", "--version"])
    assert main() == 0
    assert capsys.readouterr().out.startswith("agentrig ")
    assert os.environ.get("AGENTRIG_UPDATE_ONLY_SNAPSHOT_TESTS") is None
