"""Which tests are agentrig tests: agentrig's own fixture definitions or its marker, not names."""

from __future__ import annotations

import pytest
from agentrig_project import Project

_CONFTEST = """
import pytest
from agentrig.plugin import is_agentrig_test, requests_fixture

@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    for item in items:
        print(f"USAGE {item.name} agentrig={is_agentrig_test(item)} "
              f"fake_model={requests_fixture(item, 'fake_model')}")
"""


def _usage(result: pytest.RunResult) -> dict[str, tuple[str, str]]:
    found = {}
    for line in result.outlines:
        if line.startswith("USAGE "):
            _, name, agentrig, fake = line.split()
            found[name] = (agentrig.split("=")[1], fake.split("=")[1])
    return found


def test_agentrig_tests_are_recognised_by_definition_not_by_fixture_name(project: Project) -> None:
    project.write("tests/conftest.py", _CONFTEST)
    project.write(
        "tests/test_names.py",
        """
import pytest

@pytest.fixture
def tracer():
    return "the project's own tracer"

def test_own_tracer(tracer):
    assert tracer == "the project's own tracer"

def test_agentrig_fake(fake_model):
    pass

def test_through_agent_recording(agent_recording):
    pass

@pytest.mark.agentrig
def test_marked():
    pass

def test_plain():
    pass
""",
    )
    project.write(
        "tests/sub/conftest.py",
        """
import pytest
from agentrig import FakeModel

@pytest.fixture
def fake_model():  # replaces agentrig's fixture without building on it
    return FakeModel(strict=True)

@pytest.fixture
def deadline(deadline):  # builds on agentrig's fixture
    return deadline
""",
    )
    project.write(
        "tests/sub/test_overrides.py",
        """
def test_replaced_fake_model(fake_model):
    pass

def test_extended_deadline(deadline):
    pass
""",
    )

    result = project.run("-s")

    result.assert_outcomes(passed=7)
    assert _usage(result) == {
        "test_own_tracer": ("False", "False"),
        "test_agentrig_fake": ("True", "True"),
        "test_through_agent_recording": ("True", "False"),
        "test_marked": ("True", "False"),
        "test_plain": ("False", "False"),
        "test_replaced_fake_model": ("False", "False"),
        "test_extended_deadline": ("True", "False"),
    }


def test_a_project_tracer_fixture_gets_no_recording_and_no_virtual_loop(project: Project) -> None:
    project.write(
        "tests/test_tracer.py",
        """
import asyncio
import pytest

@pytest.fixture
def tracer(request):
    return request.node

async def test_real_time(tracer):
    assert type(asyncio.get_running_loop()).__name__ != "VirtualEventLoop"
    from agentrig.recording import active_recording
    assert active_recording() is None
""",
    )

    project.run().assert_outcomes(passed=1)
