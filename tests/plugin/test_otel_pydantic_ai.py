"""Real pydantic-ai, instrumented (``Agent.instrument_all()``), in agentrig tests: its spans land
in the recording, and a call agentrig's fake serves is one span, not two."""

from __future__ import annotations

import json

from agentrig_project import Project

APP = """
import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel

Agent.instrument_all()


def served_by(fake_agent, budget):
    # a pydantic-ai model whose replies come from an agentrig fake agent

    async def respond(messages, info: AgentInfo):
        out = await fake_agent.run(str(messages[-1].parts[-1].content), budget=budget)
        return ModelResponse(parts=[TextPart(out.text)])

    return FunctionModel(respond, model_name="served")


async def test_a_served_call_is_one_span(fake_model, budget_pool, agent_recording, agent_snapshot):
    writer = fake_model.agent("writer", reply="drafted", latency=2.0)
    pool = budget_pool(usd=0.10)
    async with pool.acquire(max_usd=0.05) as stage:
        result = await Agent(served_by(writer, stage), name="writer").run("write it")
    assert result.output == "drafted"
    assert agent_recording == agent_snapshot


async def test_two_fake_calls_in_one_chat_span_are_not_folded(fake_model, agent_recording):
    a = fake_model.agent("a", reply="one")
    b = fake_model.agent("b", reply="two")

    async def respond(messages, info):
        first = await a.run("x")
        second = await b.run("y")
        return ModelResponse(parts=[TextPart(first.text + second.text)])

    await Agent(FunctionModel(respond, model_name="served"), name="pair").run("go")
    chat = [s for s in agent_recording.spans if s.name == "chat served"]
    assert len(chat) == 1
    inner = [s for s in agent_recording.spans if s.parent_id == chat[0].span_id]
    assert sorted(s.attributes["gen_ai.agent.name"] for s in inner) == ["a", "b"]
    assert "agentrig.cost_usd" not in chat[0].attributes


async def test_test_model_tools_are_captured(agent_recording, agent_snapshot):
    agent = Agent(TestModel(), name="calc")

    @agent.tool_plain
    def add(a: int, b: int) -> int:
        return a + b

    await agent.run("add")
    names = [s.name for s in agent_recording.spans]
    assert "invoke_agent calc" in names
    assert "execute_tool add" in names
"""


def _walk(items: list[dict], out: list[dict]) -> list[dict]:
    for item in items:
        if "span" in item:
            out.append(item)
            _walk(item.get("timeline", []), out)
    return out


def test_pydantic_ai_spans_and_a_served_call_folded_into_one(project: Project) -> None:
    project.write("tests/test_app.py", APP)
    project.run_subprocess("--snapshot-update").assert_outcomes(passed=3)
    path = project.snapshot("tests/test_app/test_a_served_call_is_one_span.json")
    doc = json.loads(path.read_text(encoding="utf-8"))
    spans = _walk(doc["timeline"], [])
    chats = [s for s in spans if s["attributes"].get("gen_ai.operation.name") == "chat"]
    assert len(chats) == 1, [s["span"] for s in spans]
    [chat] = chats
    attrs = chat["attributes"]
    # the instrumentation's span, with agentrig's cost, prompt and reply folded in
    assert chat["span"] == "chat served"
    assert attrs["otel.scope.name"] == "pydantic-ai"
    assert attrs["agentrig.reply"] == "drafted"
    assert attrs["agentrig.cost_usd"] > 0
    assert chat["duration"] == 2.0
    charges = [i for i in chat.get("timeline", []) if i.get("entry") == "budget.charge"]
    assert len(charges) == 1
    # an unchanged run compares equal, byte for byte
    project.run_subprocess().assert_outcomes(passed=3)
