"""The pytest side of ``agentrig update``: what its environment variables do to a session."""

from __future__ import annotations

import pytest
from agentrig_project import Project

from agentrig.plugin.update import RESTRICT_ENV

_TESTS = """
def test_plain():
    pass

def test_snapshot(agent_recording, agent_snapshot):
    assert agent_recording == agent_snapshot

def test_recording_only(agent_recording):
    pass
"""


def test_the_restrict_variable_keeps_only_the_tests_that_take_agent_snapshot(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("tests/test_mixed.py", _TESTS)
    monkeypatch.setenv(RESTRICT_ENV, "1")

    result = project.run("--snapshot-update", "-v")

    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(["*test_snapshot PASSED*"])


@pytest.mark.parametrize("value", [None, "0", ""])
def test_without_the_variable_nothing_is_deselected(
    project: Project, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    project.write("tests/test_mixed.py", _TESTS)
    if value is None:
        monkeypatch.delenv(RESTRICT_ENV, raising=False)
    else:
        monkeypatch.setenv(RESTRICT_ENV, value)

    result = project.run("--snapshot-update")

    result.assert_outcomes(passed=3)
