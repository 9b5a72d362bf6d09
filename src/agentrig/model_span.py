"""The span of one model call: one builder for the fake, the provider fakes and cassette replay.

A reader of a snapshot must not be able to tell a replayed real-model call from a faked one
by the shape of its span: ``assert agent_recording == agent_snapshot`` and the drift report
compare the same attributes either way. So the attributes of the ``chat {model}`` span are
built here, once, from a :class:`~agentrig.FakeRequest` and the reply's parts, and every
producer uses this module: :class:`~agentrig.FakeAgent` (``agent.run`` and SDK calls through
the provider fakes) and the ``llm_cassette`` replay (which parses the recorded request with
the provider fakes' own parsers).

A call's span gets its attributes in two steps, because the call may fail in between:
:func:`request_attributes` when it opens, then :func:`reply_attributes` when the reply is
known, or :func:`unspent_attributes` when the call failed before anything was spent.
``wire=True`` (an SDK call) adds the OpenTelemetry GenAI opt-in content attributes (the
messages, system instructions, tool definitions, finish reasons); ``agent.run(prompt)`` has
no conversation to show and leaves them out.

Only a replayed call knows what a real endpoint answered: :data:`REPLAY_ONLY_ATTRIBUTES` are
the attributes it adds, and nothing else differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from agentrig.chat import FakeRequest, ToolCall
from agentrig.vocabulary import (
    AGENTRIG_COST_USD,
    AGENTRIG_PROMPT,
    AGENTRIG_REPLY,
    AGENTRIG_SOURCE,
    AGENTRIG_STREAM,
    GEN_AI_AGENT_NAME,
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OPERATION_NAME,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_FINISH_REASONS,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_SYSTEM_INSTRUCTIONS,
    GEN_AI_TOOL_DEFINITIONS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    HTTP_RESPONSE_STATUS_CODE,
    OPERATION_CHAT,
)

__all__ = [
    "REPLAY_ONLY_ATTRIBUTES",
    "reply_attributes",
    "reply_text",
    "request_attributes",
    "unspent_attributes",
]

#: What a replayed call's span carries beyond a faked call's: the answer's origin, the model
#: the real endpoint said answered (``gpt-4o-mini-2024-07-18``) and its HTTP status.
REPLAY_ONLY_ATTRIBUTES: Final = frozenset(
    {AGENTRIG_SOURCE, GEN_AI_RESPONSE_MODEL, HTTP_RESPONSE_STATUS_CODE}
)


def request_attributes(
    request: FakeRequest, *, agent: str, provider: str, wire: bool
) -> dict[str, object]:
    """The attributes a model call's span opens with.

    Args:
        request: what was asked.
        agent: ``gen_ai.agent.name`` (the fake agent; the requested model for a replay, as
            for the fake's default agent).
        provider: ``gen_ai.provider.name``.
        wire: an SDK call: add the conversation, system instructions, tools, max tokens and
            the stream flag.
    """
    out: dict[str, object] = {
        GEN_AI_OPERATION_NAME: OPERATION_CHAT,
        GEN_AI_PROVIDER_NAME: provider,
        GEN_AI_AGENT_NAME: agent,
        GEN_AI_REQUEST_MODEL: request.model,
        AGENTRIG_PROMPT: request.prompt,
    }
    if not wire:
        return out
    out[GEN_AI_INPUT_MESSAGES] = [m.to_otel() for m in request.messages]
    if request.system is not None:
        out[GEN_AI_SYSTEM_INSTRUCTIONS] = request.system
    if request.tools:
        out[GEN_AI_TOOL_DEFINITIONS] = [
            {"type": "function", "name": t.name, "parameters": dict(t.parameters)}
            for t in request.tools
        ]
    max_tokens = request.params.get("max_tokens", request.params.get("max_output_tokens"))
    if isinstance(max_tokens, int):
        out[GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    if request.stream:
        out[AGENTRIG_STREAM] = True
    return out


def reply_text(text: str, tool_calls: Sequence[ToolCall]) -> str:
    """``agentrig.reply``: the text, or one ``name(arguments)`` line per tool call."""
    if not tool_calls:
        return text
    return "\n".join(f"{c.name}({c.arguments_json})" for c in tool_calls)


def reply_attributes(
    *,
    text: str,
    tool_calls: Sequence[ToolCall],
    finish_reason: str,
    input_tokens: int,
    output_tokens: int,
    usd: Decimal,
    wire: bool,
) -> dict[str, object]:
    """The attributes a model call's span gets once its reply is known (and charged)."""
    out: dict[str, object] = {
        GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
        GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
        AGENTRIG_COST_USD: float(usd),
        AGENTRIG_REPLY: reply_text(text, tool_calls),
    }
    if not wire:
        return out
    parts: list[dict[str, object]] = []
    if text:
        parts.append({"type": "text", "content": text})
    for call in tool_calls:
        parts.append(
            {
                "type": "tool_call",
                "id": call.id,
                "name": call.name,
                "arguments": dict(call.arguments),
            }
        )
    out[GEN_AI_RESPONSE_FINISH_REASONS] = [finish_reason]
    out[GEN_AI_OUTPUT_MESSAGES] = [
        {"role": "assistant", "parts": parts, "finish_reason": finish_reason}
    ]
    return out


def unspent_attributes() -> dict[str, object]:
    """What a call that failed before anything was spent says about its usage: nothing."""
    return {GEN_AI_USAGE_INPUT_TOKENS: 0, GEN_AI_USAGE_OUTPUT_TOKENS: 0, AGENTRIG_COST_USD: 0.0}
