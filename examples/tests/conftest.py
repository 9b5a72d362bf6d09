"""Fixtures for the triage app's tests, built on agentrig's pytest plugin.

The plugin does the heavy lifting: every test that uses one of its fixtures (``fake_model``,
``budget_pool``, ``deadline``, ``virtual_clock``, ``agent_recording``, ``agent_snapshot``, ...)
runs on the virtual clock under its own recording, and the app's module-level decision log and
tracer write their files under the test's ``tmp_path / "agentrig"`` instead of the repo.

This file only adds what is specific to the app: its agents, scripted on the plugin's
``fake_model``.
"""

from __future__ import annotations

from typing import Any

import pytest
from support_triage import TriageAgents
from triage_scripts import LLM, AgentFactory, build_agents

from agentrig.fake import FakeModel


@pytest.fixture
def make_agents(fake_model: FakeModel) -> AgentFactory:
    """Build the app's agents on this test's ``fake_model`` (see ``triage_scripts``).

    ``make_agents()`` is the happy path; ``make_agents(orders={"error": "rate_limit"})``
    rescripts one agent, ``make_agents(llm="claude-opus-4")`` prices every call as that model.
    """

    def make(*, llm: str = LLM, **overrides: dict[str, Any]) -> TriageAgents:
        return build_agents(fake_model, llm=llm, **overrides)

    return make
