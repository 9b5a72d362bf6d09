"""``--agentrig-otlp=DIR``: one OTLP/JSON file per agentrig test, the normalized run."""

from __future__ import annotations

import json

import pytest
from agentrig_project import Project
from otlp_check import parse


def test_each_agentrig_test_writes_one_otlp_file(project: Project) -> None:
    project.write_app()
    project.write(
        "tests/test_plain.py",
        "def test_plain():\n    pass\n",
    )
    out = project.pytester.path / "otlp"
    project.run("--snapshot-update", f"--agentrig-otlp={out}").assert_outcomes(passed=6)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json"))
    assert files == [
        "tests/test_app.py/test_agents[alpha].otlp.json",
        "tests/test_app.py/test_agents[beta].otlp.json",
        "tests/test_app.py/test_agents[gamma].otlp.json",
        "tests/test_app.py/test_pipeline.otlp.json",
        "tests/test_app.py/test_sync.otlp.json",
    ]
    pipeline = (out / "tests/test_app.py/test_pipeline.otlp.json").read_bytes()
    message = parse(pipeline)
    names = {s.name for rs in message.resource_spans for ss in rs.scope_spans for s in ss.spans}
    assert {"tests/test_app.py::test_pipeline", "pipeline", "chat fake-model"} <= names
    # the export is the normalized run: the same bytes on the next run
    project.run(f"--agentrig-otlp={out}").assert_outcomes(passed=6)
    assert (out / "tests/test_app.py/test_pipeline.otlp.json").read_bytes() == pipeline
    assert json.loads(pipeline)["resourceSpans"][0]["schemaUrl"].startswith("https://")


def test_an_otlp_path_that_is_a_file_is_a_usage_error(project: Project) -> None:
    project.write_app()
    (project.pytester.path / "otlp").write_text("not a folder", encoding="utf-8")
    result = project.run("--agentrig-otlp=otlp")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--agentrig-otlp=otlp: that is a file, not a folder*"])
