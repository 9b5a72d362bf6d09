"""The research desk's agents, scripted on agentrig's ``fake_model``.

The app is unchanged production code on the openai SDK: ``fake_model`` answers its requests.
Each fake agent claims the calls whose system prompt names its role, so the script reads like
the desk's org chart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from research_desk import ANGLES, Review

from agentrig import FakeModel, FakeRequest, ToolCall

Script = Callable[..., None]


def researcher(angle: str) -> Callable[[FakeRequest], Any]:
    """Search once for the angle, then write notes from what the search returned."""

    def reply(request: FakeRequest) -> Any:
        if not request.tool_results:
            return ToolCall("search", {"query": f"{angle} overview", "limit": 1})
        return f"{angle} notes: {request.tool_results[-1]}"

    return reply


@pytest.fixture
def script_desk(fake_model: FakeModel) -> Script:
    """Script the desk: ``script_desk()`` is the happy path (one critique, then approval).

    Keyword overrides replace one agent's script: ``script_desk(market={"error": ...})``,
    ``script_desk(reviewer={"replies": [...]})``.
    """

    def script(**overrides: dict[str, Any]) -> None:
        for angle in ANGLES:
            spec: dict[str, Any] = {"reply": researcher(angle), "latency": 2.0}
            spec.update(overrides.get(angle, {}))
            fake_model.agent(
                f"researcher-{angle}",
                model="gpt-4o-mini",
                system=f"covering the {angle} angle",
                **spec,
            )
        writer: dict[str, Any] = {
            "reply": lambda req: (
                "Brief (revised): agent tests moved to fakes; the EU AI Act"
                " asks for documented testing."
                if "Revise" in req
                else "Brief: agent tests moved to deterministic fakes."
            ),
            "latency": 5.0,
        }
        writer.update(overrides.get("writer", {}))
        fake_model.agent("writer", model="gpt-4.1", system="You are the writer", **writer)
        reviewer: dict[str, Any] = {
            "replies": [
                Review(approved=False, critique="Cite the regulation angle."),
                Review(approved=True, critique=""),
            ],
            "latency": 3.0,
        }
        reviewer.update(overrides.get("reviewer", {}))
        fake_model.agent(
            "reviewer", model="gpt-4.1-mini", system="You are the reviewer", **reviewer
        )

    return script
