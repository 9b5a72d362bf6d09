"""The session summary, the JSON report, and both under pytest-xdist."""

from __future__ import annotations

import json
from typing import Any

import pytest
from agentrig_project import Project

DRIFTERS = """
import pytest

TEXT = {text!r}

async def test_text(fake_model, agent_recording, agent_snapshot):
    await fake_model.agent("writer", reply=TEXT).run("write")
    assert agent_recording == agent_snapshot

async def test_timing(fake_model, agent_recording, agent_snapshot):
    await fake_model.agent("slow", reply="done", latency={latency}).run("go")
    assert agent_recording == agent_snapshot

@pytest.mark.parametrize("n", range(6))
async def test_stable(fake_model, agent_recording, agent_snapshot, n):
    await fake_model.agent("steady", reply=f"answer {{n}}").run("q")
    assert agent_recording == agent_snapshot
"""


def _drifted(project: Project) -> None:
    project.write("tests/test_drifters.py", DRIFTERS.format(text="first draft", latency=1.0))
    project.run("--snapshot-update").assert_outcomes(passed=8)
    project.write("tests/test_drifters.py", DRIFTERS.format(text="other draft", latency=2.25))


def test_terminal_summary_lists_drifted_tests_with_classes_and_counts(project: Project) -> None:
    _drifted(project)

    result = project.run()

    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*- agentrig drift summary -*",
            "DRIFT     tests/test_drifters.py::test_text"
            "  snapshots/tests/test_drifters/test_text.json  roots: text 1 (failing: text)",
            "DRIFT     tests/test_drifters.py::test_timing"
            "  snapshots/tests/test_drifters/test_timing.json  roots: timing * (failing: timing)",
            "agentrig: 2 drift",
        ]
    )


def test_no_summary_when_nothing_drifted(recorded: Project) -> None:
    result = recorded.run()

    assert "agentrig drift summary" not in result.stdout.str()


def _report(project: Project, path: str = "reports/agentrig.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((project.path / path).read_text(encoding="utf-8"))
    return data


def test_json_report_lists_drifted_tests_for_ci(project: Project) -> None:
    _drifted(project)

    project.run("--agentrig-report=reports/agentrig.json").assert_outcomes(passed=6, failed=2)

    report = _report(project)
    assert report["agentrig_report"] == 1
    assert report["summary"]["tests"] == 8
    assert report["summary"]["drift"] == 2
    assert report["summary"]["classes"]["text"] == 1
    assert [t["nodeid"] for t in report["tests"]] == [
        "tests/test_drifters.py::test_text",
        "tests/test_drifters.py::test_timing",
    ]
    text = report["tests"][0]
    assert text["outcome"] == "failed"
    assert (text["path"], text["line"]) == ("tests/test_drifters.py", 6)
    (snap,) = text["snapshots"]
    assert snap["status"] == "drift"
    assert snap["snapshot"] == "snapshots/tests/test_drifters/test_text.json"
    assert snap["received"] == "snapshots/tests/test_drifters/test_text.received.json"
    assert snap["counts"] == {"text": 1}
    (change,) = snap["changes"]
    assert change["class"] == "text"
    assert change["expected"] == "first draft"
    assert change["received"] == "other draft"
    assert text["spend"]["tokens"] > 0


def test_json_report_is_written_even_when_nothing_drifted(recorded: Project) -> None:
    recorded.run("--agentrig-report", "out.json").assert_outcomes(passed=5)

    report = _report(recorded, "out.json")
    assert report["tests"] == []
    assert report["summary"]["tests"] == 5
    assert report["summary"]["drift"] == 0


def test_summary_and_json_report_merge_xdist_workers(project: Project) -> None:
    _drifted(project)
    single = project.run("--agentrig-report=single.json")
    single.assert_outcomes(passed=6, failed=2)

    result = project.run("-n", "2", "--agentrig-report=xdist.json")

    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*- agentrig drift summary -*",
            "DRIFT     tests/test_drifters.py::test_text  *",
            "DRIFT     tests/test_drifters.py::test_timing  *",
            "agentrig: 2 drift",
        ]
    )
    assert _report(project, "xdist.json") == _report(project, "single.json")


def test_xdist_records_updates_and_detects_unused_snapshots(project: Project) -> None:
    _drifted(project)
    project.run("-n", "2", "--snapshot-update").assert_outcomes(passed=8)
    project.run("-n", "2").assert_outcomes(passed=8)
    text = project.snapshot("tests/test_drifters/test_text.json").read_text()
    assert "other draft" in text

    source = (project.path / "tests" / "test_drifters.py").read_text()
    project.write("tests/test_drifters.py", source.replace("range(6)", "range(4)"))
    result = project.run("-n", "2")

    result.assert_outcomes(passed=6)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*2 snapshots unused*"])
    project.run("-n", "2", "--snapshot-update").assert_outcomes(passed=6)
    assert not project.snapshot("tests/test_drifters/test_stable[4].json").exists()
    assert project.run("-n", "2").ret == 0


def test_github_actions_gets_an_annotation_on_each_drifted_tests_line(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    _drifted(project)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(project.path))

    result = project.run()

    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines(
        [
            "::error file=tests/test_drifters.py,line=6,title=agentrig drift%3A test_text::"
            "snapshots/tests/test_drifters/test_text.json%0Aagentrig drift: 1 root change*"
            "'first draft' → 'other draft'*",
            "::error file=tests/test_drifters.py,line=10,title=agentrig drift%3A test_timing::*",
        ]
    )


def test_no_annotations_outside_github_actions(project: Project) -> None:
    _drifted(project)

    result = project.run()

    assert "::error" not in result.stdout.str()
