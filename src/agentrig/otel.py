"""OpenTelemetry in: spans that instrumented code emits land in the active agentrig recording.

Frameworks already describe their runs as OpenTelemetry spans (pydantic-ai's ``instrument=True``,
OpenLLMetry / OpenInference instrumentations, users' own ``opentelemetry.trace`` spans). A
:class:`RecordingSpanProcessor` copies every span that *starts* while a recording is active into
that recording, as a :class:`~agentrig.recording.SpanRecord` like the tracer's own, so the span
is normalized, snapshotted and drift-compared exactly like agentrig's spans.

Implementation notes
--------------------
* **Time.** The recording stamps the record when the span starts (``on_start``) and when it ends
  (``on_end``) with its own clock: virtual time on agentrig's loop. OpenTelemetry's
  ``start_time`` / ``end_time`` (wall-clock nanoseconds) are never read. Events keep their
  order and attributes but no time: their timestamps are wall clock, and nothing deterministic
  can be derived from them.
* **Nesting.** A span nests under the innermost of two candidates: its OpenTelemetry parent (if
  that span is captured in the same recording) and the agentrig span current when it started
  (``agentrig.recording.current_span_id``). One of them is always an ancestor of the other
  when both exist in one task; the descendant wins. The reverse direction is a parent hook on
  the recording: agentrig spans and entries made inside a captured OpenTelemetry span nest
  under it.
* **What is kept.** Name, attributes (plus ``span.kind`` and ``otel.scope.name``; the scope's
  version is left out so an upgrade is no drift), events, status and its description, the
  exception of an ``exception`` event as the record's ``error``. Ids are the recording's
  (renumbered again by normalization); trace ids are not kept. Attribute values that JSON
  cannot hold (bytes) reach normalization as they are and become stable placeholders there;
  tuples become lists. A span still open when the recording ends stays in it as
  ``unfinished``, with the attributes it has by then (those given at its start are in the
  record from the start; later ones are copied when it ends, or when the capture closes).
* **Providers.** ``set_tracer_provider`` works once per process, and a provider replaced under
  pytest-xdist silently loses its exporter's spans. So we never replace a provider: when the
  global provider is an SDK ``TracerProvider`` we add our processor to it (once; it stays, a
  no-op outside a recording); when none is set we put a fallback SDK provider of ours in place
  for the test and take it out afterwards (through opentelemetry-api's module globals, the one
  private API used here, in :func:`_set_global_provider`). A user who sets a provider during
  the test still can: theirs replaces the fallback, and :func:`attach` adds us to it.
* **Isolation.** Our hooks never raise: a failure is recorded as a ``note`` entry in the
  recording. We put our processor first on a provider, so a third-party processor that raises
  cannot keep a span from reaching the recording; exporters run in their own processors (the
  SDK logs their failures).
* **Cost.** One dict lookup and a few attribute copies per span; outside a recording a context
  variable read. ``benchmarks/`` measures it against the 20 µs per span budget.

opentelemetry is imported only when a function here needs it (the ``otel`` extra).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from agentrig import recording as _recording
from agentrig.recording import Recording, SpanEvent, SpanRecord, active_recording, current_span_id
from agentrig.vocabulary import (
    AGENTRIG_COST_USD,
    EXCEPTION_MESSAGE,
    EXCEPTION_TYPE,
    GEN_AI_OPERATION_NAME,
    MODEL_OPERATIONS,
    EntryKind,
)

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace import Span as SdkSpan

__all__ = [
    "OTEL_SCOPE_NAME",
    "SPAN_KIND",
    "RecordingSpanProcessor",
    "attach",
    "capture_spans",
    "is_available",
    "processor",
]

#: Attribute holding a captured span's kind (``"client"``, ``"internal"``, ...), as in the
#: OpenTelemetry-to-Jaeger/Zipkin mappings.
SPAN_KIND: Final = "span.kind"
#: Attribute holding the instrumentation scope's name (``"pydantic-ai"``), as OpenTelemetry
#: names it for formats without a scope field.
OTEL_SCOPE_NAME: Final = "otel.scope.name"

_STATUS = {0: "unset", 1: "ok", 2: "error"}  # opentelemetry.trace.StatusCode values
_MAX_ANCESTRY: Final = 256


def is_available() -> bool:
    """Whether opentelemetry-sdk can be imported (the ``otel`` extra is installed)."""
    try:
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        return False
    return True


class _Open:
    __slots__ = ("agentrig_children", "live", "otel_children", "rec", "record")

    def __init__(self, rec: Recording, record: SpanRecord, live: SdkSpan) -> None:
        self.rec = rec
        self.record = record
        self.live = live
        self.agentrig_children = 0  # agentrig spans opened directly inside it
        self.otel_children = 0  # captured OpenTelemetry spans directly inside it


_SCALARS: Final = frozenset({str, bool, int, float, type(None)})
_KIND_NAMES: dict[object, str] = {}  # SpanKind -> "client", ...: Enum.name is slow per span
_STATUS_NAMES: dict[object, str] = {}  # StatusCode -> "unset" | "ok" | "error"


def _value(v: Any) -> Any:
    """An attribute value as recording data: sequences as lists, mappings as dicts."""
    if type(v) in _SCALARS or isinstance(v, (str, bytes, bool, int, float)):
        return v
    if isinstance(v, Mapping):
        return {str(k): _value(x) for k, x in v.items()}
    if isinstance(v, Sequence):
        return [_value(x) for x in v]
    return v


def _kind_and_scope(span: ReadableSpan) -> dict[str, Any]:
    kind = span.kind
    name = _KIND_NAMES.get(kind)
    if name is None:
        name = _KIND_NAMES[kind] = kind.name.lower()
    out: dict[str, Any] = {SPAN_KIND: name}
    scope = span.instrumentation_scope
    if scope is not None and scope.name:
        out[OTEL_SCOPE_NAME] = scope.name
    return out


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    out = _kind_and_scope(span)
    # opentelemetry-sdk private API: a span's ``_attributes`` is a BoundedAttributes keeping a
    # plain dict in ``_dict``; reading it skips a MappingProxyType and the Mapping protocol
    # (half the cost per span). Anything else goes through the public ``attributes``.
    raw = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(raw) is dict:
        items: Any = raw.items()
    else:
        attrs = span.attributes
        items = attrs.items() if attrs else ()
    scalars = _SCALARS
    for key, value in items:
        out[key] = value if type(value) in scalars else _value(value)
    return out


def _is_ancestor(rec: Recording, ancestor: int, span_id: int) -> bool:
    """Whether ``ancestor`` is ``span_id`` or above it in ``rec`` (bounded walk)."""
    sid: int | None = span_id
    for _ in range(_MAX_ANCESTRY):
        if sid is None:
            return False
        if sid == ancestor:
            return True
        try:
            sid = rec.span(sid).parent_id
        except KeyError:
            return False
    return False


def _innermost(rec: Recording, preferred: int | None, other: int | None) -> int | None:
    """The deeper of two candidate parents; ``preferred`` when they are unrelated."""
    if preferred is None:
        return other
    if other is None or other == preferred:
        return preferred
    if _is_ancestor(rec, preferred, other):
        return other
    return preferred


class RecordingSpanProcessor:
    """An OpenTelemetry span processor that copies spans into the active agentrig recording.

    A no-op for spans that start outside a recording. One instance serves the process
    (:func:`processor`); add it to a provider of your own with
    ``provider.add_span_processor(agentrig.otel.processor())`` when the global provider is not
    the one your code uses.
    """

    def __init__(self) -> None:
        self._open: dict[tuple[int, int], _Open] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<agentrig RecordingSpanProcessor open={len(self._open)}>"

    # -- the SpanProcessor interface --------------------------------------------------------------

    def on_start(self, span: SdkSpan, parent_context: Context | None = None) -> None:
        rec = active_recording()
        if rec is None:
            return
        try:
            self._start(rec, span)
        except Exception as exc:  # never break the code under test
            _report(rec, "on_start", span, exc)

    def _on_ending(self, span: SdkSpan) -> None:
        """Nothing to do before the span becomes read-only (SDK >= 1.34 calls this)."""

    def on_end(self, span: ReadableSpan) -> None:
        ctx = span.context
        if ctx is None or not self._open:
            return
        entry = self._open.pop((ctx.trace_id, ctx.span_id), None)  # atomic (GIL)
        if entry is None:
            return
        try:
            _fill(entry.record, span)
            _fold_served_call(entry)
            entry.rec.end_span(entry.record)
        except Exception as exc:
            _report(entry.rec, "on_end", span, exc)

    def shutdown(self) -> None:
        """Nothing to flush: spans are copied as they end."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing to flush: spans are copied as they end."""
        return True

    # -- ours -------------------------------------------------------------------------------------

    def _start(self, rec: Recording, span: SdkSpan) -> None:
        otel_parent: _Open | None = None
        parent = span.parent
        if parent is not None and self._open:
            found = self._open.get((parent.trace_id, parent.span_id))
            if found is not None and found.rec is rec:
                otel_parent = found
        parent_id = otel_parent.record.span_id if otel_parent is not None else None
        pid = _innermost(rec, parent_id, current_span_id.get())
        if otel_parent is not None and pid == parent_id:
            otel_parent.otel_children += 1
        # The attributes as given at start, copied at C speed (values as the SDK holds them;
        # normalization reads tuples like lists); the converted copy is made at the end.
        attributes = _kind_and_scope(span)
        raw = getattr(getattr(span, "_attributes", None), "_dict", None)  # see _attributes
        if type(raw) is dict:
            attributes.update(raw)
        record = rec.start_span(span.name, parent_id=pid, attributes=attributes)
        ctx = span.context
        self._open[(ctx.trace_id, ctx.span_id)] = _Open(rec, record, span)  # atomic (GIL)

    def parent_in(self, rec: Recording, agentrig_parent: int | None, what: str) -> int | None:
        """The parent an agentrig span or entry made now gets: a captured OTel span inside it.

        The recording calls this (``agentrig.recording`` parent hook) for spans and entries
        that nest under the current span.
        """
        if not self._open:
            return agentrig_parent
        try:
            from opentelemetry import trace

            ctx = trace.get_current_span().get_span_context()
            found = self._open.get((ctx.trace_id, ctx.span_id))
            if found is None or found.rec is not rec:
                return agentrig_parent
            pid = _innermost(rec, agentrig_parent, found.record.span_id)
            if what == "span" and pid == found.record.span_id:
                found.agentrig_children += 1
            return pid
        except Exception:
            return agentrig_parent

    def finish(self, rec: Recording) -> int:
        """Forget ``rec``'s spans that never ended; they stay in it as unfinished.

        Their attributes, events and status are brought up to date first.

        Returns:
            How many spans were unfinished.
        """
        with self._lock:
            mine = [(k, o) for k, o in self._open.items() if o.rec is rec]
            for key, _ in mine:
                del self._open[key]
        for _, entry in mine:
            with contextlib.suppress(Exception):
                _fill(entry.record, entry.live)
        return len(mine)


#: Attributes instrumentations measure on the real clock (a wall-clock duration is noise in a
#: snapshot: the same run gives another figure every time); matched by name, verdict cached.
_WALL_CLOCK_ATTRIBUTE = re.compile(
    r"(^|[._])(duration|latency|elapsed)(_ms|_s|_seconds)?$|time_to_first|time_per_output"
)
_WALL_CLOCK_VERDICT: dict[str, bool] = {}
#: A server on this machine (a test's own, on a port the OS picked): the port is noise too.
_LOOPBACK_URL = re.compile(r"//(127\.0\.0\.1|localhost|\[::1\]):\d+")
WALL_CLOCK_PLACEHOLDER = "<wall-clock>"


def _stable(attributes: dict[str, Any]) -> dict[str, Any]:
    """Replace what differs from run to run in instrumentations' attributes: real-time
    durations, and the ephemeral port of a loopback server."""
    for key, value in attributes.items():
        verdict = _WALL_CLOCK_VERDICT.get(key)
        if verdict is None:
            verdict = _WALL_CLOCK_VERDICT[key] = bool(_WALL_CLOCK_ATTRIBUTE.search(key))
        if verdict and isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[key] = WALL_CLOCK_PLACEHOLDER
        elif type(value) is str and "//" in value:
            attributes[key] = _LOOPBACK_URL.sub(r"//\1:<port>", value)
    loopback = attributes.get("server.address") in ("127.0.0.1", "localhost", "::1")
    if loopback and "server.port" in attributes:
        attributes["server.port"] = "<port>"
    return attributes


def _fill(record: SpanRecord, span: ReadableSpan) -> None:
    """Copy what a span knows now into its record (everything but times)."""
    record.name = span.name
    record.attributes = _stable(_attributes(span))
    events = []
    error: dict[str, str] | None = None
    for ev in span.events or ():
        attrs = {k: _value(v) for k, v in (ev.attributes or {}).items()}
        events.append(SpanEvent(name=ev.name, t=None, attributes=attrs))
        if ev.name == "exception":
            error = {
                "type": str(attrs.get(EXCEPTION_TYPE, "")),
                "message": str(attrs.get(EXCEPTION_MESSAGE, "")),
            }
    record.events = events
    status = span.status
    code = status.status_code
    name = _STATUS_NAMES.get(code)
    if name is None:
        name = _STATUS_NAMES[code] = _STATUS.get(code.value, "unset")
    record.status = name  # type: ignore[assignment]
    record.status_message = status.description if name == "error" else None
    if error is not None:
        record.error = error


def _fold_served_call(entry: _Open) -> None:
    """One model call, one span: fold agentrig's call span into an instrumentation's.

    An instrumented client (pydantic-ai's model, an OpenAI / Anthropic instrumentation) opens a
    ``chat`` span; when agentrig's fake answers the call inside it, its own ``chat`` span
    describes the same call. When the instrumentation's span holds exactly that one span and
    nothing else, the two become one: the instrumentation's span keeps its name, place, times
    and attributes, and gains agentrig's (cost, prompt, reply, the budget charge entry).
    """
    record = entry.record
    if entry.agentrig_children != 1 or entry.otel_children != 0:
        return
    if record.attributes.get(GEN_AI_OPERATION_NAME) not in MODEL_OPERATIONS:
        return
    rec = entry.rec
    spans = rec.spans
    for i in range(len(spans) - 1, -1, -1):
        child = spans[i]
        if child.seq < record.seq:
            return
        if child.parent_id != record.span_id:
            continue
        if (
            child.end_seq is not None
            and AGENTRIG_COST_USD in child.attributes
            and child.attributes.get(GEN_AI_OPERATION_NAME) in MODEL_OPERATIONS
        ):
            rec.fold_span(child.span_id, record.span_id)
        return


def _report(rec: Recording, hook: str, span: object, exc: Exception) -> None:
    with contextlib.suppress(Exception):
        rec.add_entry(
            EntryKind.NOTE,
            {
                "note": "agentrig could not capture an OpenTelemetry span",
                "hook": hook,
                "span": str(getattr(span, "name", "?")),
                "error": f"{type(exc).__qualname__}: {exc}",
            },
            span_id=None,
        )


# -- providers ------------------------------------------------------------------------------------

_processor: RecordingSpanProcessor | None = None
_fallback: TracerProvider | None = None
_attached: list[object] = []  # providers we added the processor to (never many)
_install_lock = threading.Lock()


def processor() -> RecordingSpanProcessor:
    """The process-wide :class:`RecordingSpanProcessor` (created on first use)."""
    global _processor
    with _install_lock:
        if _processor is None:
            _processor = RecordingSpanProcessor()
            _recording.set_parent_hook(_processor.parent_in)
        return _processor


def _set_global_provider(provider: TracerProvider | None) -> None:
    # opentelemetry-api private API (1.x): ``set_tracer_provider`` succeeds once per process, so
    # the fallback goes in and out through the module global it reads. The ``Once`` guard is
    # left untouched, so a user's own ``set_tracer_provider`` still succeeds and wins.
    import opentelemetry.trace as otel_trace

    otel_trace._TRACER_PROVIDER = provider


def _global_provider() -> object | None:
    import opentelemetry.trace as otel_trace

    return getattr(otel_trace, "_TRACER_PROVIDER", None)


def _add_first(provider: Any, proc: RecordingSpanProcessor) -> None:
    """Add ``proc`` ahead of the provider's other processors (see the notes: isolation)."""
    multi = getattr(provider, "_active_span_processor", None)  # opentelemetry-sdk private API
    procs = getattr(multi, "_span_processors", None)
    lock = getattr(multi, "_lock", None)
    if isinstance(procs, tuple) and lock is not None:
        with lock:
            multi._span_processors = (proc, *multi._span_processors)  # type: ignore[union-attr]
        return
    provider.add_span_processor(proc)


def attach() -> bool:
    """Make sure spans of the global OpenTelemetry provider reach the recording processor.

    Idempotent. An SDK provider the user set gets our processor (once); with no provider set,
    a fallback SDK provider of ours is put in place.

    Returns:
        Whether the fallback provider was put in place now (the caller takes it out again with
        :func:`detach_fallback`).
    """
    global _fallback
    from opentelemetry.sdk.trace import TracerProvider

    proc = processor()
    current = _global_provider()
    with _install_lock:
        if current is None:
            if _fallback is None:
                _fallback = TracerProvider(shutdown_on_exit=False)
                _fallback.add_span_processor(proc)  # type: ignore[arg-type]
            _set_global_provider(_fallback)
            return True
        if current is _fallback or any(p is current for p in _attached):
            return False
        if isinstance(current, TracerProvider):
            _add_first(current, proc)
            _attached.append(current)
        return False


def detach_fallback() -> None:
    """Take the fallback provider out again, unless the user has set a provider since."""
    with _install_lock:
        if _fallback is not None and _global_provider() is _fallback:
            _set_global_provider(None)


@contextlib.contextmanager
def capture_spans(recording: Recording) -> Iterator[RecordingSpanProcessor]:
    """Capture OpenTelemetry spans into ``recording`` while it is active, for the block.

    The plugin does this for every agentrig test; use it around :meth:`Recording.activate`
    in your own harness. Spans still open at the end stay in the recording as unfinished.

    Usage::

        rec = Recording("run")
        with rec.activate(), agentrig.otel.capture_spans(rec):
            agentrig.run(main())
    """
    installed = attach()
    proc = processor()
    try:
        yield proc
    finally:
        proc.finish(recording)
        if installed:
            detach_fallback()
