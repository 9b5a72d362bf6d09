"""Tool execution spans for app code with no instrumentation of its own: ``agentrig.tool``.

Usage::

    @agentrig.tool
    async def search(query: str) -> list[str]: ...

    @agentrig.tool(name="kb.lookup", content=True)        # arguments and result recorded
    def lookup(ticket_id: str) -> dict[str, str]: ...

    with agentrig.tool("refund", arguments={"order": "A-7"}, call_id=call.id) as run:
        run.set_result(issue_refund("A-7"))

Each execution is one ``"execute_tool {name}"`` span (OpenTelemetry GenAI conventions) with
``gen_ai.operation.name="execute_tool"``, ``gen_ai.tool.name``, ``gen_ai.tool.type``
(``"function"``) and, when known, ``gen_ai.tool.call.id`` and ``gen_ai.tool.description``.
An exception escaping the tool is recorded on the span (with ``error.type``) and re-raised.

Arguments and result are *content*: the conventions make ``gen_ai.tool.call.arguments`` and
``gen_ai.tool.call.result`` opt-in, and so does agentrig: pass ``content=True``, or set
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` (the variable OpenTelemetry's GenAI
instrumentations read) to record them everywhere. They are stored as structured values (not
JSON strings), so a snapshot's redaction applies to them key by key like to any attribute,
before anything is written.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Final, ParamSpec, TypeVar, overload

from agentrig._errors import AgentRigError, ConfigurationError, StateError
from agentrig.tracing import (
    ERROR_TYPE,
    GEN_AI_OPERATION_NAME,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_CALL_RESULT,
    GEN_AI_TOOL_DESCRIPTION,
    GEN_AI_TOOL_NAME,
    GEN_AI_TOOL_TYPE,
    OPERATION_EXECUTE_TOOL,
    Span,
    Tracer,
    default_tracer,
    tool_span_name,
)

__all__ = ["CAPTURE_CONTENT_ENV", "ToolExecution", "tool"]

#: The environment variable that turns content capture on for every tool (``true``/``1``).
CAPTURE_CONTENT_ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

P = ParamSpec("P")
R = TypeVar("R")


def _content_default() -> bool:
    return os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"a tool's `name` must be a non-empty str, got {name!r}")
    return name


class ToolExecution:
    """One execution of a tool, as a span: a (sync or async) context manager.

    Made by :func:`tool`. Single use: enter it once.

    Args:
        name: the tool's name (``gen_ai.tool.name``).
        arguments: what the tool was called with (recorded only with content capture on).
        call_id: the model's id of the tool call (``gen_ai.tool.call.id``), if any.
        description: ``gen_ai.tool.description``.
        content: record arguments and result; ``None``: as the environment says.
        tracer: the tracer for the span; default :func:`agentrig.tracing.default_tracer`.
    """

    __slots__ = (
        "_arguments",
        "_content",
        "_entered",
        "_result",
        "_scope",
        "_span",
        "_tracer",
        "call_id",
        "description",
        "name",
    )

    def __init__(
        self,
        name: str,
        *,
        arguments: Mapping[str, Any] | None = None,
        call_id: str | None = None,
        description: str | None = None,
        content: bool | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.name = _check_name(name)
        if arguments is not None and not isinstance(arguments, Mapping):
            raise ConfigurationError(
                f"tool {name!r}: `arguments` must be a mapping of names to values, got"
                f" {type(arguments).__name__}"
            )
        if tracer is not None and not isinstance(tracer, Tracer):
            raise ConfigurationError(f"tool {name!r}: `tracer` must be a Tracer, got {tracer!r}")
        self._arguments = dict(arguments) if arguments is not None else None
        self.call_id = call_id
        self.description = description
        self._content = _content_default() if content is None else bool(content)
        self._tracer = tracer
        self._entered = False
        self._scope: Any = None
        self._span: Span | None = None
        self._result: Any = _UNSET

    def __repr__(self) -> str:
        state = "running" if self._span is not None and not self._span.is_ended else "idle"
        return f"<ToolExecution {self.name!r} call_id={self.call_id!r} {state}>"

    @property
    def span(self) -> Span:
        """The execution's span (inside the ``with`` block)."""
        if self._span is None:
            raise AgentRigError(f"tool {self.name!r} has no span yet: use it in a `with` block")
        return self._span

    def set_result(self, value: Any) -> None:
        """Record what the tool returned (kept only with content capture on)."""
        self._result = value

    def __enter__(self) -> ToolExecution:
        if self._entered:
            raise StateError(
                f"tool execution {self.name!r} was already entered; call agentrig.tool(...)"
                " once per `with` block"
            )
        self._entered = True
        attributes: dict[str, Any] = {
            GEN_AI_OPERATION_NAME: OPERATION_EXECUTE_TOOL,
            GEN_AI_TOOL_NAME: self.name,
            GEN_AI_TOOL_TYPE: "function",
        }
        if self.call_id is not None:
            attributes[GEN_AI_TOOL_CALL_ID] = self.call_id
        if self.description:
            attributes[GEN_AI_TOOL_DESCRIPTION] = self.description
        if self._content and self._arguments is not None:
            attributes[GEN_AI_TOOL_CALL_ARGUMENTS] = self._arguments
        tracer = self._tracer or default_tracer()
        self._scope = tracer.span(tool_span_name(self.name), attributes=attributes)
        self._span = self._scope.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span = self._span
        if span is None:  # pragma: no cover - __exit__ without __enter__
            return
        if exc is not None and not isinstance(exc, GeneratorExit):
            span.set_attribute(ERROR_TYPE, type(exc).__qualname__)
        elif self._content and self._result is not _UNSET:
            span.set_attribute(GEN_AI_TOOL_CALL_RESULT, self._result)
        self._scope.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> ToolExecution:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Final = _Unset()


def _decorate(
    fn: Callable[P, R],
    name: str | None,
    description: str | None,
    content: bool | None,
    tracer: Tracer | None,
) -> Callable[P, R]:
    if not callable(fn):
        raise ConfigurationError(f"agentrig.tool decorates a function, got {fn!r}")
    tool_name = _check_name(name if name is not None else getattr(fn, "__name__", None))
    if description is None:
        doc = inspect.getdoc(fn)
        description = doc.strip().splitlines()[0] if doc and doc.strip() else None
    try:
        signature: inspect.Signature | None = inspect.signature(fn)
    except (TypeError, ValueError):
        signature = None

    def execution(args: tuple[Any, ...], kwargs: dict[str, Any]) -> ToolExecution:
        arguments: dict[str, Any]
        if signature is not None:
            try:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                arguments = dict(bound.arguments)
            except TypeError:
                arguments = {"args": list(args), **kwargs}
        else:
            arguments = {"args": list(args), **kwargs}
        arguments.pop("self", None)
        return ToolExecution(
            tool_name,
            arguments=arguments,
            description=description,
            content=content,
            tracer=tracer,
        )

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            with execution(args, kwargs) as run:
                result = await fn(*args, **kwargs)
                run.set_result(result)
                return result

        return run_async  # type: ignore[return-value]

    @functools.wraps(fn)
    def run_sync(*args: P.args, **kwargs: P.kwargs) -> R:
        with execution(args, kwargs) as run:
            result = fn(*args, **kwargs)
            run.set_result(result)
            return result

    return run_sync


@overload
def tool(fn: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    content: bool | None = None,
    tracer: Tracer | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


@overload
def tool(
    name: str,
    /,
    *,
    arguments: Mapping[str, Any] | None = None,
    call_id: str | None = None,
    description: str | None = None,
    content: bool | None = None,
    tracer: Tracer | None = None,
) -> ToolExecution: ...


def tool(
    fn_or_name: Callable[..., Any] | str | None = None,
    /,
    *,
    name: str | None = None,
    arguments: Mapping[str, Any] | None = None,
    call_id: str | None = None,
    description: str | None = None,
    content: bool | None = None,
    tracer: Tracer | None = None,
) -> Any:
    """Record a tool execution as an ``execute_tool {name}`` span.

    Three forms: ``@tool`` (the function's name), ``@tool(name=..., content=...)``, and
    ``with tool("name", arguments=..., call_id=...) as run:`` (a :class:`ToolExecution`; call
    ``run.set_result(value)`` to record the result).

    Args:
        fn_or_name: the function to decorate, or the tool's name for the ``with`` form.
        name: the tool's name, for the decorator form (default: the function's name).
        arguments: the ``with`` form's arguments (the decorator binds the call's own).
        call_id: the model's id of this tool call (``with`` form).
        description: ``gen_ai.tool.description`` (the decorator uses the docstring's first
            line).
        content: record arguments and result (opt-in; default: the
            ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` environment variable).
        tracer: the tracer for the spans (default: the process-wide one, which reports into
            the active recording).

    Raises:
        ConfigurationError: an empty name, non-mapping arguments, a non-Tracer tracer.
    """
    if isinstance(fn_or_name, str):
        if name is not None:
            raise ConfigurationError(
                f"tool {fn_or_name!r}: give the name once (positionally or as name=, not both)"
            )
        return ToolExecution(
            fn_or_name,
            arguments=arguments,
            call_id=call_id,
            description=description,
            content=content,
            tracer=tracer,
        )
    if arguments is not None or call_id is not None:
        raise ConfigurationError(
            "agentrig.tool: `arguments` and `call_id` belong to the `with tool(name, ...)` form;"
            " the decorator records each call's own arguments"
        )
    if fn_or_name is None:
        return lambda fn: _decorate(fn, name, description, content, tracer)
    return _decorate(fn_or_name, name, description, content, tracer)
