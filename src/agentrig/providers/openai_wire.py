"""OpenAI's wire formats: Chat Completions and Responses, plain JSON and SSE streams.

Shapes follow the API reference and are checked in tests by parsing with the ``openai``
SDK's own types and stream helpers (``ChatCompletion.model_validate``,
``client.chat.completions.stream``, ``client.responses.stream``). Ids are derived from the
agent's name and call number (``chatcmpl-research-2``), ``created`` is 0: nothing depends on
the wall clock or on completion order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from agentrig.chat import FakeRequest, Message, Tool, ToolCall
from agentrig.fake import FakeReply
from agentrig.providers.intercept import InterceptedRequest, InterceptedResponse
from agentrig.providers.wire import BadRequest, require, slug, sse, text_chunks

__all__ = [
    "error_response",
    "parse_chat",
    "parse_responses",
    "render_chat",
    "render_responses",
]

_PARAMS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "seed",
    "stop",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "parallel_tool_calls",
    "reasoning_effort",
    "reasoning",
)


def _params(body: Mapping[str, Any]) -> dict[str, Any]:
    params = {k: body[k] for k in _PARAMS if k in body}
    if "max_completion_tokens" in params and "max_tokens" not in params:
        params["max_tokens"] = params["max_completion_tokens"]
    return params


def _text_of(content: object, field: str) -> tuple[str, tuple[Mapping[str, Any], ...]]:
    """The text of a message content (a str or a list of parts) and its parts."""
    if content is None:
        return "", ()
    if isinstance(content, str):
        return content, ({"type": "text", "text": content},)
    if not isinstance(content, list):
        raise BadRequest(
            field, f"must be a string or a list of parts, got {type(content).__name__}"
        )
    texts = []
    for i, part in enumerate(content):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise BadRequest(f"{field}[{i}]", "each part must be an object with a 'type'")
        if part["type"] in ("text", "input_text", "output_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise BadRequest(f"{field}[{i}].text", "must be a string")
            texts.append(text)
    return "\n".join(texts), tuple(content)


def _tool_arguments(raw: object, field: str) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        raise BadRequest(field, "must be a JSON string")
    try:
        value = orjson.loads(raw or "{}")
    except orjson.JSONDecodeError:
        raise BadRequest(field, f"is not valid JSON: {raw[:80]!r}") from None
    if not isinstance(value, dict):
        raise BadRequest(field, "must encode a JSON object")
    return value


# -- chat.completions -----------------------------------------------------------------------------


def parse_chat(request: InterceptedRequest) -> FakeRequest:
    """A ``POST .../chat/completions`` body as a :class:`FakeRequest`."""
    body = request.json
    if not isinstance(body, dict):
        raise BadRequest("body", "must be a JSON object")
    model = require(body, "model", str)
    raw_messages = require(body, "messages", list)
    system: list[str] = []
    messages: list[Message] = []
    for i, raw in enumerate(raw_messages):
        field = f"messages[{i}]"
        if not isinstance(raw, dict):
            raise BadRequest(field, "must be an object")
        role = raw.get("role")
        text, parts = _text_of(raw.get("content"), f"{field}.content")
        if role in ("system", "developer"):
            system.append(text)
        elif role == "user":
            messages.append(Message("user", text, parts))
        elif role == "assistant":
            calls = []
            for j, call in enumerate(raw.get("tool_calls") or []):
                where = f"{field}.tool_calls[{j}]"
                function = call.get("function") if isinstance(call, dict) else None
                if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                    raise BadRequest(where, "must have function.name and function.arguments")
                calls.append(
                    ToolCall(
                        function["name"],
                        _tool_arguments(function.get("arguments"), f"{where}.function.arguments"),
                        id=call.get("id") or None,
                    )
                )
            messages.append(Message("assistant", text, parts, tool_calls=tuple(calls)))
        elif role in ("tool", "function"):
            messages.append(
                Message(
                    "tool",
                    text,
                    parts,
                    tool_call_id=raw.get("tool_call_id"),
                    name=raw.get("name"),
                )
            )
        else:
            raise BadRequest(
                f"{field}.role", f"must be system, developer, user, assistant or tool, got {role!r}"
            )
    tools = []
    for i, raw in enumerate(body.get("tools") or []):
        function = raw.get("function") if isinstance(raw, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise BadRequest(
                f"tools[{i}]", "must be {'type': 'function', 'function': {'name': ...}}"
            )
        tools.append(
            Tool(
                function["name"],
                function.get("description") or "",
                function.get("parameters") or {},
            )
        )
    schema, schema_name, json_mode = None, None, False
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        kind = response_format.get("type")
        if kind == "json_schema":
            spec = response_format.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
                raise BadRequest("response_format.json_schema.schema", "must be a JSON schema")
            schema, schema_name = spec["schema"], spec.get("name")
        json_mode = kind in ("json_schema", "json_object")
    return FakeRequest(
        provider="openai",
        api="chat.completions",
        model=model,
        system="\n".join(system) if system else None,
        messages=messages,
        tools=tools,
        tool_choice=body.get("tool_choice"),
        schema=schema,
        schema_name=schema_name,
        json_mode=json_mode,
        params=_params(body),
        stream=body.get("stream") is True,
    )


def _chat_usage(reply: FakeReply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.tokens,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def render_chat(
    request: FakeRequest, reply: FakeReply, body: Mapping[str, Any]
) -> InterceptedResponse:
    """A Chat Completions answer (JSON, or the chunk stream with ``[DONE]``)."""
    ident = f"chatcmpl-{slug(reply.agent)}-{reply.call}"
    finish = "tool_calls" if reply.tool_calls else "stop"
    base = {"id": ident, "created": 0, "model": request.model, "system_fingerprint": "agentrig"}
    if not request.stream:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.text if not reply.tool_calls else None,
            "refusal": None,
        }
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json},
                }
                for call in reply.tool_calls
            ]
        return InterceptedResponse.json_body(
            {
                **base,
                "object": "chat.completion",
                "choices": [
                    {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
                ],
                "usage": _chat_usage(reply),
            }
        )
    chunk = {**base, "object": "chat.completion.chunk"}
    events = []

    def delta(payload: dict[str, Any], finish_reason: str | None = None) -> None:
        choice = {"index": 0, "delta": payload, "finish_reason": finish_reason, "logprobs": None}
        events.append(sse({**chunk, "choices": [choice]}))

    delta({"role": "assistant", "content": "", "refusal": None})
    if reply.tool_calls:
        for index, call in enumerate(reply.tool_calls):
            delta(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": ""},
                        }
                    ]
                }
            )
            delta(
                {"tool_calls": [{"index": index, "function": {"arguments": call.arguments_json}}]}
            )
    else:
        for piece in text_chunks(reply.text):
            delta({"content": piece})
    delta({}, finish)
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        events.append(sse({**chunk, "choices": [], "usage": _chat_usage(reply)}))
    events.append(b"data: [DONE]\n\n")
    return InterceptedResponse(headers={"content-type": "text/event-stream"}, events=events)


# -- responses ------------------------------------------------------------------------------------


def parse_responses(request: InterceptedRequest) -> FakeRequest:
    """A ``POST .../responses`` body as a :class:`FakeRequest`."""
    body = request.json
    if not isinstance(body, dict):
        raise BadRequest("body", "must be a JSON object")
    model = require(body, "model", str)
    raw_input = require(body, "input", (str, list))
    system: list[str] = []
    if isinstance(body.get("instructions"), str):
        system.append(body["instructions"])
    messages: list[Message] = []
    items = [{"role": "user", "content": raw_input}] if isinstance(raw_input, str) else raw_input
    for i, item in enumerate(items):
        field = f"input[{i}]"
        if not isinstance(item, dict):
            raise BadRequest(field, "must be an object")
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            text, parts = _text_of(item.get("content"), f"{field}.content")
            if role in ("system", "developer"):
                system.append(text)
            elif role in ("user", "assistant"):
                messages.append(Message(role, text, parts))
            else:
                raise BadRequest(
                    f"{field}.role", f"must be user, assistant, system or developer, got {role!r}"
                )
        elif kind == "function_call":
            name = item.get("name")
            if not isinstance(name, str):
                raise BadRequest(f"{field}.name", "must be a string")
            call = ToolCall(
                name,
                _tool_arguments(item.get("arguments"), f"{field}.arguments"),
                id=item.get("call_id") or None,
            )
            if messages and messages[-1].role == "assistant" and not messages[-1].content:
                last = messages.pop()
                messages.append(Message("assistant", "", last.parts, (*last.tool_calls, call)))
            else:
                messages.append(Message("assistant", "", (), (call,)))
        elif kind == "function_call_output":
            output = item.get("output")
            text, parts = _text_of(output, f"{field}.output")
            messages.append(Message("tool", text, parts, tool_call_id=item.get("call_id")))
        else:
            messages.append(Message("user", "", (item,)))  # reasoning items, files: kept as parts
    tools = []
    for i, raw in enumerate(body.get("tools") or []):
        if not isinstance(raw, dict) or raw.get("type") != "function":
            kind = raw.get("type") if isinstance(raw, dict) else raw
            raise BadRequest(
                f"tools[{i}].type",
                f"FakeModel serves function tools only, got {kind!r} (hosted tools such as"
                " web_search run on OpenAI's side and cannot be faked)",
            )
        if not isinstance(raw.get("name"), str):
            raise BadRequest(f"tools[{i}].name", "must be a string")
        tools.append(Tool(raw["name"], raw.get("description") or "", raw.get("parameters") or {}))
    schema, schema_name, json_mode = None, None, False
    text_options = body.get("text")
    if isinstance(text_options, dict) and isinstance(text_options.get("format"), dict):
        fmt = text_options["format"]
        if fmt.get("type") == "json_schema":
            if not isinstance(fmt.get("schema"), dict):
                raise BadRequest("text.format.schema", "must be a JSON schema")
            schema, schema_name = fmt["schema"], fmt.get("name")
        json_mode = fmt.get("type") in ("json_schema", "json_object")
    return FakeRequest(
        provider="openai",
        api="responses",
        model=model,
        system="\n".join(system) if system else None,
        messages=messages,
        tools=tools,
        tool_choice=body.get("tool_choice"),
        schema=schema,
        schema_name=schema_name,
        json_mode=json_mode,
        params=_params(body),
        stream=body.get("stream") is True,
    )


def render_responses(
    request: FakeRequest, reply: FakeReply, body: Mapping[str, Any]
) -> InterceptedResponse:
    """A Responses answer (JSON, or the typed event stream)."""
    ident = f"resp_{slug(reply.agent)}_{reply.call}"
    output: list[dict[str, Any]] = []
    if reply.tool_calls:
        for i, call in enumerate(reply.tool_calls):
            output.append(
                {
                    "type": "function_call",
                    "id": f"fc_{slug(reply.agent)}_{reply.call}_{i}",
                    "call_id": call.id,
                    "name": call.name,
                    "arguments": call.arguments_json,
                    "status": "completed",
                }
            )
    else:
        output.append(
            {
                "type": "message",
                "id": f"msg_{slug(reply.agent)}_{reply.call}",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": reply.text, "annotations": [], "logprobs": []}
                ],
            }
        )
    response = {
        "id": ident,
        "object": "response",
        "created_at": 0,
        "status": "completed",
        "model": request.model,
        "output": output,
        "parallel_tool_calls": bool(body.get("parallel_tool_calls", True)),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "instructions": body.get("instructions"),
        "text": body.get("text") or {"format": {"type": "text"}},
        "error": None,
        "incomplete_details": None,
        "metadata": {},
        "usage": {
            "input_tokens": reply.input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": reply.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": reply.tokens,
        },
    }
    if not request.stream:
        return InterceptedResponse.json_body(response)
    events: list[bytes] = []

    def emit(kind: str, **data: Any) -> None:
        events.append(sse({"type": kind, "sequence_number": len(events), **data}, event=kind))

    started = {**response, "status": "in_progress", "output": [], "usage": None}
    emit("response.created", response=started)
    emit("response.in_progress", response=started)
    for index, item in enumerate(output):
        if item["type"] == "function_call":
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "arguments": "", "status": "in_progress"},
            )
            emit(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=index,
                delta=item["arguments"],
            )
            emit(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=item["arguments"],
                name=item["name"],
            )
        else:
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "content": []},
            )
            empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            emit(
                "response.content_part.added",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=empty,
            )
            for piece in text_chunks(reply.text):
                emit(
                    "response.output_text.delta",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    delta=piece,
                    logprobs=[],
                )
            emit(
                "response.output_text.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                text=reply.text,
                logprobs=[],
            )
            emit(
                "response.content_part.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=item["content"][0],
            )
        emit("response.output_item.done", output_index=index, item=item)
    emit("response.completed", response=response)
    return InterceptedResponse(headers={"content-type": "text/event-stream"}, events=events)


# -- errors ---------------------------------------------------------------------------------------


def error_response(
    status: int,
    kind: str,
    message: str,
    *,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> InterceptedResponse:
    """OpenAI's error body: ``{"error": {"message", "type", "param", "code"}}``."""
    return InterceptedResponse.json_body(
        {"error": {"message": message, "type": kind, "param": param, "code": kind}},
        status=status,
        headers=headers,
    )
