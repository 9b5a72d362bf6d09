"""The inputs normalization reads: a Recording, its ``to_dict()``, or a snapshot document.

Each reader hands the fields of every span and entry to the
:class:`~agentrig.normalize.timeline.TimelineBuilder`; :func:`read` picks the reader and refuses
anything else with an error that says what it accepts.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from agentrig._errors import SnapshotError
from agentrig.document import check_header
from agentrig.normalize.timeline import Item, TimelineBuilder, read_field

if TYPE_CHECKING:
    from agentrig.recording import Recording

__all__ = ["read"]


_get = read_field


_SPAN_FIELDS: Final = (
    ("span_id", None),
    ("parent_id", None),
    ("name", ""),
    ("seq", None),
    ("end_seq", None),
    ("start", None),
    ("end", None),
    ("attributes", None),
    ("events", None),
    ("status", "unset"),
    ("status_message", None),
    ("error", None),
)
_ENTRY_FIELDS: Final = (
    ("seq", None),
    ("t", None),
    ("kind", ""),
    ("span_id", None),
    ("data", None),
)


_SPAN_GETTER: Final = operator.attrgetter(*(n for n, _ in _SPAN_FIELDS))
_ENTRY_GETTER: Final = operator.attrgetter(*(n for n, _ in _ENTRY_FIELDS))
_SPAN_TASK_GETTER: Final = operator.attrgetter(*(n for n, _ in _SPAN_FIELDS), "task")
_NUMBER: Final = frozenset({int, float})


def _fields(
    obj: object, names: tuple[tuple[str, Any], ...], getter: operator.attrgetter[Any]
) -> Sequence[Any]:
    if type(obj) is dict:
        get = obj.get
        return [get(n, d) for n, d in names]
    try:
        values: tuple[Any, ...] = getter(obj)  # SpanRecord / Entry: one C call
        return values
    except AttributeError:
        return [_get(obj, n, d) for n, d in names]


def _as_seq(value: object, fallback: float) -> float:
    t = type(value)
    if (t is int or t is float) and value == value:
        return value  # type: ignore[return-value]
    return fallback


def _from_raw(
    norm: TimelineBuilder, spans: Iterable[object], entries: Iterable[object]
) -> tuple[list[Item], list[Item]]:
    span_items: list[Item] = []
    make_span = norm.span
    for i, s in enumerate(spans):
        # ``task`` is optional: an opaque value naming the task (or thread) that opened the
        # span. Spans one task opened are sequential, whatever their times (see the notes).
        if type(s) is dict:
            get = s.get
            key, parent, name, seq, end_seq, start, end, attrs, events, status, message, error = [
                get(n, d) for n, d in _SPAN_FIELDS
            ]
            task = get("task")
        else:
            try:  # a SpanRecord: one C call
                (
                    key,
                    parent,
                    name,
                    seq,
                    end_seq,
                    start,
                    end,
                    attrs,
                    events,
                    status,
                    message,
                    error,
                    task,
                ) = _SPAN_TASK_GETTER(s)
            except AttributeError:
                (
                    key,
                    parent,
                    name,
                    seq,
                    end_seq,
                    start,
                    end,
                    attrs,
                    events,
                    status,
                    message,
                    error,
                ) = _fields(s, _SPAN_FIELDS, _SPAN_GETTER)
                task = getattr(s, "task", None)
        t = type(seq)  # (_as_seq, inlined)
        if not ((t is int or t is float) and seq == seq):
            seq = float(i)
        assert seq is not None
        item = make_span(
            f"#{i}" if key is None else key,
            parent,
            name,
            seq,
            end_seq if type(end_seq) in _NUMBER and end_seq == end_seq else seq,  # (_as_seq)
            start,
            end,
            attrs,
            events,
            status,
            message,
            error,
            end_seq is None and end is None,
        )
        item.task = task
        span_items.append(item)
    make_entry = norm.entry
    entry_items = []
    for i, e in enumerate(entries):
        seq, t, kind, span_id, data = _fields(e, _ENTRY_FIELDS, _ENTRY_GETTER)
        item = make_entry(_as_seq(seq, float(i)), t, kind, span_id, data)
        # Optional, as for spans: entries of one task keep their order, those of concurrent
        # tasks are sorted with their siblings.
        item.task = e.get("task") if type(e) is dict else getattr(e, "task", None)
        entry_items.append(item)
    return span_items, entry_items


_NESTED: Final = object()  # "parent is the enclosing span" while reading a document


def _from_document(norm: TimelineBuilder, timeline: list[Any]) -> tuple[list[Item], list[Item]]:
    spans: list[Item] = []
    entries: list[Item] = []
    seq = 0
    stack: list[tuple[Iterator[Any], object, Item | None]] = [(iter(timeline), None, None)]
    while stack:
        iterator, enclosing, owner = stack[-1]
        item = next(iterator, _NESTED)
        if item is _NESTED:
            stack.pop()
            if owner is not None:
                seq += 1
                owner.end_seq = float(seq)
            continue
        seq += 1
        if not isinstance(item, Mapping):
            continue
        if "span" in item:
            key = item.get("id")
            if key is None:
                key = f"#doc{seq}"
            parent = item.get("parent", enclosing)
            start = item.get("start")
            duration = item.get("duration")
            end = None
            if isinstance(start, (int, float)) and isinstance(duration, (int, float)):
                end = start + duration
            span = norm.span(
                key=key,
                parent=parent,
                name=item.get("span", ""),
                seq=seq,
                end_seq=seq,
                start=start,
                end=end,
                attributes=item.get("attributes"),
                events=item.get("events"),
                status=item.get("status", "unset"),
                status_message=item.get("status_message"),
                error=item.get("error"),
                unfinished=bool(item.get("unfinished")),
            )
            spans.append(span)
            children = item.get("timeline")
            if children and isinstance(children, list):
                stack.append((iter(children), key, span))
            else:
                seq += 1
                span.end_seq = float(seq)
        elif "entry" in item:
            parent = item.get("parent", enclosing)
            entries.append(
                norm.entry(seq, item.get("t"), item.get("entry", ""), parent, item.get("data"))
            )
    return spans, entries


def read(
    builder: TimelineBuilder, recording: Recording | Mapping[str, Any]
) -> tuple[object, list[Item], list[Item], bool]:
    """The recording's name, its span and entry items, and whether it was a document.

    Raises:
        SnapshotError: a mapping that is neither a raw recording nor a snapshot document.
        SnapshotFormatError: a document of another format version.
        TypeError: neither a Recording nor a mapping.
    """
    if isinstance(recording, Mapping):
        name = recording.get("name", "")
        if "timeline" in recording or "agentrig" in recording:
            check_header(recording, "the document given to normalize()")
            timeline = recording.get("timeline")
            if not isinstance(timeline, list):
                raise SnapshotError(
                    "the document given to normalize() has no 'timeline' list", rerecord=True
                )
            spans, entries = _from_document(builder, timeline)
            return name, spans, entries, True
        if "spans" in recording or "entries" in recording:
            raw_spans = recording.get("spans") or []
            raw_entries = recording.get("entries") or []
            if not isinstance(raw_spans, (list, tuple)) or not isinstance(
                raw_entries, (list, tuple)
            ):
                raise SnapshotError(
                    "normalize() got a recording whose 'spans' and 'entries' are not lists"
                )
            spans, entries = _from_raw(builder, raw_spans, raw_entries)
            return name, spans, entries, False
        raise SnapshotError(
            "normalize() needs a Recording, a Recording.to_dict() mapping (with 'spans' and "
            "'entries') or a snapshot document (with 'timeline'); got keys "
            f"{sorted(map(str, recording))[:8]}"
        )
    if hasattr(recording, "spans") and hasattr(recording, "entries"):
        name = getattr(recording, "name", "")
        spans, entries = _from_raw(builder, list(recording.spans), list(recording.entries))
        return name, spans, entries, False
    raise TypeError(f"normalize() needs a Recording or a mapping, got {type(recording).__name__}")
