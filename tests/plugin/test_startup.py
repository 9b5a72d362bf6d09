"""The plugin is loaded by every pytest session of an environment: it must stay cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest
from agentrig_project import Project


def test_importing_the_plugin_imports_no_snapshot_machinery_or_pydantic() -> None:
    code = (
        "import sys, agentrig.plugin\n"
        "heavy = ['agentrig.snapshot', 'pydantic', 'syrupy', 'pytest_asyncio']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_a_session_without_agentrig_tests_never_loads_the_snapshot_machinery(
    project: Project,
) -> None:
    project.write(
        "conftest.py",
        """
import sys

def pytest_unconfigure(config):
    print("LOADED:", "agentrig.snapshot" in sys.modules, "pydantic" in sys.modules)
""",
    )
    project.write(
        "tests/test_plain.py", "async def test_a():\n    pass\n\ndef test_b():\n    pass\n"
    )

    result = project.run_subprocess("-s")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["LOADED: False False"])


@pytest.mark.parametrize("plugin_args", [[], ["-p", "no:xdist"]])
def test_the_session_works_without_optional_plugins(
    project: Project, plugin_args: list[str]
) -> None:
    project.write_app()

    result = project.run("--snapshot-update", *plugin_args)

    result.assert_outcomes(passed=5)


def test_agent_snapshot_without_syrupys_plugin_fails_with_a_clear_message(
    project: Project,
) -> None:
    project.write_app()

    result = project.run("-p", "no:syrupy", "tests/test_app.py::test_sync")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*agent_snapshot needs syrupy's pytest plugin*-p no:syrupy*"])
