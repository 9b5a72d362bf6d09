"""The official anthropic SDK, unchanged, answered by fake_model: its own types and helpers."""

from __future__ import annotations

import inspect
import re

import anthropic
import pytest
from anthropic.types import Message
from pydantic import BaseModel

from agentrig import FakeModel, ToolCall

WEATHER = {
    "name": "get_weather",
    "description": "Current weather",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


class Summary(BaseModel):
    headline: str
    points: list[str]


async def test_messages_create_with_system_routes_by_system_prompt(fake_model: FakeModel) -> None:
    fake_model.agent("reviewer", system=re.compile(r"^You review"), reply="APPROVED")
    fake_model.agent("writer", system="You write", reply="a draft")
    client = anthropic.AsyncAnthropic(api_key="sk-ant-test")
    raw = await client.messages.with_raw_response.create(
        model="claude-sonnet-4-6",
        max_tokens=200,
        system="You review drafts.",
        messages=[{"role": "user", "content": "draft v1"}],
    )
    Message.model_validate_json(raw.http_response.content)  # the SDK's type, strictly
    message = raw.parse()
    if inspect.isawaitable(message):  # async in anthropic >= 1
        message = await message
    assert message.content[0].type == "text"
    assert message.content[0].text == "APPROVED"
    assert message.stop_reason == "end_turn"
    written = await client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=200,
        system=[{"type": "text", "text": "You write reports."}],
        messages=[{"role": "user", "content": "topic"}],
    )
    assert written.content[0].type == "text" and written.content[0].text == "a draft"
    assert [c.agent for c in fake_model.calls] == ["reviewer", "writer"]
    assert fake_model.calls[0].usd > 0


async def test_tool_use_and_tool_result_blocks_round_trip(fake_model: FakeModel) -> None:
    fake_model.agent(
        "weather",
        model="claude-sonnet-4-6",
        replies=[
            ToolCall("get_weather", {"city": "Paris"}),
            lambda req: f"It is {req.tool_results[-1]} in Paris.",
        ],
    )
    client = anthropic.AsyncAnthropic(api_key="k")
    messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Paris?"}]
    first = await client.messages.create(
        model="claude-sonnet-4-6", max_tokens=100, tools=[WEATHER], messages=messages
    )
    assert first.stop_reason == "tool_use"
    (block,) = [b for b in first.content if b.type == "tool_use"]
    assert (block.name, block.input) == ("get_weather", {"city": "Paris"})
    messages.append({"role": "assistant", "content": [b.model_dump() for b in first.content]})
    messages.append(
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "18C"}],
        }
    )
    second = await client.messages.create(
        model="claude-sonnet-4-6", max_tokens=100, tools=[WEATHER], messages=messages
    )
    assert second.content[0].type == "text"
    assert second.content[0].text == "It is 18C in Paris."
    request = fake_model.calls[1].request
    assert request is not None
    assert [m.role for m in request.messages] == ["user", "assistant", "tool"]
    assert request.tool_results[0].call_id == block.id


async def test_stream_true_and_the_messages_stream_helper(fake_model: FakeModel) -> None:
    fake_model.agent("s", model="claude-sonnet-4-6", reply="streamed from claude")
    client = anthropic.AsyncAnthropic(api_key="k")
    stream = await client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=100,
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
    )
    kinds, text = [], []
    async for event in stream:
        kinds.append(event.type)
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            text.append(event.delta.text)
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "".join(text) == "streamed from claude"
    async with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as helper:
        final = await helper.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == "streamed from claude"
    assert final.usage.output_tokens == fake_model.calls[1].output_tokens


async def test_streamed_tool_use_is_assembled_by_the_helper(fake_model: FakeModel) -> None:
    call = ToolCall("get_weather", {"city": "Rome"})
    fake_model.agent("w", model="claude-sonnet-4-6", reply=call)
    async with anthropic.AsyncAnthropic(api_key="k").messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=100,
        tools=[WEATHER],
        messages=[{"role": "user", "content": "Rome?"}],
    ) as helper:
        final = await helper.get_final_message()
    (block,) = final.content
    assert block.type == "tool_use" and block.input == {"city": "Rome"}
    assert final.stop_reason == "tool_use"


@pytest.mark.skipif(
    not hasattr(anthropic.resources.messages.AsyncMessages, "parse"),
    reason="this anthropic SDK has no messages.parse (structured outputs came later)",
)
async def test_structured_output_through_messages_parse(fake_model: FakeModel) -> None:
    fake_model.agent(
        "sum", model="claude-sonnet-4-6", reply=Summary(headline="ok", points=["a", "b"])
    )
    client = anthropic.AsyncAnthropic(api_key="k")
    parsed = await client.messages.parse(
        model="claude-sonnet-4-6",
        max_tokens=100,
        messages=[{"role": "user", "content": "summarize"}],
        output_format=Summary,
    )
    assert parsed.parsed_output == Summary(headline="ok", points=["a", "b"])


def test_the_sync_client_works_without_an_api_key_in_the_environment(
    fake_model: FakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    assert os.environ["ANTHROPIC_API_KEY"]  # a placeholder while fake_model is active
    fake_model.agent("x", model="claude-opus-4-8", reply="sync answer")
    client = anthropic.Anthropic()
    out = client.messages.create(
        model="claude-opus-4-8", max_tokens=10, messages=[{"role": "user", "content": "q"}]
    )
    assert out.content[0].type == "text" and out.content[0].text == "sync answer"
