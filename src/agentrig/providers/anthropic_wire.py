"""Anthropic's wire format: the Messages API, plain JSON and the SSE event stream.

Shapes follow the API reference and are checked in tests by parsing with the ``anthropic``
SDK's own types and stream helper (``Message.model_validate``, ``client.messages.stream``).
Ids are derived from the agent's name and call number; nothing depends on the wall clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentrig.chat import FakeRequest, Message, Tool, ToolCall, canonical_json
from agentrig.fake import FakeReply
from agentrig.providers.intercept import InterceptedRequest, InterceptedResponse
from agentrig.providers.wire import BadRequest, require, slug, sse, text_chunks

__all__ = ["error_response", "parse_messages", "render_messages"]

_PARAMS = ("max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "thinking", "metadata")


def _blocks(content: object, field: str) -> list[Mapping[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise BadRequest(
            field, f"must be a string or a list of content blocks, got {type(content).__name__}"
        )
    for i, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise BadRequest(f"{field}[{i}]", "each content block must be an object with a 'type'")
    return content


def _text(blocks: list[Mapping[str, Any]], field: str) -> str:
    texts = []
    for i, block in enumerate(blocks):
        if block.get("type") == "text":
            if not isinstance(block.get("text"), str):
                raise BadRequest(f"{field}[{i}].text", "must be a string")
            texts.append(block["text"])
    return "\n".join(texts)


def parse_messages(request: InterceptedRequest) -> FakeRequest:
    """A ``POST .../v1/messages`` body as a :class:`FakeRequest`."""
    body = request.json
    if not isinstance(body, dict):
        raise BadRequest("body", "must be a JSON object")
    model = require(body, "model", str)
    require(body, "max_tokens", int)
    raw_messages = require(body, "messages", list)
    system = body.get("system")
    if isinstance(system, list):
        system = _text(_blocks(system, "system"), "system")
    elif system is not None and not isinstance(system, str):
        raise BadRequest("system", "must be a string or a list of text blocks")
    messages: list[Message] = []
    for i, raw in enumerate(raw_messages):
        field = f"messages[{i}]"
        if not isinstance(raw, dict):
            raise BadRequest(field, "must be an object")
        role = raw.get("role")
        if role not in ("user", "assistant"):
            raise BadRequest(f"{field}.role", f"must be 'user' or 'assistant', got {role!r}")
        blocks = _blocks(raw.get("content"), f"{field}.content")
        # tool_result blocks become tool messages (before the user's own text, as sent)
        rest: list[Mapping[str, Any]] = []
        for j, block in enumerate(blocks):
            where = f"{field}.content[{j}]"
            if block["type"] == "tool_result":
                content = block.get("content", "")
                if isinstance(content, list):
                    text = _text(_blocks(content, f"{where}.content"), f"{where}.content")
                elif isinstance(content, str):
                    text = content
                else:
                    raise BadRequest(f"{where}.content", "must be a string or a list of blocks")
                messages.append(
                    Message("tool", text, (block,), tool_call_id=block.get("tool_use_id"))
                )
            else:
                rest.append(block)
        if not rest:
            continue
        calls = []
        for j, block in enumerate(rest):
            if block["type"] == "tool_use":
                if not isinstance(block.get("name"), str) or not isinstance(
                    block.get("input"), dict
                ):
                    raise BadRequest(
                        f"{field}.content[{j}]", "a tool_use block needs name and input"
                    )
                calls.append(ToolCall(block["name"], block["input"], id=block.get("id") or None))
        messages.append(
            Message(role, _text(rest, f"{field}.content"), tuple(rest), tool_calls=tuple(calls))
        )
    tools = []
    for i, raw in enumerate(body.get("tools") or []):
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise BadRequest(f"tools[{i}]", "must be an object with a name")
        if "input_schema" not in raw:
            raise BadRequest(
                f"tools[{i}].input_schema",
                f"FakeModel serves client tools only (tool {raw.get('name')!r} of type"
                f" {raw.get('type')!r} runs on Anthropic's side and cannot be faked)",
            )
        tools.append(Tool(raw["name"], raw.get("description") or "", raw.get("input_schema") or {}))
    schema = None
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else body.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        if not isinstance(fmt.get("schema"), dict):
            raise BadRequest("output_config.format.schema", "must be a JSON schema")
        schema = fmt["schema"]
    return FakeRequest(
        provider="anthropic",
        api="messages",
        model=model,
        system=system,
        messages=messages,
        tools=tools,
        tool_choice=body.get("tool_choice"),
        schema=schema,
        params={k: body[k] for k in _PARAMS if k in body},
        stream=body.get("stream") is True,
    )


def _usage(reply: FakeReply, *, output: int | None = None) -> dict[str, Any]:
    return {
        "input_tokens": reply.input_tokens,
        "output_tokens": reply.output_tokens if output is None else output,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def render_messages(
    request: FakeRequest, reply: FakeReply, body: Mapping[str, Any]
) -> InterceptedResponse:
    """A Messages answer (JSON, or the event stream)."""
    content: list[dict[str, Any]] = []
    if reply.text or not reply.tool_calls:
        content.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        content.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": dict(call.arguments)}
        )
    stop = "tool_use" if reply.tool_calls else "end_turn"
    message = {
        "id": f"msg_{slug(reply.agent)}_{reply.call}",
        "type": "message",
        "role": "assistant",
        "model": request.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": _usage(reply),
    }
    if not request.stream:
        return InterceptedResponse.json_body(message)
    events = [
        sse(
            {
                "type": "message_start",
                "message": {
                    **message,
                    "content": [],
                    "stop_reason": None,
                    "usage": _usage(reply, output=0),
                },
            },
            event="message_start",
        )
    ]
    for index, block in enumerate(content):
        start: dict[str, Any]
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            pieces = [{"type": "text_delta", "text": p} for p in text_chunks(block["text"])]
        else:
            start = {**block, "input": {}}
            pieces = [{"type": "input_json_delta", "partial_json": canonical_json(block["input"])}]
        events.append(
            sse(
                {"type": "content_block_start", "index": index, "content_block": start},
                event="content_block_start",
            )
        )
        for delta in pieces:
            events.append(
                sse(
                    {"type": "content_block_delta", "index": index, "delta": delta},
                    event="content_block_delta",
                )
            )
        events.append(
            sse({"type": "content_block_stop", "index": index}, event="content_block_stop")
        )
    events.append(
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": reply.output_tokens},
            },
            event="message_delta",
        )
    )
    events.append(sse({"type": "message_stop"}, event="message_stop"))
    return InterceptedResponse(headers={"content-type": "text/event-stream"}, events=events)


def error_response(
    status: int, kind: str, message: str, *, headers: Mapping[str, str] | None = None
) -> InterceptedResponse:
    """Anthropic's error body: ``{"type": "error", "error": {"type", "message"}}``."""
    return InterceptedResponse.json_body(
        {"type": "error", "error": {"type": kind, "message": message}},
        status=status,
        headers=headers,
    )
