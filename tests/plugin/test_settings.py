"""The plugin's settings are listed once: what pytest sees is what agentrig.plugin says."""

from __future__ import annotations

import re

import pytest
from agentrig_project import Project

from agentrig.plugin import AGENTRIG_FIXTURES, MARKER_ARGUMENTS
from agentrig.plugin.settings import MARKER_HELP, known_ini_keys


def test_every_agentrig_ini_key_pytest_knows_is_a_known_key(project: Project) -> None:
    result = project.run("--help")

    shown = set(re.findall(r"^  (agentrig_\w+) ", result.stdout.str(), flags=re.M))
    assert shown == set(known_ini_keys())


def test_the_fixtures_agentrig_defines_are_the_listed_ones(project: Project) -> None:
    result = project.run("--fixtures", "-v")

    defined = set(
        re.findall(r"^(\w+) -- .*agentrig/plugin/\w+\.py:\d+$", result.stdout.str(), flags=re.M)
    )
    assert defined == AGENTRIG_FIXTURES


def test_the_marker_help_names_every_marker_argument(project: Project) -> None:
    result = project.run("--markers")

    result.stdout.fnmatch_lines([f"@pytest.mark.{MARKER_HELP[:60]}*"])
    signature = MARKER_HELP.partition("): ")[0]
    assert re.findall(r"(\w+)=", signature) == list(MARKER_ARGUMENTS)


@pytest.mark.parametrize("typo", ["agentrig_secret_pattern", "agentrig_stall_timout"])
def test_a_misspelt_ini_key_stops_the_session_naming_the_closest_key(
    project: Project, typo: str
) -> None:
    project.write("pytest.ini", f"[pytest]\n{typo} = x\n")
    project.write("tests/test_plain.py", "def test_a():\n    pass\n")

    result = project.run()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*unknown agentrig ini option: {typo} (did you mean agentrig_*"])
