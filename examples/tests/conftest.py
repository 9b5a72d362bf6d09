"""Fixtures for the triage app's tests: a recording per test and scripted fake agents.

Until agentrig's pytest plugin provides its fixtures (``fake_model``, ``agent_recording``,
...), these do the same by hand: every test runs under its own
:class:`~agentrig.recording.Recording` whose ``export_dir`` is the test's temporary
directory, so the app's module-level decision log and tracer never write into the repo.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support_triage import TriageAgents
from triage_scripts import AgentFactory, build_agents, fake_model_for_triage

from agentrig.fake import FakeModel
from agentrig.recording import Recording


@pytest.fixture
def triage_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Recording]:
    """This test's recording; file exports land in ``tmp_path / "exports"``."""
    monkeypatch.chdir(tmp_path)  # belt and braces: nothing may land in the working tree
    rec = Recording(request.node.nodeid, export_dir=tmp_path / "exports")
    with rec.activate():
        yield rec


@pytest.fixture
def model() -> FakeModel:
    """A strict fake model: a prompt the script does not expect fails the test loudly."""
    return fake_model_for_triage()


@pytest.fixture
def make_agents(model: FakeModel) -> AgentFactory:
    """Build the app's agents on ``model`` (see ``triage_scripts.build_agents``)."""

    def make(**overrides: dict[str, Any]) -> TriageAgents:
        return build_agents(model, **overrides)

    return make
