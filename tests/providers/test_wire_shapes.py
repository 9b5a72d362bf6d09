"""Every byte the fake sends validates, strictly, against the SDKs' own pydantic types."""

from __future__ import annotations

import orjson
import pytest
from anthropic.types import Message as AnthropicMessage
from anthropic.types import RawMessageStreamEvent
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from agentrig import FakeModel, ToolCall
from agentrig.chat import FakeRequest
from agentrig.fake import FakeReply
from agentrig.providers import anthropic_wire, openai_wire

TOOL = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}


def _reply(fake: FakeModel, request: FakeRequest, value: object) -> FakeReply:
    fake.agent("a", model=request.model, reply=value)
    return fake.respond_sync(request)


def _request(api: str, *, stream: bool, tools: bool) -> FakeRequest:
    from agentrig.chat import Message, Tool

    return FakeRequest(
        provider="anthropic" if api == "messages" else "openai",
        api=api,  # type: ignore[arg-type]
        model="claude-haiku-4-5" if api == "messages" else "gpt-4o",
        messages=[Message("user", "find x")],
        tools=[Tool("search", "", TOOL)] if tools else [],
        stream=stream,
    )


def _events(chunks: list[bytes]) -> list[bytes]:
    out = []
    for chunk in chunks:
        data = next(line for line in chunk.splitlines() if line.startswith(b"data: "))[6:]
        if data != b"[DONE]":
            out.append(data)
    return out


REPLIES = {"text": "several words of text", "tool": [ToolCall("search", {"q": "x"})]}


@pytest.mark.parametrize("kind", sorted(REPLIES))
@pytest.mark.parametrize("stream", [False, True])
def test_chat_completions(kind: str, stream: bool) -> None:
    request = _request("chat.completions", stream=stream, tools=kind == "tool")
    reply = _reply(FakeModel(), request, REPLIES[kind])
    body = {"stream_options": {"include_usage": True}}
    answer = openai_wire.render_chat(request, reply, body)
    if not stream:
        ChatCompletion.model_validate_json(answer.body)
        return
    assert answer.events is not None and answer.events[-1] == b"data: [DONE]\n\n"
    for data in _events(list(answer.events)):
        ChatCompletionChunk.model_validate_json(data)


@pytest.mark.parametrize("kind", sorted(REPLIES))
@pytest.mark.parametrize("stream", [False, True])
def test_responses(kind: str, stream: bool) -> None:
    request = _request("responses", stream=stream, tools=kind == "tool")
    reply = _reply(FakeModel(), request, REPLIES[kind])
    answer = openai_wire.render_responses(request, reply, {})
    if not stream:
        Response.model_validate_json(answer.body)
        return
    adapter: TypeAdapter[object] = TypeAdapter(ResponseStreamEvent)
    assert answer.events is not None
    kinds = []
    for data in _events(list(answer.events)):
        adapter.validate_json(data)
        kinds.append(orjson.loads(data)["type"])
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"


@pytest.mark.parametrize("kind", sorted(REPLIES))
@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_messages(kind: str, stream: bool) -> None:
    request = _request("messages", stream=stream, tools=kind == "tool")
    reply = _reply(FakeModel(), request, REPLIES[kind])
    answer = anthropic_wire.render_messages(request, reply, {})
    if not stream:
        AnthropicMessage.model_validate_json(answer.body)
        return
    adapter: TypeAdapter[object] = TypeAdapter(RawMessageStreamEvent)
    assert answer.events is not None
    for data in _events(list(answer.events)):
        adapter.validate_json(data)
