"""The provider-neutral chat vocabulary FakeModel speaks: requests, tools, tool calls, replies.

Why ``FakeRequest`` is a ``str``
--------------------------------
Rules and reply callables written for ``agent.run(prompt)`` take the prompt as a string
(``lambda prompt: f"report on {prompt[:20]}"``). A chat request has much more (a system prompt,
the message history, tools, a schema), but the text a rule matches on is still "the prompt":
the text of the last user message. So a :class:`FakeRequest` *is* that text (a ``str``
subclass) and carries the rest as attributes: old callables keep working unchanged, new ones
read ``request.tools``, ``request.tool_results``, ``request.schema``.

What a reply may be
-------------------
A reply (fixed, in ``replies=[...]``, or returned by a callable) is one of:

* a ``str``: the assistant's text (or, when the app asked for JSON, JSON text validated
  against the schema);
* a :class:`ToolCall`, or a list of them (parallel calls): checked against the tools the app
  offered — a tool it did not offer, or arguments that do not fit its JSON schema, is a
  :class:`~agentrig.ScriptMismatch` naming the tool and the field;
* a ``dict``/``list`` or a pydantic model: structured output, serialized as JSON and validated
  against the schema the request asked for (``response_format`` / ``text.format``), if any.

Token counting
--------------
Deterministic, with :func:`agentrig.fake.count_tokens` (or the FakeModel's tokenizer):
input = system prompt + the text of every message + every tool call and tool result (as
compact, key-sorted JSON) + every tool definition (name, description, JSON schema); output = the
reply text, or each tool call's name plus its arguments as compact JSON. A request built from
``run(prompt)`` is just the prompt, so old token counts are unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from agentrig._errors import ConfigurationError, ScriptMismatch

__all__ = [
    "FakeRequest",
    "Message",
    "Role",
    "Tool",
    "ToolCall",
    "ToolResult",
    "canonical_json",
    "example_for_schema",
    "validate_against_schema",
]

Role = Literal["system", "user", "assistant", "tool"]
#: Where a request came from: an SDK's wire format, or ``agent.run(prompt)``.
Api = Literal["run", "chat.completions", "responses", "messages"]


def canonical_json(value: object) -> str:
    """Compact, key-sorted JSON: the form tool arguments are counted and compared in."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A scripted call of a tool the app offered: ``ToolCall("search", {"q": "x"})``.

    Args:
        name: the tool's name, as the app declared it.
        arguments: the arguments, a JSON object (checked against the tool's schema).
        id: the call id sent to the app; default a deterministic ``call_<n>`` per request.
    """

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigurationError(f"ToolCall `name` must be a non-empty str, got {self.name!r}")
        if not isinstance(self.arguments, Mapping):
            raise ConfigurationError(
                f"ToolCall({self.name!r}) `arguments` must be a mapping (a JSON object), got"
                f" {type(self.arguments).__name__} {self.arguments!r}"
            )
        try:
            canonical_json(dict(self.arguments))
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"ToolCall({self.name!r}) `arguments` must be JSON-serializable: {exc}"
            ) from None
        if self.id is not None and (not isinstance(self.id, str) or not self.id):
            raise ConfigurationError(f"ToolCall `id` must be a non-empty str, got {self.id!r}")

    @property
    def arguments_json(self) -> str:
        """The arguments as compact, key-sorted JSON."""
        return canonical_json(dict(self.arguments))


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool (function) the app offered: name, description and JSON schema of its arguments."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What the app sent back for a tool call; ``str(result)`` is its content."""

    call_id: str | None
    name: str | None
    content: str

    def __str__(self) -> str:
        return self.content


@dataclass(frozen=True, slots=True)
class Message:
    """One message of the conversation.

    Attributes:
        role: ``"system"``, ``"user"``, ``"assistant"`` or ``"tool"``.
        content: the text of the message (text parts joined with newlines).
        parts: the content as the provider sent it, as parts (``{"type": "text", ...}``,
            images, ...), kept for callables that need them.
        tool_calls: the tool calls of an assistant message.
        tool_call_id: for a ``"tool"`` message, the call it answers.
        name: the tool's name of a ``"tool"`` message, when the provider says it.
    """

    role: Role
    content: str = ""
    parts: tuple[Mapping[str, Any], ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None

    def to_otel(self) -> dict[str, Any]:
        """This message in the OpenTelemetry GenAI ``gen_ai.input.messages`` shape."""
        parts: list[dict[str, Any]] = []
        if self.role == "tool":
            parts.append(
                {"type": "tool_call_response", "id": self.tool_call_id, "response": self.content}
            )
        elif self.content:
            parts.append({"type": "text", "content": self.content})
        for call in self.tool_calls:
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.id,
                    "name": call.name,
                    "arguments": dict(call.arguments),
                }
            )
        return {"role": self.role, "parts": parts}


class FakeRequest(str):
    """A model call as FakeModel sees it; the ``str`` value is the prompt (last user text).

    Attributes:
        provider: ``"openai"``, ``"anthropic"``, or ``"agentrig"`` for ``agent.run(prompt)``.
        api: ``"chat.completions"``, ``"responses"``, ``"messages"`` or ``"run"``.
        model: the model the request asked for.
        system: the system prompt (system/developer messages joined), or ``None``.
        messages: the conversation, system messages excluded.
        tools: the tools offered.
        tool_choice: the provider's tool-choice value, as sent (``None`` if absent).
        schema: the JSON schema of the requested structured output, or ``None``.
        json_mode: the app asked for JSON (a schema, or OpenAI's ``json_object``).
        params: sampling parameters as sent (``temperature``, ``max_tokens``, ``seed``, ...).
        stream: the app asked for a streamed reply.
    """

    provider: str
    api: Api
    model: str
    system: str | None
    messages: tuple[Message, ...]
    tools: tuple[Tool, ...]
    tool_choice: Any
    schema: Mapping[str, Any] | None
    schema_name: str | None
    json_mode: bool
    params: Mapping[str, Any]
    stream: bool

    def __new__(
        cls,
        *,
        provider: str,
        api: Api,
        model: str,
        messages: Sequence[Message],
        system: str | None = None,
        tools: Sequence[Tool] = (),
        tool_choice: Any = None,
        schema: Mapping[str, Any] | None = None,
        schema_name: str | None = None,
        json_mode: bool = False,
        params: Mapping[str, Any] | None = None,
        stream: bool = False,
    ) -> FakeRequest:
        messages = tuple(messages)
        prompt = next((m.content for m in reversed(messages) if m.role == "user"), "")
        self = super().__new__(cls, prompt)
        self.provider = provider
        self.api = api
        self.model = model
        self.system = system
        self.messages = messages
        self.tools = tuple(tools)
        self.tool_choice = tool_choice
        self.schema = schema
        self.schema_name = schema_name
        self.json_mode = json_mode or schema is not None
        self.params = dict(params or {})
        self.stream = stream
        return self

    @classmethod
    def from_prompt(cls, prompt: str, *, model: str) -> FakeRequest:
        """The request ``agent.run(prompt)`` makes: one user message."""
        # What __new__ builds for these arguments, without its general steps (every fake
        # agent call comes through here).
        self = str.__new__(cls, prompt)
        self.provider = "agentrig"
        self.api = "run"
        self.model = model
        self.system = None
        self.messages = (Message("user", prompt),)
        self.tools = ()
        self.tool_choice = None
        self.schema = None
        self.schema_name = None
        self.json_mode = False
        self.params = {}
        self.stream = False
        return self

    def __repr__(self) -> str:
        return (
            f"FakeRequest(provider={self.provider!r}, api={self.api!r}, model={self.model!r},"
            f" system={_cut(self.system)!r}, messages={len(self.messages)},"
            f" tools={list(self.tool_names)},"
            f" schema={self.schema_name or bool(self.schema)},"
            f" prompt={_cut(str(self))!r})"
        )

    # str's own __reduce__ would rebuild a plain str; a request is never pickled by agentrig.

    @property
    def prompt(self) -> str:
        """The text of the last user message (also the request's ``str`` value)."""
        return str.__str__(self)

    @property
    def tool_results(self) -> tuple[ToolResult, ...]:
        """Every tool result the app sent, in conversation order."""
        return tuple(
            ToolResult(m.tool_call_id, m.name, m.content) for m in self.messages if m.role == "tool"
        )

    @property
    def tool_names(self) -> tuple[str, ...]:
        """The names of the tools offered."""
        return tuple(t.name for t in self.tools)

    def tool(self, name: str) -> Tool | None:
        """The offered tool called ``name``, or ``None``."""
        return next((t for t in self.tools if t.name == name), None)

    def describe(self) -> str:
        """A few lines showing the request, for error messages."""
        lines = [f"{self.provider} {self.api} request for model {self.model!r}"]
        if self.system:
            lines.append(f"  system: {_cut(self.system, 80)!r}")
        for m in self.messages[-4:]:
            text = m.content or ", ".join(f"{c.name}({c.arguments_json})" for c in m.tool_calls)
            lines.append(f"  {m.role}: {_cut(text, 80)!r}")
        if self.tools:
            lines.append(f"  tools: {', '.join(self.tool_names)}")
        if self.schema is not None:
            lines.append(f"  structured output: {self.schema_name or 'json schema'}")
        return "\n".join(lines)

    def count_tokens(self, count: Callable[[str], int]) -> int:
        """Input tokens of this request under the tokenizer ``count`` (see the module notes)."""
        total = count(self.system) if self.system else 0
        for m in self.messages:
            total += count(m.content)
            for call in m.tool_calls:
                total += count(call.name) + count(call.arguments_json)
        for tool in self.tools:
            total += count(tool.name) + count(tool.description)
            total += count(canonical_json(dict(tool.parameters)))
        return total


def _cut(text: str | None, n: int = 40) -> str | None:
    if text is None:
        return None
    return text if len(text) <= n else text[: n - 1] + "…"


# -- schemas --------------------------------------------------------------------------------------


def validate_against_schema(value: object, schema: Mapping[str, Any], *, what: str) -> None:
    """Raise :class:`~agentrig.ScriptMismatch` naming the field if ``value`` misfits ``schema``.

    Uses ``jsonschema`` (installed with the ``openai``/``anthropic`` extras); imported here,
    lazily, because only requests that carry a schema need it.
    """
    try:
        import jsonschema  # type: ignore[import-untyped]  # no stubs; used in one place
    except ImportError as exc:  # pragma: no cover - the extras install it
        raise ConfigurationError(
            f"checking {what} needs the jsonschema package: pip install 'pytest-agentrig[openai]'"
        ) from exc
    validator_cls = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft202012Validator
    )
    try:
        validator_cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ScriptMismatch(f"{what}: the app's JSON schema is invalid: {exc.message}") from None
    errors = sorted(
        validator_cls(schema).iter_errors(value), key=lambda e: (list(map(str, e.path)), e.message)
    )
    if not errors:
        return
    lines = []
    for error in errors[:5]:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        lines.append(f"  field {where}: {error.message}")
    raise ScriptMismatch(
        f"{what} does not match the schema the app sent:\n"
        + "\n".join(lines)
        + f"\n  value: {_cut(canonical_json(value), 200)}"
        + "\nFix the scripted reply (or the app's schema)."
    )


def example_for_schema(schema: Mapping[str, Any], *, defs: Mapping[str, Any] | None = None) -> Any:
    """A small, deterministic value that fits ``schema`` (the default structured reply)."""
    defs = (
        defs if defs is not None else {**schema.get("$defs", {}), **schema.get("definitions", {})}
    )
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1])
        return example_for_schema(target, defs=defs) if isinstance(target, Mapping) else None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if options:
            if key == "allOf":
                merged: dict[str, Any] = {}
                for option in options:
                    value = example_for_schema(option, defs=defs)
                    if isinstance(value, dict):
                        merged.update(value)
                return merged
            return example_for_schema(options[0], defs=defs)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties", {})
        required = schema.get("required", list(props))
        return {
            name: example_for_schema(props[name], defs=defs) for name in required if name in props
        }
    if kind == "array":
        items = schema.get("items")
        count = int(schema.get("minItems", 0))
        return [example_for_schema(items or {}, defs=defs) for _ in range(count)]
    if kind == "string":
        return "x" * int(schema.get("minLength", 0)) if schema.get("minLength") else "text"
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    return None


#: A reply value before it is checked against a request.
ReplyValue: TypeAlias = "str | ToolCall | Sequence[ToolCall] | Mapping[str, Any] | Any"
