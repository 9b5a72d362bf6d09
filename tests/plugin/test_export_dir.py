"""An agentrig test's export folder exists only when something exports (issue 20)."""

from __future__ import annotations

from pathlib import Path

from agentrig_project import Project

from agentrig import DecisionLog, Recording

_TESTS = """
from agentrig import DecisionLog

def test_quiet(agent_recording):
    agent_recording.name  # records nothing to a file

def test_exporting(agent_recording):
    DecisionLog(path="decisions.jsonl").record(decision="go")
    print("EXPORT_DIR", agent_recording.export_dir)
"""


def test_only_a_test_that_exports_gets_a_temporary_folder(project: Project) -> None:
    project.write("tests/test_export_folders.py", _TESTS)
    basetemp = project.path / "basetemp"

    result = project.run("-s", f"--basetemp={basetemp}")

    result.assert_outcomes(passed=2)
    exported = sorted(p.relative_to(basetemp).as_posix() for p in basetemp.rglob("*.jsonl"))
    assert exported == ["test_exporting0/agentrig/decisions.jsonl"]
    assert sorted(p.name for p in basetemp.iterdir() if not p.is_symlink()) == ["test_exporting0"]
    result.stdout.fnmatch_lines([f"*EXPORT_DIR {basetemp / 'test_exporting0' / 'agentrig'}"])


def test_a_test_that_takes_tmp_path_finds_the_exports_in_it(project: Project) -> None:
    project.write(
        "tests/test_export_folders.py",
        """
from agentrig import DecisionLog

def test_exporting(agent_recording, tmp_path):
    assert agent_recording.export_dir == tmp_path / "agentrig"
    DecisionLog(path="d.jsonl").record(decision="go")
    assert (tmp_path / "agentrig" / "d.jsonl").is_file()
""",
    )

    project.run().assert_outcomes(passed=1)


def test_a_recordings_export_folder_factory_runs_once_at_the_first_export(tmp_path: Path) -> None:
    calls: list[int] = []

    def make() -> Path:
        calls.append(1)
        return tmp_path / "exports"

    recording = Recording("t", export_dir=make)
    assert "made at the first export" in repr(recording)
    assert calls == []
    with recording.activate():
        log = DecisionLog(path="d.jsonl")
        log.record(decision="a")
        log.record(decision="b")
        log.close()
    assert calls == [1]
    assert len((tmp_path / "exports" / "d.jsonl").read_text().splitlines()) == 2
    assert recording.export_dir == tmp_path / "exports"


def test_the_export_folder_comes_from_the_sessions_tmp_path_factory(project: Project) -> None:
    # The recording takes the factory from the session (not through the fixture): the same
    # object a test requesting ``tmp_path_factory`` gets, honouring --basetemp.
    project.write(
        "tests/test_factory.py",
        """
from agentrig import DecisionLog

def test_same_factory(agent_recording, tmp_path_factory):
    DecisionLog(path="d.jsonl").record(decision="go")
    base = tmp_path_factory.getbasetemp()
    assert agent_recording.export_dir.parent.parent == base
    assert (agent_recording.export_dir / "d.jsonl").is_file()
""",
    )
    basetemp = project.path / "bt"
    project.run(f"--basetemp={basetemp}").assert_outcomes(passed=1)


def test_without_pytests_tmpdir_plugin_an_agentrig_test_errors_naming_the_fixture(
    project: Project,
) -> None:
    project.write("tests/test_export_folders.py", _TESTS)
    result = project.run("-p", "no:tmpdir")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*fixture 'tmp_path_factory' not found*"])
