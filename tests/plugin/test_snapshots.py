"""Recording, re-running, drifting and updating snapshots through real pytest sessions."""

from __future__ import annotations

import json

import pytest
from agentrig_project import Project

from agentrig.tracing import SEMCONV_VERSION

EXPECTED_FILES = [
    "tests/test_app/test_agents[alpha].json",
    "tests/test_app/test_agents[beta].json",
    "tests/test_app/test_agents[gamma].json",
    "tests/test_app/test_pipeline.json",
    "tests/test_app/test_sync.json",
]


def test_update_records_one_json_file_per_test_mirroring_the_test_path(project: Project) -> None:
    project.write_app()

    result = project.run("--snapshot-update")

    result.assert_outcomes(passed=5)
    assert sorted(project.snapshot_files()) == EXPECTED_FILES
    doc = json.loads(project.snapshot("tests/test_app/test_pipeline.json").read_text())
    assert doc["agentrig"] == {"format": 1, "semconv": SEMCONV_VERSION}
    assert doc["name"] == "tests/test_app.py::test_pipeline"


def test_snapshot_files_are_sorted_two_space_indented_utf8_with_a_trailing_newline(
    recorded: Project,
) -> None:
    raw = recorded.snapshot("tests/test_app/test_pipeline.json").read_bytes()
    assert raw.endswith(b"}\n") and not raw.endswith(b"\n\n")
    unsorted: list[list[str]] = []

    def check_sorted(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [k for k, _ in pairs]
        if keys != sorted(keys):
            unsorted.append(keys)
        return dict(pairs)

    json.loads(raw.decode("utf-8"), object_pairs_hook=check_sorted)
    assert not unsorted
    indents = {len(line) - len(line.lstrip(b" ")) for line in raw.splitlines()}
    assert all(n % 2 == 0 for n in indents) and 2 in indents


def test_rerun_passes_and_leaves_snapshot_files_byte_identical(recorded: Project) -> None:
    before = recorded.snapshot_files()

    recorded.run().assert_outcomes(passed=5)
    recorded.run("--snapshot-update").assert_outcomes(passed=5)

    assert recorded.snapshot_files() == before


def test_missing_snapshot_fails_with_the_command_that_records_it(project: Project) -> None:
    project.write_app()

    result = project.run("tests/test_app.py::test_pipeline")

    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*agentrig snapshot snapshots/tests/test_app/test_pipeline.json does not exist.",
            "*A missing snapshot never passes; record it with:",
            "*    pytest tests/test_app.py::test_pipeline --snapshot-update",
            "*Received recording written to snapshots/tests/test_app/test_pipeline.received.json",
        ]
    )
    assert not project.snapshot("tests/test_app/test_pipeline.json").exists()
    assert project.snapshot("tests/test_app/test_pipeline.received.json").exists()


def test_drift_fails_with_every_change_its_class_and_place_and_keeps_the_snapshot(
    recorded: Project,
) -> None:
    stored = recorded.snapshot("tests/test_app/test_pipeline.json").read_bytes()
    recorded.write_app(reply="notes about Y, revised")

    result = recorded.run()

    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*The recording drifted from snapshot snapshots/tests/test_app/test_pipeline.json",
            "*agentrig drift: 1 root change (text 1) + 17 consequences; 18 changes, 18 failing",
            "*first divergence: t=0.0 s, pipeline › chat fake-model[[]agent=research]"
            " · agentrig.reply",
            "*[[]text] pipeline › chat fake-model[[]agent=research] · agentrig.reply:"
            " 'notes about X' → 'notes about Y, revised'",
            "*+17 consequences: prompts 1, replies 1, tokens 7, cost 8",
            "*(-vv lists every consequence under its root)",
            "*If the change is intended, re-record with:",
            "*pytest tests/test_app.py::test_pipeline --snapshot-update",
        ]
    )
    # the prompt that quotes the new reply is folded under it; -vv lists every leaf
    assert "agentrig.prompt" not in result.stdout.str()
    verbose = recorded.run("-vv")
    verbose.stdout.fnmatch_lines(
        [
            "*[[]text] pipeline › chat fake-model[[]agent=research] · agentrig.reply:*",
            "*↳ [[]text] pipeline › chat fake-model[[]agent=draft] · agentrig.prompt:*",
        ]
    )
    # syrupy's own one-hunk diff is not what is shown
    assert "[- snapshot]" not in result.stdout.str()
    assert recorded.snapshot("tests/test_app/test_pipeline.json").read_bytes() == stored
    received = recorded.snapshot("tests/test_app/test_pipeline.received.json")
    assert "notes about Y, revised" in received.read_text()


def test_received_file_is_removed_once_the_test_passes_again(recorded: Project) -> None:
    received = recorded.snapshot("tests/test_app/test_pipeline.received.json")
    recorded.write_app(reply="a different reply")
    recorded.run().assert_outcomes(passed=4, failed=1)
    assert received.exists()

    recorded.write_app()
    recorded.run().assert_outcomes(passed=5)

    assert not received.exists()


def test_snapshot_update_rewrites_drifted_snapshots(recorded: Project) -> None:
    recorded.write_app(reply="brand new research notes")

    result = recorded.run("--snapshot-update")

    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*updated*tests/test_app.py::test_pipeline*text*"])
    assert (
        "brand new research notes"
        in recorded.snapshot("tests/test_app/test_pipeline.json").read_text()
    )
    recorded.run().assert_outcomes(passed=5)


def test_named_and_repeated_assertions_get_their_own_files(project: Project) -> None:
    project.write(
        "tests/test_names.py",
        """
async def test_steps(fake_model, agent_recording, agent_snapshot):
    agent = fake_model.agent("a", replies=["one", "two"])
    await agent.run("first")
    assert agent_recording == agent_snapshot(name="after_first")
    await agent.run("second")
    assert agent_recording == agent_snapshot(name="after_second")
    assert agent_recording == agent_snapshot
    assert agent_recording == agent_snapshot
""",
    )

    project.run("--snapshot-update").assert_outcomes(passed=1)

    # syrupy numbers unnamed assertions by their position among all of the test's assertions
    assert sorted(project.snapshot_files()) == [
        "tests/test_names/test_steps.2.json",
        "tests/test_names/test_steps.3.json",
        "tests/test_names/test_steps[after_first].json",
        "tests/test_names/test_steps[after_second].json",
    ]
    first = project.snapshot("tests/test_names/test_steps[after_first].json").read_text()
    assert '"one"' in first and '"two"' not in first
    project.run().assert_outcomes(passed=1)


def test_parametrize_ids_become_safe_unique_file_names_inside_the_module_folder(
    project: Project,
) -> None:
    project.write(
        "tests/test_ids.py",
        """
import pytest

IDS = ["../../escape", "a/b", "a_b", "x" * 300, "tab\\there", "Ünï", "CON", "[x]", "ok-1.5"]

@pytest.mark.parametrize("value", IDS, ids=IDS)
def test_ids(agent_recording, agent_snapshot, value):
    agent_recording.add_entry("note", {"value": value})
    assert agent_recording == agent_snapshot
""",
    )

    result = project.run("--snapshot-update")

    result.assert_outcomes(passed=9)
    files = project.snapshot_files()
    assert len(files) == 9
    folder = project.path / "snapshots" / "tests" / "test_ids"
    for name in files:
        path = project.path / "snapshots" / name
        assert path.parent == folder, name
        assert len(path.name) < 200
        assert not any(ch in path.name for ch in "/\\\x00\t")
    assert "tests/test_ids/test_ids[ok-1.5].json" in files
    assert "tests/test_ids/test_ids[a_b].json" in files  # an id that needed no change
    assert not (project.path / "escape.json").exists()
    project.run().assert_outcomes(passed=9)


def test_corrupt_snapshot_fails_that_test_naming_the_file_never_an_internal_error(
    recorded: Project,
) -> None:
    path = recorded.snapshot("tests/test_app/test_pipeline.json")
    path.write_text('{"agentrig": {"format": 1}, "timeline": [', encoding="utf-8")

    result = recorded.run()

    result.assert_outcomes(passed=4, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*agentrig cannot compare with snapshot snapshots/tests/test_app/test_pipeline.json:",
            "*is not valid JSON*",
            "*Re-record it with:",
            "*pytest tests/test_app.py::test_pipeline --snapshot-update",
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str()

    recorded.run("--snapshot-update").assert_outcomes(passed=5)
    recorded.run().assert_outcomes(passed=5)


def test_snapshot_of_another_format_version_asks_to_re_record(recorded: Project) -> None:
    path = recorded.snapshot("tests/test_app/test_sync.json")
    path.write_text('{"agentrig": {"format": 0}, "name": "x", "timeline": []}\n')

    result = recorded.run("tests/test_app.py::test_sync")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*format 0*older agentrig*re-record*"])


def test_unreadable_snapshot_fails_that_test(recorded: Project) -> None:
    path = recorded.snapshot("tests/test_app/test_sync.json")
    path.unlink()
    path.mkdir()  # a folder where the file should be

    result = recorded.run("tests/test_app.py::test_sync")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*cannot read snapshot snapshots/tests/test_app/test_sync.json*"])
    assert "INTERNALERROR" not in result.stdout.str()


def test_snapshot_folder_comes_from_the_ini(project: Project) -> None:
    project.configure(extra="agentrig_snapshot_dir = golden/agents")
    project.write_app()

    project.run("--snapshot-update").assert_outcomes(passed=5)

    assert sorted(project.snapshot_files("golden/agents")) == EXPECTED_FILES
    assert not (project.path / "snapshots").exists()


def test_secrets_never_reach_a_snapshot_file(project: Project) -> None:
    project.write(
        "tests/test_secret.py",
        """
async def test_leaky(fake_model, agent_recording, agent_snapshot, decision_log):
    key = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0"
    decision_log.record(decision="call", headers={"Authorization": "Bearer abc.def.ghi"})
    await fake_model.agent("a", reply=f"my key is {key}").run(f"use {key}")
    assert agent_recording == agent_snapshot
""",
    )

    project.run("--snapshot-update").assert_outcomes(passed=1)
    project.run("tests/test_secret.py").assert_outcomes(passed=1)

    text = project.snapshot("tests/test_secret/test_leaky.json").read_text()
    assert "A1b2C3d4E5f6G7h8I9j0" not in text
    assert "abc.def.ghi" not in text
    assert "<redacted>" in text


def test_ini_and_marker_rules_drop_and_mask_fields(project: Project) -> None:
    project.configure(extra="agentrig_drop =\n    request_id")
    project.write(
        "tests/test_rules.py",
        """
import pytest

@pytest.mark.agentrig(mask=["session"])
def test_rules(agent_recording, agent_snapshot, decision_log):
    decision_log.record(decision="go", request_id="r-123", session="s-456", keep="yes")
    assert agent_recording == agent_snapshot
""",
    )

    project.run("--snapshot-update").assert_outcomes(passed=1)

    text = project.snapshot("tests/test_rules/test_rules.json").read_text()
    assert "request_id" not in text and "r-123" not in text
    assert '"session": "<masked>"' in text
    assert '"keep": "yes"' in text


def test_tolerated_drift_passes_and_is_still_reported(project: Project) -> None:
    source = """
import pytest

@pytest.mark.agentrig(fail_on="structure,error", tolerance="timing:abs=1")
async def test_tolerant(fake_model, agent_recording, agent_snapshot):
    await fake_model.agent("a", reply={reply!r}, latency={latency}).run("q")
    assert agent_recording == agent_snapshot
"""
    project.write("tests/test_tol.py", source.format(reply="first", latency=1.0))
    project.run("--snapshot-update").assert_outcomes(passed=1)
    project.write("tests/test_tol.py", source.format(reply="second reply", latency=1.5))

    result = project.run()

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*agentrig drift summary*", "tolerated *tests/test_tol.py::test_tolerant*text 1*"]
    )


def test_syrupys_default_snapshot_fixture_keeps_working_beside_agent_snapshot(
    project: Project,
) -> None:
    project.write(
        "tests/test_both.py",
        """
def test_both(agent_recording, agent_snapshot, snapshot):
    assert {"plain": 1} == snapshot
    assert agent_recording == agent_snapshot
""",
    )

    project.run("--snapshot-update").assert_outcomes(passed=1)
    result = project.run()

    result.assert_outcomes(passed=1)
    assert (project.path / "tests" / "__snapshots__" / "test_both.ambr").exists()
    assert project.snapshot("tests/test_both/test_both.json").exists()
    assert result.ret == 0


def test_comparing_something_that_is_not_a_recording_says_what_to_compare(
    project: Project,
) -> None:
    project.write(
        "tests/test_misuse.py",
        """
import pytest

def test_text(agent_recording, agent_snapshot):
    assert "some text" == agent_snapshot

def test_exclude(agent_recording, agent_snapshot):
    with pytest.raises(TypeError, match="accepts only name="):
        agent_snapshot(exclude=lambda **kw: False)
""",
    )

    result = project.run("--snapshot-update")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*TypeError: agent_snapshot compares agentrig recordings:"
            " use `assert agent_recording == agent_snapshot`*"
        ]
    )
    assert not (project.path / "snapshots").exists()
