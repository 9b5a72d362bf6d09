"""OpenTelemetry out: a normalized run as OTLP/JSON, loadable by any OpenTelemetry backend.

:func:`to_otlp` maps a snapshot document (the *normalized* run: ids renumbered, secrets
redacted, virtual times) onto the ``ExportTraceServiceRequest`` JSON mapping of OTLP
(opentelemetry-proto ``collector/trace/v1``): trace and span ids as hex strings, times as
decimal strings of Unix nanoseconds, enums as integers, attribute values as ``AnyValue``
objects (``stringValue``, ``intValue`` as a string, ``doubleValue``, ``boolValue``,
``arrayValue``, ``kvlistValue``; ``null`` as an empty ``AnyValue``).

The mapping, chosen so that an unchanged run exports byte-identical files:

* one trace per document; its id is a BLAKE2 digest of the document's name, so a test keeps
  its trace id across runs; span ids are the document's ids (one more than each, the root
  taking 1);
* a root span named after the document (``agentrig.test``: the test's node id) holds the
  top-level timeline; every document span becomes a span; entries (decisions, budget moves,
  bus traffic) become events of their enclosing span, named after their kind, their data
  flattened into attributes;
* times: virtual second ``t`` is ``epoch_ns + t * 1e9`` (default epoch 0); a span without a
  time takes its parent's start; an unfinished span ends where it starts and carries
  ``agentrig.unfinished = true``;
* captured OpenTelemetry spans get their kind and scope back from the ``span.kind`` and
  ``otel.scope.name`` attributes; agentrig's own spans are scope ``agentrig``, ``CLIENT`` for
  model calls and ``INTERNAL`` otherwise; ``schemaUrl`` names the semantic-conventions
  version in the document header.

Pure data in, data out: no opentelemetry import (the CLI exports without the ``otel`` extra).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

import orjson

from agentrig.vocabulary import (
    AGENTRIG_SEMCONV,
    AGENTRIG_TEST,
    AGENTRIG_UNFINISHED,
    GEN_AI_OPERATION_NAME,
    SEMCONV_SCHEMA_URL,
    SEMCONV_VERSION,
)

__all__ = ["dumps_otlp", "to_otlp"]

_SPAN_KIND_ATTRIBUTE: Final = "span.kind"
_SCOPE_ATTRIBUTE: Final = "otel.scope.name"
# opentelemetry.proto.trace.v1.Span.SpanKind
_KINDS: Final = {"unspecified": 0, "internal": 1, "server": 2, "client": 3, "producer": 4}
_KINDS_ALL: Final = {**_KINDS, "consumer": 5}
# opentelemetry.proto.trace.v1.Status.StatusCode
_STATUS: Final = {"unset": 0, "ok": 1, "error": 2}
_CLIENT_OPERATIONS: Final = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
_AGENTRIG_SCOPE: Final = "agentrig"
_INT64: Final = (-(2**63), 2**63 - 1)


def _any_value(value: Any) -> dict[str, Any]:
    """A JSON value as an OTLP ``AnyValue`` (JSON mapping)."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        if _INT64[0] <= value <= _INT64[1]:
            return {"intValue": str(value)}
        return {"stringValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": _key_values(value)}}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    return {"stringValue": f"<{type(value).__qualname__}>"}


def _key_values(mapping: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": str(k), "value": _any_value(v)} for k, v in mapping.items()]


def _nanos(t: float, epoch_ns: int) -> str:
    return str(epoch_ns + round(t * 1e9))


def _span_id(doc_id: int) -> str:
    return f"{doc_id + 1:016x}"


class _Exporter:
    def __init__(self, trace_id: str, epoch_ns: int) -> None:
        self.trace_id = trace_id
        self.epoch_ns = epoch_ns
        self.scopes: dict[str, list[dict[str, Any]]] = {}

    def span(
        self,
        *,
        span_id: str,
        parent: str | None,
        name: str,
        start: float,
        item: Mapping[str, Any],
    ) -> None:
        attrs = dict(item.get("attributes") or {})
        kind_name = attrs.pop(_SPAN_KIND_ATTRIBUTE, None)
        scope = attrs.pop(_SCOPE_ATTRIBUTE, None)
        if not isinstance(scope, str) or not scope:
            scope = _AGENTRIG_SCOPE
        if isinstance(kind_name, str) and kind_name in _KINDS_ALL:
            kind = _KINDS_ALL[kind_name]
        elif attrs.get(GEN_AI_OPERATION_NAME) in _CLIENT_OPERATIONS:
            kind = _KINDS["client"]
        else:
            kind = _KINDS["internal"]
        duration = item.get("duration")
        end = start + duration if isinstance(duration, (int, float)) else start
        if item.get("unfinished"):
            attrs[AGENTRIG_UNFINISHED] = True
        events: list[dict[str, Any]] = []
        for ev in item.get("events") or ():
            if not isinstance(ev, Mapping):
                continue
            t = ev.get("t")
            events.append(
                {
                    "timeUnixNano": _nanos(
                        t if isinstance(t, (int, float)) else start, self.epoch_ns
                    ),
                    "name": str(ev.get("name", "")),
                    "attributes": _key_values(ev.get("attributes") or {}),
                }
            )
        children = item.get("timeline") or ()
        for child in children:
            if isinstance(child, Mapping) and "entry" in child:
                t = child.get("t")
                data = child.get("data")
                events.append(
                    {
                        "timeUnixNano": _nanos(
                            t if isinstance(t, (int, float)) else start, self.epoch_ns
                        ),
                        "name": str(child.get("entry", "")),
                        "attributes": _key_values(data) if isinstance(data, Mapping) else [],
                    }
                )
        status: dict[str, Any] = {"code": _STATUS.get(str(item.get("status")), 0)}
        message = item.get("status_message")
        if isinstance(message, str) and message:
            status["message"] = message
        out: dict[str, Any] = {
            "traceId": self.trace_id,
            "spanId": span_id,
            "name": name,
            "kind": kind,
            "startTimeUnixNano": _nanos(start, self.epoch_ns),
            "endTimeUnixNano": _nanos(end, self.epoch_ns),
            "attributes": _key_values(attrs),
            "events": events,
            "status": status,
        }
        if parent is not None:
            out["parentSpanId"] = parent
        self.scopes.setdefault(scope, []).append(out)
        for child in children:
            if isinstance(child, Mapping) and "span" in child:
                self.child(child, span_id, start)

    def child(self, item: Mapping[str, Any], parent: str, parent_start: float) -> None:
        doc_id = item.get("id")
        start = item.get("start")
        self.span(
            span_id=_span_id(doc_id if isinstance(doc_id, int) and doc_id > 0 else 0),
            parent=parent,
            name=str(item.get("span", "")),
            start=start if isinstance(start, (int, float)) else parent_start,
            item=item,
        )


def to_otlp(doc: Mapping[str, Any], *, epoch_ns: int = 0) -> dict[str, Any]:
    """A snapshot document as an OTLP ``ExportTraceServiceRequest`` (JSON mapping).

    Args:
        doc: a normalized document (:func:`agentrig.normalize.normalize` or a snapshot file
            read with :func:`agentrig.normalize.loads`).
        epoch_ns: the Unix time in nanoseconds that virtual second 0 maps to.

    Returns:
        ``{"resourceSpans": [...]}``, ready for :func:`orjson.dumps`.
    """
    name = str(doc.get("name", ""))
    trace_id = hashlib.blake2b(name.encode("utf-8", "replace"), digest_size=16).hexdigest()
    header = doc.get("agentrig")
    semconv = header.get("semconv") if isinstance(header, Mapping) else None
    schema_url = (
        f"https://opentelemetry.io/schemas/{semconv}"
        if isinstance(semconv, str) and semconv
        else SEMCONV_SCHEMA_URL
    )
    exporter = _Exporter(trace_id, epoch_ns)
    timeline = doc.get("timeline") or []
    starts = [
        s
        for s in (i.get("start") for i in timeline if isinstance(i, Mapping) and "span" in i)
        if isinstance(s, (int, float))
    ]
    ends = [
        i["start"] + i["duration"]
        for i in timeline
        if isinstance(i, Mapping)
        and isinstance(i.get("start"), (int, float))
        and isinstance(i.get("duration"), (int, float))
    ]
    start = min(starts, default=0.0)
    root = {
        "timeline": timeline,
        "duration": max(ends, default=start) - start,
        "attributes": {AGENTRIG_TEST: name},
        "status": "unset",
    }
    exporter.span(span_id=_span_id(0), parent=None, name=name or "agentrig", start=start, item=root)
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": _key_values(
                        {"service.name": "agentrig", AGENTRIG_SEMCONV: semconv or SEMCONV_VERSION}
                    )
                },
                "scopeSpans": [
                    {"scope": {"name": scope}, "spans": spans, "schemaUrl": schema_url}
                    for scope, spans in sorted(exporter.scopes.items())
                ],
                "schemaUrl": schema_url,
            }
        ]
    }


def dumps_otlp(doc: Mapping[str, Any], *, epoch_ns: int = 0) -> bytes:
    """:func:`to_otlp` as byte-stable JSON (sorted keys, 2-space indent, trailing newline)."""
    return orjson.dumps(
        to_otlp(doc, epoch_ns=epoch_ns),
        option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE,
    )
