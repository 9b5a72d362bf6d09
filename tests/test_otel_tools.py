"""``agentrig.tool``: execute_tool spans for app code without instrumentation; content opt-in and
redacted before it reaches a snapshot."""

from __future__ import annotations

import asyncio

import pytest

import agentrig
from agentrig import ConfigurationError, Recording, Tracer, run, tool
from agentrig.normalize import normalize
from agentrig.tools import CAPTURE_CONTENT_ENV


@pytest.fixture(autouse=True)
def _no_env_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)


@tool
async def search(query: str, limit: int = 3) -> list[str]:
    """Search the knowledge base.

    Longer text that is not the description.
    """
    await asyncio.sleep(2)
    return [f"{query} #{i}" for i in range(limit)]


@tool(name="kb.lookup", content=True)
def lookup(ticket_id: str, api_key: str) -> dict[str, str]:
    return {"ticket": ticket_id, "status": "open", "token": "sk-live-abcdefghijklmnop1234"}


def test_the_decorator_emits_an_execute_tool_span_without_content_by_default() -> None:
    rec = Recording()
    with rec.activate():
        assert run(search("refunds")) == ["refunds #0", "refunds #1", "refunds #2"]
    (span,) = rec.spans
    assert span.name == "execute_tool search"
    assert span.attributes == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "search",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": "Search the knowledge base.",
    }
    assert (span.start, span.end) == (0.0, 2.0)  # virtual time


def test_content_is_opt_in_and_redacted_in_the_snapshot() -> None:
    rec = Recording()
    with rec.activate():
        lookup("T-1", api_key="sk-live-abcdefghijklmnop1234")
    (span,) = rec.spans
    assert span.name == "execute_tool kb.lookup"
    assert span.attributes["gen_ai.tool.call.arguments"]["ticket_id"] == "T-1"
    attrs = normalize(rec)["timeline"][0]["attributes"]
    assert attrs["gen_ai.tool.call.arguments"] == {"ticket_id": "T-1", "api_key": "<redacted>"}
    assert attrs["gen_ai.tool.call.result"]["token"] == "<redacted>"
    assert attrs["gen_ai.tool.call.result"]["status"] == "open"


def test_the_environment_variable_turns_content_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "true")
    rec = Recording()
    with rec.activate():
        run(search("x", limit=1))
    attrs = rec.spans[0].attributes
    assert attrs["gen_ai.tool.call.arguments"] == {"query": "x", "limit": 1}
    assert attrs["gen_ai.tool.call.result"] == ["x #0"]


def test_the_with_form_records_the_call_id_result_and_failures() -> None:
    tracer = Tracer()
    with tool(
        "refund", arguments={"order": "A-7"}, call_id="call_1", content=True, tracer=tracer
    ) as r:
        r.set_result({"refunded": True})
    with pytest.raises(TimeoutError), tool("refund", call_id="call_2", tracer=tracer):
        raise TimeoutError("payments down")
    ok, failed = (s.record for s in tracer.finished_spans)
    assert ok.attributes["gen_ai.tool.call.id"] == "call_1"
    assert ok.attributes["gen_ai.tool.call.arguments"] == {"order": "A-7"}
    assert ok.attributes["gen_ai.tool.call.result"] == {"refunded": True}
    assert failed.status == "error" and failed.attributes["error.type"] == "TimeoutError"
    assert "gen_ai.tool.call.result" not in failed.attributes


def test_the_async_with_form_and_a_failing_async_tool() -> None:
    run(_async_forms())


async def _async_forms() -> None:
    tracer = Tracer()

    @tool(tracer=tracer)
    async def flaky() -> None:
        raise ValueError("nope")

    async with tool("noop", tracer=tracer):
        pass
    with pytest.raises(ValueError, match="nope"):
        await flaky()
    assert [s.name for s in tracer.finished_spans] == ["execute_tool noop", "execute_tool flaky"]
    assert tracer.finished_spans[1].status == "error"


def test_bad_input_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ConfigurationError, match="non-empty str"):
        tool("")
    with pytest.raises(ConfigurationError, match="`arguments` must be a mapping"):
        tool("x", arguments=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="belong to the `with tool"):
        tool(arguments={"a": 1})  # type: ignore[call-overload]
    execution = tool("once")
    with execution, pytest.raises(agentrig.AgentRigError, match="already entered"):
        execution.__enter__()
