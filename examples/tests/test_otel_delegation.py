"""The research desk (``otel_delegation``) under agentrig: pydantic-ai's own OpenTelemetry spans
land in the recording, so the snapshot shows who delegated to whom and which tools ran.

The models are pydantic-ai ``FunctionModel``s: the turns that call a tool are scripted here, the
turns that write text are served by agentrig's fake model (so they are priced, charged to the
budget and timed on the virtual clock; each is one span, the instrumentation's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import otel_delegation.app
import pytest
from otel_delegation import answer
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from agentrig import FakeAgent, FakeModel, Recording
from agentrig.snapshot import AgentrigSnapshotAssertion

# pydantic-ai's rendering hints and request plumbing change between its releases and say nothing
# about the run: leave them out of the snapshot.
pytestmark = pytest.mark.agentrig(
    drop=[
        "logfire.json_schema",
        "model_request_parameters",
        "gen_ai.tool.definitions",
        "gen_ai.input.messages",
        "pydantic_ai.all_messages",
    ]
)


def scripted(name: str, tool: str, args: Callable[[str], dict[str, str]], writer: FakeAgent):
    """A model that first calls ``tool`` (one virtual second to decide), then lets ``writer``
    answer from what the tool returned."""

    async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        last = messages[-1].parts[-1]
        if isinstance(last, ToolReturnPart):
            reply = await writer.run(str(last.content))
            return ModelResponse(parts=[TextPart(reply.text)])
        await asyncio.sleep(1.0)
        prompt = str(getattr(last, "content", ""))
        return ModelResponse(parts=[ToolCallPart(tool, args(prompt), tool_call_id=f"{tool}-1")])

    return FunctionModel(respond, model_name=name)


async def test_the_coordinator_delegates_research_and_the_researcher_searches(
    fake_model: FakeModel,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def slow_lookup(query: str) -> list[str]:  # the index answers in half a second
        await asyncio.sleep(0.5)
        return otel_delegation.app.KNOWLEDGE.get(query, [])

    monkeypatch.setattr(otel_delegation.app, "lookup", slow_lookup)
    writer = fake_model.agent("coordinator", reply=lambda p: f"Answer: {p}", latency=2.0)
    summarizer = fake_model.agent("researcher", reply=lambda p: f"Findings: {p}", latency=3.0)
    coordinator_model = scripted(
        "coordinator-model", "delegate_research", lambda _: {"topic": "battery recycling"}, writer
    )
    researcher_model = scripted(
        "researcher-model", "search", lambda p: {"query": p.removeprefix("Research: ")}, summarizer
    )

    text = await answer(
        "How are batteries recycled?",
        coordinator_model=coordinator_model,
        researcher_model=researcher_model,
    )

    assert text.startswith("Answer: Findings: ['Hydrometallurgy")
    assert asyncio.get_running_loop().time() == 7.5  # 1 + 1 + 0.5 + 3 + 2 virtual seconds
    by_name = {s.name: s for s in agent_recording.spans}
    delegate = by_name["execute_tool delegate_research"]
    assert by_name["invoke_agent researcher"].parent_id == delegate.span_id
    assert by_name["execute_tool search"].attributes["gen_ai.tool.call.arguments"]
    assert agent_recording == agent_snapshot
