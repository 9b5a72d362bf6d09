"""Spans with attributes, events, status and exceptions, nested by ``contextvars``.

Usage::

    tracer = Tracer(export_path="traces/broadcast.jsonl")
    with tracer.span("broadcast") as span:
        span.add_event("agent_1_failed", error="boom")
        span.set_attribute("agents_succeeded", 2)

A span opened while another is current becomes its child. "Current" is a context variable, so
it follows asyncio the way a reader expects: tasks created inside a span (``asyncio.gather``,
``create_task``, ``TaskGroup``) copy the context at creation, and the spans they open nest
under the span that spawned them, whatever order they finish in.

Semantics, following OpenTelemetry where it has an opinion:

* Status is ``"unset"`` unless set: a clean exit does not mark a span ``"ok"`` (OpenTelemetry
  reserves ``ok`` for an explicit verdict). An exception escaping the ``with`` block is recorded
  (an ``"exception"`` event with ``exception.type`` / ``exception.message``), sets the status to
  ``"error"`` and is re-raised unchanged — cancellation included, since a cancelled span did not
  complete. ``GeneratorExit`` is cleanup, not failure, and is not recorded.
* ``exception.type`` is the class's ``__qualname__`` (as OpenTelemetry's Python SDK writes it);
  no stack trace is kept: it would change with every edit and belongs in the test report.
* A span that has ended is read-only: mutating it raises, because an attribute set after the
  span was exported would silently be missing from the export. :func:`current_span` returns
  ``None`` rather than an ended span (a fire-and-forget task that outlived its span).
* Attribute values are stored as given; the JSONL export writes values that are not JSON as
  stable placeholders (``agentrig.recording.json_default``) and normalization handles the rest.

Implementation notes
--------------------
* Under a :class:`~agentrig.recording.Recording` (looked up when the span *opens*, never when
  the tracer is built, so a module-level tracer works), the span's data is the recording's own
  :class:`~agentrig.recording.SpanRecord`: ids, ``seq`` and virtual times come from the
  recording, and ``agentrig.recording.current_span_id`` is set for the block so every entry made
  inside (decisions, budget moves, bus traffic) is attributed to the span. The span ends in the
  recording it started in.
* Without a recording the tracer numbers spans itself from a process-wide counter (so spans of
  different tracers never share an id) and times them with the running loop's clock, or
  ``time.monotonic()`` outside a loop.
* The export (one JSON line per finished span, at span end, so children come before their
  parent) is resolved at each write and redirected under an active recording's ``export_dir``,
  exactly like a :class:`~agentrig.decisions.DecisionLog`.
"""

from __future__ import annotations

import collections
import itertools
import os
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from contextvars import ContextVar, Token
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any

import orjson

from agentrig._errors import AgentRigError, ConfigurationError, StateError
from agentrig._jsonl import DEFAULT, Default, JsonlAppender, keep_for, now
from agentrig._secrets import redact_secrets
from agentrig.recording import (
    Recording,
    SpanEvent,
    SpanRecord,
    active_recording,
    current_span_id,
    json_default,
    span_to_dict,
)
from agentrig.vocabulary import (
    AGENTRIG_COST_USD,
    ERROR_TYPE,
    EXCEPTION_MESSAGE,
    EXCEPTION_TYPE,
    GEN_AI_AGENT_ID,
    GEN_AI_AGENT_NAME,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_FINISH_REASONS,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_SYSTEM,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_CALL_RESULT,
    GEN_AI_TOOL_DESCRIPTION,
    GEN_AI_TOOL_NAME,
    GEN_AI_TOOL_TYPE,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_WORKFLOW_NAME,
    OPERATION_CHAT,
    OPERATION_EXECUTE_TOOL,
    OPERATION_INVOKE_AGENT,
    OPERATION_INVOKE_WORKFLOW,
    OPERATION_TEXT_COMPLETION,
    SEMCONV_SCHEMA_URL,
    SEMCONV_VERSION,
    SPAN_STATUSES,
    SpanStatus,
    agent_span_name,
    model_call_span_name,
    operation_span_name,
    tool_span_name,
    workflow_span_name,
)

__all__ = [
    "AGENTRIG_COST_USD",
    "ERROR_TYPE",
    "EXCEPTION_MESSAGE",
    "EXCEPTION_TYPE",
    "GEN_AI_AGENT_ID",
    "GEN_AI_AGENT_NAME",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MAX_TOKENS",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_SYSTEM",
    "GEN_AI_TOOL_CALL_ARGUMENTS",
    "GEN_AI_TOOL_CALL_ID",
    "GEN_AI_TOOL_CALL_RESULT",
    "GEN_AI_TOOL_DESCRIPTION",
    "GEN_AI_TOOL_NAME",
    "GEN_AI_TOOL_TYPE",
    "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS",
    "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "GEN_AI_WORKFLOW_NAME",
    "OPERATION_CHAT",
    "OPERATION_EXECUTE_TOOL",
    "OPERATION_INVOKE_AGENT",
    "OPERATION_INVOKE_WORKFLOW",
    "OPERATION_TEXT_COMPLETION",
    "SEMCONV_SCHEMA_URL",
    "SEMCONV_VERSION",
    "Span",
    "SpanStatus",
    "Tracer",
    "agent_span_name",
    "current_span",
    "default_tracer",
    "model_call_span_name",
    "operation_span_name",
    "tool_span_name",
    "workflow_span_name",
]

# -- attribute names: OpenTelemetry GenAI semantic conventions --------------------------------
# https://opentelemetry.io/docs/specs/semconv/gen-ai/ (now maintained in the
# open-telemetry/semantic-conventions-genai repository). The names live in agentrig.vocabulary
# (normalization reads them too); these are their public homes. Span names follow the same
# conventions, "{gen_ai.operation.name} {name}": use the *_span_name helpers.

JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE

# The span the current task/thread is inside, whichever tracer opened it (as in OpenTelemetry,
# nesting crosses tracers).
_current: ContextVar[Span | None] = ContextVar("agentrig_current_span", default=None)
# Ids and sequence numbers of spans made without a recording: process-wide, so unique.
_own_ids = itertools.count(1)
_own_seq = itertools.count(1)
_own_lock = threading.Lock()


def current_span() -> Span | None:
    """The span the caller is inside (opened by any tracer), or ``None``.

    Returns ``None`` outside every span, and also when the current span has already ended (a
    task that outlived the span it was created in).

    Usage::

        span = current_span()
        if span is not None:
            span.add_event("cache_hit", key=key)
    """
    span = _current.get()
    if span is None or span.is_ended:
        return None
    return span


def _check_key(key: object, what: str) -> None:
    if not isinstance(key, str) or not key:
        raise ConfigurationError(f"{what} must be a non-empty str, got {key!r}")


# Span, attribute and event names already checked: programs use a few fixed names over and
# over, so a set lookup (one C-level pass over an attributes dict) replaces the check per key.
# Bounded, for programs that make names up as they go (those are checked every time).
_checked_keys: set[str] = set()
_CHECKED_KEYS_MAX = 4096


def _check_keys(keys: Iterable[object], what: str) -> None:
    try:
        if _checked_keys.issuperset(keys):
            return
    except TypeError:  # an unhashable key: the check below names it
        pass
    for key in keys:
        _check_key(key, what)
        if len(_checked_keys) < _CHECKED_KEYS_MAX:
            _checked_keys.add(key)  # type: ignore[arg-type]  # a non-empty str: just checked


def _exception_info(exc: BaseException) -> dict[str, str]:
    return {"type": type(exc).__qualname__, "message": str(exc)}


class Span:
    """One timed operation: a name, attributes, events, a status, maybe an exception.

    Made by :meth:`Tracer.span`, never directly. Its data is a
    :class:`~agentrig.recording.SpanRecord` (:attr:`record`), shared with the active recording
    when there is one.

    Usage::

        with tracer.span("review", attributes={GEN_AI_AGENT_NAME: "review"}) as span:
            span.set_attribute("revision", 2)
            span.add_event("critique", text="tighten intro")
    """

    __slots__ = ("__weakref__", "_ended", "_last_exception", "_record", "_recording", "_tracer")

    def __init__(self, record: SpanRecord, tracer: Tracer, recording: Recording | None) -> None:
        self._record = record
        self._tracer = tracer
        self._recording = recording
        self._ended = False
        self._last_exception: BaseException | None = None

    def __repr__(self) -> str:
        r = self._record
        state = "ended" if self._ended else "open"
        return redact_secrets(
            f"<Span {r.name!r} id={r.span_id} parent={r.parent_id} status={r.status}"
            f" attributes={len(r.attributes)} events={len(r.events)} {state}>"
        )

    # -- reading ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The span's name."""
        return self._record.name

    @property
    def span_id(self) -> int:
        """The span's id (the recording's, under a recording)."""
        return self._record.span_id

    @property
    def parent_id(self) -> int | None:
        """The id of the span this one nests under, or ``None`` for a root span."""
        return self._record.parent_id

    @property
    def attributes(self) -> Mapping[str, Any]:
        """A read-only live view of the attributes."""
        return MappingProxyType(self._record.attributes)

    @property
    def events(self) -> tuple[SpanEvent, ...]:
        """The events added so far, in order."""
        return tuple(self._record.events)

    @property
    def status(self) -> SpanStatus:
        """``"unset"``, ``"ok"`` or ``"error"``."""
        return self._record.status

    @property
    def status_message(self) -> str | None:
        """The description that came with an ``"error"`` status."""
        return self._record.status_message

    @property
    def start(self) -> float | None:
        """When the span opened.

        Under a recording, the recording's time (virtual; ``None`` off agentrig's loop);
        otherwise the running loop's clock, or ``time.monotonic()`` outside a loop.
        """
        return self._record.start

    @property
    def end(self) -> float | None:
        """When the span ended (same clock as :attr:`start`); ``None`` while open."""
        return self._record.end

    @property
    def is_ended(self) -> bool:
        """Whether the ``with`` block has exited."""
        return self._ended

    @property
    def record(self) -> SpanRecord:
        """The span as data (the same object the recording and the export hold)."""
        return self._record

    @property
    def tracer(self) -> Tracer:
        """The tracer that opened the span."""
        return self._tracer

    # -- writing ----------------------------------------------------------------------------

    def _check_open(self, action: str) -> None:
        if self._ended:
            raise AgentRigError(
                f"cannot {action} on span {self.name!r}: it has already ended (and been"
                " exported); do it inside its `with tracer.span(...)` block"
            )

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute (replacing any earlier value of ``key``).

        Args:
            key: the attribute name; prefer the GenAI constants of this module for model calls.
            value: stored as given.

        Raises:
            ConfigurationError: ``key`` is not a non-empty str.
            AgentRigError: the span has ended.
        """
        if type(key) is not str or key not in _checked_keys:
            _check_keys((key,), "a span attribute name")
        if self._ended:
            self._check_open(f"set attribute {key!r}")
        self._record.attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Set several attributes at once.

        Args:
            attributes: names to values, applied in order.

        Raises:
            ConfigurationError: a key is not a non-empty str (nothing is set then).
            AgentRigError: the span has ended.
        """
        _check_keys(attributes, "a span attribute name")
        self._check_open("set attributes")
        self._record.attributes.update(attributes)

    def add_event(self, name: str, **attributes: Any) -> None:
        """Add a point-in-time event (``"agent_1_failed"``) with its own attributes.

        Args:
            name: the event's name.
            **attributes: the event's attributes, stored as given.

        Raises:
            ConfigurationError: ``name`` is not a non-empty str.
            AgentRigError: the span has ended.
        """
        if type(name) is not str or name not in _checked_keys:
            _check_keys((name,), "a span event name")
        if self._ended:
            self._check_open(f"add event {name!r}")
        self._add_event(name, attributes)

    def _add_event(self, name: str, attributes: dict[str, Any]) -> None:
        rec = self._recording
        t = rec.now() if rec is not None else now()
        self._record.events.append(
            SpanEvent(name=name, t=t, attributes=attributes, wall=time.time())
        )

    def set_status(self, status: SpanStatus, message: str | None = None) -> None:
        """Set the status; the last call wins.

        Args:
            status: ``"unset"``, ``"ok"`` or ``"error"``.
            message: a description, kept only with ``"error"`` (as in OpenTelemetry).

        Raises:
            ConfigurationError: an unknown status.
            AgentRigError: the span has ended.
        """
        if status not in SPAN_STATUSES:
            raise ConfigurationError(
                f"span status must be one of {', '.join(map(repr, SPAN_STATUSES))}, got {status!r}"
            )
        if self._ended:
            self._check_open(f"set status {status!r}")
        self._record.status = status
        self._record.status_message = message if status == "error" else None

    def record_exception(self, exc: BaseException) -> None:
        """Record an exception: an ``"exception"`` event, status ``"error"``, ``record.error``.

        Recording the same exception object twice (by hand inside the block, then again as it
        escapes) adds one event.

        Args:
            exc: the exception.

        Raises:
            AgentRigError: the span has ended.
        """
        self._check_open("record an exception")
        if exc is self._last_exception:
            return
        self._last_exception = exc
        info = _exception_info(exc)
        self._add_event(
            "exception", {EXCEPTION_TYPE: info["type"], EXCEPTION_MESSAGE: info["message"]}
        )
        self._record.status = "error"
        self._record.status_message = (
            f"{info['type']}: {info['message']}" if info["message"] else info["type"]
        )
        self._record.error = info


class _SpanScope:
    """What ``tracer.span(...)`` returns: a one-shot context manager opening a Span."""

    __slots__ = ("_attributes", "_name", "_span", "_token", "_token_id", "_tracer")

    def __init__(self, tracer: Tracer, name: str, attributes: Mapping[str, Any] | None) -> None:
        self._tracer = tracer
        self._name = name
        self._attributes = attributes
        self._span: Span | None = None
        self._token: Token[Span | None] | None = None
        self._token_id: Token[int | None] | None = None

    def __enter__(self) -> Span:
        if self._span is not None:
            raise StateError(
                f"the span {self._name!r} was already entered; call tracer.span(...) once per"
                " `with` block"
            )
        span = self._tracer._open(self._name, self._attributes)
        self._span = span
        self._token = _current.set(span)
        if span._recording is not None:
            self._token_id = current_span_id.set(span.span_id)
        return span

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
            span.record_exception(exc)
        # (_reset's try/except, inline: every span ends here)
        token_id, token = self._token_id, self._token
        if token_id is not None:
            try:
                current_span_id.reset(token_id)
            except ValueError:
                _reset(current_span_id, token_id)
        if token is not None:
            try:
                _current.reset(token)
            except ValueError:
                _reset(_current, token)
        try:
            self._tracer._close(span)
        except AgentRigError as export_error:
            if exc is None:
                raise
            # Never let a failing export hide the exception that is already propagating.
            exc.add_note(f"agentrig: additionally, {export_error}")


def _reset(var: ContextVar[Any], token: Token[Any] | None) -> None:
    if token is None:
        return
    try:
        var.reset(token)
    except ValueError:
        # Exited in another context than entered (a hand-driven __enter__/__exit__): restore
        # the value from before the span rather than fail.
        var.set(token.old_value if token.old_value is not Token.MISSING else None)


class Tracer:
    """Opens spans, keeps the finished ones, and exports them as JSONL.

    Args:
        export_path: a JSONL file to append each finished span to (one line per span,
            written at span end: the fields of :class:`~agentrig.recording.SpanRecord`, sorted
            keys), or ``None``. Resolved at each write and redirected under an active
            recording's ``export_dir``; parent folders are created.
        name: a label for ``repr`` and error messages; default the export file's name, or
            ``"tracer"``.
        keep: how many of the newest finished spans :attr:`finished_spans` keeps; ``None`` keeps
            all. Default: all without an export, the newest 10,000 with one.

    Raises:
        ConfigurationError: an empty ``export_path`` or ``name``, a negative ``keep``.

    Usage::

        tracer = Tracer(export_path="traces/broadcast.jsonl")
        with tracer.span("broadcast") as span:
            span.add_event("agent_1_failed", error="boom")
            span.set_attribute("agents_succeeded", 2)
        tracer.finished_spans[0].attributes["agents_succeeded"]      # 2
    """

    def __init__(
        self,
        *,
        export_path: str | os.PathLike[str] | None = None,
        name: str | None = None,
        keep: int | Default | None = DEFAULT,
    ) -> None:
        if export_path is not None and (
            not isinstance(export_path, (str, os.PathLike)) or not os.fspath(export_path)
        ):
            raise ConfigurationError(
                f"`export_path` must be a non-empty str or os.PathLike (or None),"
                f" got {export_path!r}"
            )
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigurationError(f"`name` must be a non-empty str or None, got {name!r}")
        self.export_path: str | os.PathLike[str] | None = export_path
        self.name: str = name or (
            os.path.basename(os.fspath(export_path)) if export_path is not None else "tracer"
        )
        self._finished: collections.deque[Span] = collections.deque(
            maxlen=keep_for(keep, file_backed=export_path is not None)
        )
        self._lock = threading.Lock()
        self._sink: JsonlAppender | None = None
        if export_path is not None:
            self._sink = JsonlAppender(
                export_path, owner=f"Tracer {self.name!r}", error=AgentRigError
            )
            weakref.finalize(self, self._sink.close)

    def __repr__(self) -> str:
        export = "None" if self.export_path is None else repr(os.fspath(self.export_path))
        return redact_secrets(
            f"<Tracer {self.name!r} export_path={export} finished={len(self._finished)}>"
        )

    def span(self, name: str, *, attributes: Mapping[str, Any] | None = None) -> _SpanScope:
        """Open a span for a ``with`` block (a sync context manager; fine in async code).

        The span nests under :func:`current_span` and is current inside the block. An
        exception escaping the block is recorded on the span and re-raised.

        Args:
            name: the span's name (``"broadcast"``, ``"chat gpt-4o"``).
            attributes: initial attributes, stored as given.

        Returns:
            A context manager whose ``__enter__`` returns the :class:`Span`.

        Raises:
            ConfigurationError: ``name`` or an attribute name is not a non-empty str.

        Usage::

            with tracer.span("research", attributes={GEN_AI_AGENT_NAME: "research"}) as span:
                out = await agent.run(prompt)
                span.set_attribute(GEN_AI_USAGE_OUTPUT_TOKENS, out.tokens)
        """
        if type(name) is not str or name not in _checked_keys:
            _check_keys((name,), "a span name")
        if attributes:
            _check_keys(attributes, "a span attribute name")
        return _SpanScope(self, name, attributes)

    def _open(self, name: str, attributes: Mapping[str, Any] | None) -> Span:
        rec = active_recording()
        if rec is not None:
            # The recording takes its parent from current_span_id, which we set for its spans;
            # it copies the attributes.
            return Span(rec.start_span(name, attributes=attributes), self, rec)
        parent = _current.get()
        # A parent from a recording numbers its ids differently: do not link across.
        parent_id = parent.span_id if parent is not None and parent._recording is None else None
        with _own_lock:
            span_id, seq = next(_own_ids), next(_own_seq)
        record = SpanRecord(
            span_id=span_id,
            parent_id=parent_id,
            name=name,
            seq=seq,
            start=now(),
            attributes=dict(attributes or {}),
            wall_start=time.time(),
        )
        return Span(record, self, None)

    def _close(self, span: Span) -> None:
        rec = span._recording
        if rec is not None:
            rec.end_span(span._record)
        else:
            record = span._record
            record.end = now()
            with _own_lock:
                record.end_seq = next(_own_seq)
            record.wall_end = time.time()
        span._ended = True
        with self._lock:
            self._finished.append(span)
            if self._sink is not None:
                self._sink.ensure_open()
                self._sink.write(self._dumps(span._record))

    def _dumps(self, record: SpanRecord) -> bytes:
        try:
            return orjson.dumps(span_to_dict(record), default=json_default, option=JSON_OPTIONS)
        except orjson.JSONEncodeError as exc:
            raise AgentRigError(
                f"Tracer {self.name!r} cannot serialize span {record.name!r}: {exc}; give"
                " attributes plain values (str, numbers, lists, dicts)"
            ) from exc

    @property
    def finished_spans(self) -> tuple[Span, ...]:
        """The spans that ended (the newest ``keep``), in the order they ended."""
        with self._lock:
            return tuple(self._finished)

    @property
    def current_export_path(self) -> Path | None:
        """The file the next finished span goes to, resolved now (``None`` without export)."""
        return self._sink.resolve() if self._sink is not None else None

    def clear(self) -> None:
        """Forget the finished spans (the export file is untouched)."""
        with self._lock:
            self._finished.clear()

    def close(self) -> None:
        """Close the export file (if open); a later span reopens it. Closing twice is fine."""
        with self._lock:
            if self._sink is not None:
                self._sink.close()


_default_tracer: Tracer | None = None
_default_lock = threading.Lock()

#: How many finished spans the process-wide default tracer keeps.
DEFAULT_TRACER_KEEP = 1_000


def default_tracer() -> Tracer:
    """The process-wide tracer (no export) used when a caller passes none.

    It keeps the newest 1,000 finished spans; under a recording every span lands in the
    recording anyway.

    Returns:
        The same :class:`Tracer` on every call.
    """
    global _default_tracer
    tracer = _default_tracer
    if tracer is None:
        with _default_lock:
            tracer = _default_tracer
            if tracer is None:
                tracer = _default_tracer = Tracer(name="agentrig", keep=DEFAULT_TRACER_KEEP)
    return tracer
