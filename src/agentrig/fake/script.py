"""The script's vocabulary: reply and matcher types, argument checks, records and rules."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal, TypeAlias

from agentrig._errors import (
    ConfigurationError,
)
from agentrig.chat import (
    FakeRequest,
    ToolCall,
)
from agentrig.checks import check_seconds
from agentrig.fake.failures import Failure

#: The operation of the span every model call opens; the span is named
#: ``"chat {gen_ai.request.model}"`` (:func:`agentrig.tracing.model_call_span_name`).
SPAN_NAME: Final = "chat"
#: ``gen_ai.provider.name`` of calls the fake answers itself.
PROVIDER_NAME: Final = "agentrig"
#: The model agents use unless told otherwise.
DEFAULT_MODEL: Final = "fake-model"

#: A latency: virtual seconds, or a function of the reply's output tokens returning them.
Latency: TypeAlias = "float | int | Callable[[int], float]"
#: What a reply is: text, a tool call (or a list: parallel calls), or structured output (a
#: dict/list or a pydantic model).
ReplyValue: TypeAlias = "str | ToolCall | Sequence[ToolCall] | Mapping[str, Any] | Any"
#: A reply: a value, or a function of the request (a :class:`~agentrig.FakeRequest`, which is
#: also the prompt as a str) returning one.
Reply: TypeAlias = "ReplyValue | Callable[[FakeRequest], ReplyValue]"
#: What a rule matches on: a substring, a compiled regex, or a predicate on the request.
Matcher: TypeAlias = "str | re.Pattern[str] | Callable[[FakeRequest], bool]"


Exhausted = Literal["raise", "repeat_last", "cycle"]
EXHAUSTED: tuple[str, ...] = ("raise", "repeat_last", "cycle")


def check_latency(value: object, param: str) -> Latency:
    if callable(value):
        return value
    return check_seconds(value, param)


def check_reply(value: object, param: str) -> Reply:
    if is_reply_value(value) or callable(value):
        if (
            isinstance(value, (list, tuple))
            and any(isinstance(v, ToolCall) for v in value)
            and not all(isinstance(v, ToolCall) for v in value)
        ):
            raise ConfigurationError(
                f"`{param}`: a list of tool calls must hold only ToolCall objects, got {value!r}"
            )
        return value
    raise ConfigurationError(
        f"`{param}` must be a str or a callable request -> reply, a ToolCall (or a list of"
        f" them), a dict or a pydantic model, got {type(value).__name__} {value!r}"
    )


def preview(text: str, limit: int = 40) -> str:
    """A short, one-line preview of a prompt for messages."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[:limit] + "…"


# -- records --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FakeReply:
    """What :meth:`FakeAgent.run` returns.

    Attributes:
        text: the reply text.
        tokens: ``input_tokens + output_tokens``.
        input_tokens: tokens of the prompt.
        output_tokens: tokens of the reply.
        usd: the exact cost of the call.
        model: the model that answered.
        agent: the agent's name.
        latency: the virtual seconds the call took.
        call: the agent's call number, from 1.

    ``str(reply)`` is the text.
    """

    text: str
    tokens: int
    input_tokens: int
    output_tokens: int
    usd: Decimal
    model: str
    agent: str
    latency: float
    call: int
    tool_calls: tuple[ToolCall, ...] = ()
    structured: Any = None
    finish_reason: str = "stop"

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class FakeCall:
    """One entry of the call log (``fake_model.calls``, ``agent.calls``).

    Attributes:
        agent: the agent's name.
        model: its model.
        call: the agent's call number, from 1.
        prompt: the prompt.
        text: the reply text; ``None`` if the call failed before producing one.
        error: the exception the call raised, or ``None``.
        input_tokens: prompt tokens charged (0 for a failed call).
        output_tokens: reply tokens charged (0 for a failed call).
        usd: what the call cost (0 for a failed call).
        latency: the virtual seconds the call took (until it failed, for a failure).
        t: the loop time when the call started (virtual under agentrig's loop).
        answered_by: which part of the script answered: ``"rule #1 (substring 'x')"``,
            ``"error="``, ``"replies[0]"``, ``"reply="``, ``"default"``, ...
        request: the :class:`~agentrig.FakeRequest` (messages, tools, schema, ...).
        tool_calls: the tool calls the reply made (empty for a text reply).
    """

    agent: str
    model: str
    call: int
    prompt: str
    text: str | None
    error: BaseException | None
    input_tokens: int
    output_tokens: int
    usd: Decimal
    latency: float
    t: float
    answered_by: str
    request: FakeRequest | None = None
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def tokens(self) -> int:
        """``input_tokens + output_tokens``."""
        return self.input_tokens + self.output_tokens

    @property
    def ok(self) -> bool:
        """Whether the call returned a reply."""
        return self.error is None


@dataclass(slots=True)
class Rule:
    matcher: Matcher
    reply: Reply | None
    error: Failure | None
    latency: Latency | None
    remaining: int | None

    def describe(self) -> str:
        m = self.matcher
        if isinstance(m, str):
            text = f"substring {m!r}"
        elif isinstance(m, re.Pattern):
            text = f"regex {m.pattern!r}"
        else:
            text = f"callable {getattr(m, '__qualname__', type(m).__qualname__)}"
        return text

    def matches(self, prompt: FakeRequest) -> bool:
        m = self.matcher
        if isinstance(m, str):
            return m in prompt
        if isinstance(m, re.Pattern):
            return m.search(prompt) is not None
        return bool(m(prompt))


@dataclass(frozen=True, slots=True)
class Step:
    """How one call will be answered (chosen synchronously when it starts)."""

    source: str
    text: ReplyValue | None = None  # named text for agentrig mutate's hook
    error: Failure | None = None
    latency: Latency | None = None


@dataclass(slots=True)
class State:
    calls: int = 0
    failures: int = 0
    reply_index: int = 0
    rules: list[Rule] = field(default_factory=list)


# -- the model ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Structured:
    """A structured reply produced by FakeModel itself (the default for a schema)."""

    value: object


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    structured: object = None

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"

    def output_tokens(self, count: Callable[[str], int]) -> int:
        total = count(self.text)
        for call in self.tool_calls:
            total += count(call.name) + count(call.arguments_json)
        return total


def as_tool_calls(value: object) -> tuple[ToolCall, ...] | None:
    if isinstance(value, ToolCall):
        return (value,)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, ToolCall) for v in value):
        return tuple(value)
    return None


def structured_data(value: object) -> object:
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        return dump(mode="json")
    return value


def is_reply_value(value: object) -> bool:
    if isinstance(value, (str, ToolCall, Mapping, list, tuple, Structured)):
        return True
    return callable(getattr(value, "model_dump", None)) and not isinstance(value, type)
