"""``agentrig show FILE``: a snapshot rendered for a person.

The span tree with virtual start times and durations, model calls, decisions, budget moves and
bus traffic in time order inside the span they happened in, then a table of the model calls and
the budget totals per stage. ``--json`` prints the normalized document, ``--otlp`` the run as
OTLP/JSON; a ``*.cassette.json`` is shown by :mod:`agentrig.cli.cassettes`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, TextIO

import orjson

from agentrig._errors import ConfigurationError
from agentrig.cassette import CASSETTE_SUFFIX
from agentrig.cli._common import (
    DEFAULT_WIDTH,
    EXIT_OK,
    Unusable,
    clip,
    display,
    load,
    plural,
)
from agentrig.document import ACTOR_ATTRIBUTES, dumps, span_actor
from agentrig.money import ZERO, format_usd, read_usd, sum_usd
from agentrig.vocabulary import (
    AGENTRIG_COST_USD,
    AGENTRIG_PROMPT,
    AGENTRIG_REPLY,
    ERROR_TYPE,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_SYSTEM,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_WORKFLOW_NAME,
    MODEL_OPERATIONS,
)

__all__ = ["add_parser", "run"]

DESCRIPTION: Final = """\
A snapshot (or *.received.json) rendered for a person: the span tree with virtual start
times and durations; model calls with agent, model, tokens, cost and reply; decisions, budget
moves and bus traffic in time order inside the span they happened in; then a table of the
model calls and the budget totals per stage. Lines fit the terminal; piped, nothing is cut.
"""

EPILOG: Final = """\
examples:
  agentrig show snapshots/tests/test_app/test_pipeline.json
  agentrig show snapshots/tests/test_app/test_pipeline.received.json | less -S
  agentrig show snapshots/tests/test_app/test_pipeline.json --json
  agentrig show snapshots/tests/test_app/test_pipeline.json --otlp > pipeline.otlp.json
"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """The ``show`` subcommand's parser."""
    show = sub.add_parser(
        "show",
        help="a snapshot as a readable tree, timeline and tables",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter,
    )
    show.add_argument("file", metavar="FILE", help="a snapshot or received file")
    show.add_argument("--json", action="store_true", help="print the normalized document")
    show.add_argument(
        "--otlp",
        action="store_true",
        help="print the run as OpenTelemetry OTLP/JSON (an ExportTraceServiceRequest) for any"
        " OTel backend or viewer",
    )
    show.add_argument(
        "--width",
        type=int,
        default=None,
        metavar="N",
        help="cut lines at N columns (default: the terminal's width; no limit when piped)",
    )


# -- field values -------------------------------------------------------------------------------


def _fmt_usd(value: object) -> str:
    amount = value if isinstance(value, Decimal) else read_usd(value)
    return "-" if amount is None else format_usd(amount)


def _usd(value: object) -> Decimal:
    """A recorded amount, exact (0 for what is not a number: a hand-edited file)."""
    return read_usd(value) or ZERO


def _fmt_seconds(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-"
    return f"{value:.3f}"


def _fmt_int(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return "-"
    return str(value)


def _fmt_value(value: object, limit: int = 40) -> str:
    """A field value compact enough for one line: bare words bare, the rest as JSON."""
    if isinstance(value, str):
        if (
            value
            and len(value) <= limit
            and value.isprintable()
            and not any(c in value for c in " \"'=,")
        ):
            return value
        text = orjson.dumps(value).decode()
    elif value is None or isinstance(value, (bool, int, float)):
        text = orjson.dumps(value).decode()
    else:
        try:
            text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:
            text = repr(value)
    return clip(text, limit)


def _fields(data: Mapping[str, Any], skip: Iterable[str] = ()) -> str:
    skipped = set(skip)
    return " ".join(f"{k}={_fmt_value(v)}" for k, v in sorted(data.items()) if k not in skipped)


# -- the walk -------------------------------------------------------------------------------------

_MODEL_MARKERS: Final = (
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_REQUEST_MODEL,
)
_HIDDEN_SPAN_ATTRIBUTES: Final = frozenset(
    {
        *_MODEL_MARKERS,
        *ACTOR_ATTRIBUTES,
        GEN_AI_OPERATION_NAME,
        AGENTRIG_COST_USD,
        AGENTRIG_PROMPT,
        AGENTRIG_REPLY,
        GEN_AI_RESPONSE_MODEL,
        GEN_AI_SYSTEM,
        GEN_AI_PROVIDER_NAME,
        GEN_AI_WORKFLOW_NAME,
        "span.kind",
        ERROR_TYPE,
    }
)


def _is_model_call(span: Mapping[str, Any]) -> bool:
    attrs = span.get("attributes") or {}
    if any(k in attrs for k in _MODEL_MARKERS):
        return True
    operation = attrs.get(GEN_AI_OPERATION_NAME)  # any JSON value in a hand-edited file
    return isinstance(operation, str) and operation in MODEL_OPERATIONS


def _agent_of(attrs: Mapping[str, Any]) -> str | None:
    actor = span_actor(attrs)
    return None if actor is None else actor[1]


def _num(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value)


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return value


@dataclass(slots=True)
class _StageTotals:
    pool: str
    stage: str
    granted: Decimal = ZERO
    spent: Decimal = ZERO
    returned: Decimal = ZERO
    tokens: int = 0
    charges: int = 0
    refused_charges: int = 0
    refusals: int = 0


@dataclass(slots=True)
class _Walk:
    """Everything ``show`` collects in one walk of the document."""

    lines: list[tuple[str, str, str]] = field(default_factory=list)  # start, duration, label
    model_calls: list[Mapping[str, Any]] = field(default_factory=list)
    stages: dict[tuple[str, str], _StageTotals] = field(default_factory=dict)
    spans: int = 0
    decisions: int = 0
    errors: int = 0
    end: float = 0.0


def _error_text(item: Mapping[str, Any]) -> str | None:
    error = item.get("error")
    if isinstance(error, Mapping):
        kind = error.get("type") or "error"
        message = error.get("message")
        return f"{kind}: {message}" if message else str(kind)
    if item.get("status") == "error":
        return str(item.get("status_message") or "error")
    return None


def _span_label(span: Mapping[str, Any]) -> str:
    attrs: Mapping[str, Any] = span.get("attributes") or {}
    name = str(span.get("span", "?"))
    parts = [name]
    agent = _agent_of(attrs)
    if _is_model_call(span):
        head = agent or "?"
        model = attrs.get(GEN_AI_REQUEST_MODEL)
        if model is not None and name != f"chat {model}":  # the GenAI span name says it
            head += f" · {model}"
        parts.append(head)
        tin = attrs.get(GEN_AI_USAGE_INPUT_TOKENS)
        tout = attrs.get(GEN_AI_USAGE_OUTPUT_TOKENS)
        if tin is not None or tout is not None:
            parts.append(f"{_fmt_int(tin)}→{_fmt_int(tout)} tok")
        if AGENTRIG_COST_USD in attrs:
            parts.append(_fmt_usd(attrs[AGENTRIG_COST_USD]))
    elif agent is not None and agent != name and not name.endswith(f" {agent}"):
        parts.append(f"[{agent}]")
    error = _error_text(span)
    if error:
        parts.append(f"✗ {error}")
    elif span.get("status") == "ok":
        parts.append("✓")
    if span.get("unfinished"):
        parts.append("(unfinished)")
    extra = {k: v for k, v in attrs.items() if k not in _HIDDEN_SPAN_ATTRIBUTES}
    if extra:
        parts.append(_fields(extra))
    if _is_model_call(span) and AGENTRIG_REPLY in attrs:
        parts.append(f"→ {_fmt_value(attrs['agentrig.reply'], 60)}")
    return "  ".join(parts)


def _entry_label(kind: str, data: Mapping[str, Any]) -> str:
    stage = data.get("stage")
    where = f"{stage}" if stage is not None else str(data.get("pool", "?"))
    if kind == "decision":
        return f"◆ {data.get('decision', '?')}  {_fields(data, ('decision', 'log'))}".rstrip()
    if kind == "budget.acquire":
        text = f"$ acquire {where}: granted {_fmt_usd(data.get('granted_usd'))}"
        if data.get("max_usd") is not None:
            text += f" (max {_fmt_usd(data.get('max_usd'))})"
        if data.get("granted_tokens") is not None:
            text += f", {_fmt_int(data.get('granted_tokens'))} tok"
        return text + (", waited" if data.get("waited") else "")
    if kind == "budget.charge":
        text = f"$ charge {where}: {_fmt_usd(data.get('usd'))}, {_fmt_int(data.get('tokens'))} tok"
        if data.get("label"):
            text += f"  {data['label']}"
        return text + ("  ✗ over the cap (spend kept)" if data.get("accepted") is False else "")
    if kind == "budget.release":
        return (
            f"$ release {where}: spent {_fmt_usd(data.get('spent_usd'))}, returned "
            f"{_fmt_usd(data.get('returned_usd'))}, {_fmt_int(data.get('spent_tokens'))} tok"
        )
    if kind == "budget.refused":
        return (
            f"$ refused {where}: asked {_fmt_usd(data.get('requested_usd'))}, available "
            f"{_fmt_usd(data.get('available_usd'))}  {data.get('reason') or ''}"
        ).rstrip()
    if kind == "bus.emit":
        handlers = _int(data.get("handlers"))
        payload = data.get("payload")
        text = f"→ emit {data.get('topic', '?')} ({plural(handlers, 'handler')})"
        if isinstance(payload, Mapping) and payload:
            text += "  " + _fields(payload)
        return text
    if kind == "bus.handler":
        head = f"← {data.get('handler', '?')} on {data.get('topic', '?')}"
        if data.get("ok") is False:
            error = data.get("error")
            if isinstance(error, Mapping):
                return f"{head}  ✗ {error.get('type', 'error')}: {error.get('message', '')}"
            return f"{head}  ✗ failed"
        return f"{head}  → {_fmt_value(data.get('result'))}" if "result" in data else head
    if kind == "deadline.expired":
        return f"⏱ deadline {data.get('deadline') or ''} expired after {data.get('seconds')} s"
    return f"• {kind}  {_fields(data)}".rstrip()


def _account(walk: _Walk, kind: str, data: Mapping[str, Any]) -> None:
    if not kind.startswith("budget."):
        return
    key = (str(data.get("pool", "pool")), str(data.get("stage") or "-"))
    totals = walk.stages.get(key)
    if totals is None:
        totals = walk.stages[key] = _StageTotals(*key)
    if kind == "budget.acquire":
        totals.granted = sum_usd((totals.granted, _usd(data.get("granted_usd"))))
    elif kind == "budget.charge":
        totals.spent = sum_usd((totals.spent, _usd(data.get("usd"))))
        totals.tokens += _int(data.get("tokens"))
        totals.charges += 1
        if data.get("accepted") is False:
            totals.refused_charges += 1
    elif kind == "budget.release":
        totals.returned = sum_usd((totals.returned, _usd(data.get("returned_usd"))))
    elif kind == "budget.refused":
        totals.refusals += 1


def _item_time(item: Mapping[str, Any]) -> float | None:
    value = item.get("start") if "span" in item else item.get("t")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _walk(doc: Mapping[str, Any]) -> _Walk:
    """Flatten the span tree into lines with tree guides, collecting totals on the way."""
    walk = _Walk()
    # An explicit stack (not recursion): documents may nest deeply. Each frame holds the
    # children still to show and the guide prefix for them. A child is (is_event, item, last).
    Child = tuple[bool, Mapping[str, Any], bool]
    stack: list[tuple[Iterator[Child], str]] = []

    def children(node: Mapping[str, Any]) -> Iterator[Child]:
        items = [i for i in (node.get("timeline") or []) if isinstance(i, Mapping)]
        events = [e for e in (node.get("events") or []) if isinstance(e, Mapping)]
        if _error_text(node):  # the span's own line already shows its exception
            events = [e for e in events if e.get("name") != "exception"]
        # Span events go between the timeline items, by time (an event before the items that
        # start at the same instant: it was recorded while the span was still running).
        merged: list[tuple[bool, Mapping[str, Any]]] = []
        pending = list(events)
        for item in items:
            t = _item_time(item)
            while pending and t is not None and _num(pending[0].get("t")) <= t:
                merged.append((True, pending.pop(0)))
            merged.append((False, item))
        merged.extend((True, e) for e in pending)
        for i, (is_event, item) in enumerate(merged):
            yield is_event, item, i == len(merged) - 1

    stack.append((children(doc), ""))
    while stack:
        iterator, prefix = stack[-1]
        nxt = next(iterator, None)
        if nxt is None:
            stack.pop()
            continue
        is_event, item, last = nxt
        guide = prefix + ("└─ " if last else "├─ ")
        deeper = prefix + ("   " if last else "│  ")
        if is_event:
            attrs = item.get("attributes") or {}
            label = f"· {item.get('name', '?')}"
            if attrs:
                label += "  " + _fields(attrs)
            walk.lines.append((_fmt_seconds(item.get("t")), "", guide + label))
            walk.end = max(walk.end, _num(item.get("t")))
        elif "span" in item:
            walk.spans += 1
            start, duration = item.get("start"), item.get("duration")
            walk.end = max(walk.end, _num(start) + _num(duration))
            if _is_model_call(item):
                walk.model_calls.append(item)
            if _error_text(item):
                walk.errors += 1
            walk.lines.append(
                (_fmt_seconds(start), _fmt_seconds(duration), guide + _span_label(item))
            )
            stack.append((children(item), deeper))
        elif "entry" in item:
            kind = str(item.get("entry", "?"))
            data = item.get("data")
            data = data if isinstance(data, Mapping) else {}
            if kind == "decision":
                walk.decisions += 1
            _account(walk, kind, data)
            walk.end = max(walk.end, _num(item.get("t")))
            walk.lines.append((_fmt_seconds(item.get("t")), "", guide + _entry_label(kind, data)))
    return walk


def _render_show(doc: Mapping[str, Any], source: str, width: int) -> list[str]:
    walk = _walk(doc)
    lines: list[str] = []
    header = doc.get("agentrig") or {}
    fmt = header.get("format") if isinstance(header, Mapping) else None
    lines.append(f"agentrig snapshot  {doc.get('name') or '(unnamed)'}")
    lines.append(f"file: {source}  (format {fmt})")
    calls = [c.get("attributes") or {} for c in walk.model_calls]
    tokens_in = sum(_int(a.get(GEN_AI_USAGE_INPUT_TOKENS)) for a in calls)
    tokens_out = sum(_int(a.get(GEN_AI_USAGE_OUTPUT_TOKENS)) for a in calls)
    cost = sum_usd(_usd(a.get(AGENTRIG_COST_USD)) for a in calls)
    run = [f"{_fmt_seconds(walk.end)} s virtual", plural(walk.spans, "span")]
    if walk.errors:
        run.append(plural(walk.errors, "failed span"))
    run.append(plural(walk.decisions, "decision"))
    lines.append("run: " + " · ".join(run))
    lines.append(
        f"model: {plural(len(walk.model_calls), 'call')} · {tokens_in + tokens_out} tokens "
        f"({tokens_in} in, {tokens_out} out) · {_fmt_usd(cost)}"
    )

    lines.append("")
    lines.append("Timeline (virtual seconds)")
    lines.append(f"{'start':>9} {'duration':>9}  what")
    if not walk.lines:
        lines.append(f"{'':>9} {'':>9}  (nothing recorded)")
    for start, duration, label in walk.lines:
        lines.append(f"{start:>9} {duration:>9}  {label}")

    lines.append("")
    lines.append(f"Model calls ({len(walk.model_calls)})")
    if walk.model_calls:
        lines.append(
            f"{'start':>9} {'duration':>9}  {'agent':<16} {'model':<16} {'in':>6} {'out':>6}"
            f" {'cost':>10}  status"
        )
        for call in walk.model_calls:
            attrs = call.get("attributes") or {}
            status = _error_text(call) or ("ok" if call.get("status") == "ok" else "")
            lines.append(
                f"{_fmt_seconds(call.get('start')):>9} {_fmt_seconds(call.get('duration')):>9}"
                f"  {clip(_agent_of(attrs) or '-', 16):<16}"
                f" {clip(str(attrs.get('gen_ai.request.model', '-')), 16):<16}"
                f" {_fmt_int(attrs.get('gen_ai.usage.input_tokens')):>6}"
                f" {_fmt_int(attrs.get('gen_ai.usage.output_tokens')):>6}"
                f" {_fmt_usd(attrs.get('agentrig.cost_usd')):>10}  {status}"
            )
        lines.append(
            f"{'':>9} {'':>9}  {'total':<16} {'':<16} {tokens_in:>6} {tokens_out:>6}"
            f" {_fmt_usd(cost):>10}"
        )
    else:
        lines.append("  (none)")

    lines.append("")
    lines.append("Budget by stage")
    if walk.stages:
        rows = list(walk.stages.values())
        totals = (
            sum_usd(r.granted for r in rows),
            sum_usd(r.spent for r in rows),
            sum_usd(r.returned for r in rows),
        )
        # Money columns as wide as their widest figure plus one space: every significant
        # digit is printed ($0.0000575), so a fixed width would run two figures together.
        amounts = [*totals, *(x for r in rows for x in (r.granted, r.spent, r.returned))]
        mw = max(10, 1 + max(len(_fmt_usd(x)) for x in amounts))
        lines.append(
            f"  {'pool':<14} {'stage':<18} {'granted':>{mw}} {'spent':>{mw}}"
            f" {'returned':>{mw}} {'tokens':>7} {'charges':>7}  notes"
        )
        for r in rows:
            notes = []
            if r.refused_charges:
                notes.append(f"{plural(r.refused_charges, 'charge')} over the cap")
            if r.refusals:
                notes.append(f"refused {plural(r.refusals, 'time')}")
            lines.append(
                f"  {clip(r.pool, 14):<14} {clip(r.stage, 18):<18} {_fmt_usd(r.granted):>{mw}}"
                f" {_fmt_usd(r.spent):>{mw}} {_fmt_usd(r.returned):>{mw}} {r.tokens:>7}"
                f" {r.charges:>7}  {', '.join(notes)}".rstrip()
            )
        lines.append(
            f"  {'total':<14} {'':<18} {_fmt_usd(totals[0]):>{mw}} {_fmt_usd(totals[1]):>{mw}}"
            f" {_fmt_usd(totals[2]):>{mw}} {sum(r.tokens for r in rows):>7}"
            f" {sum(r.charges for r in rows):>7}"
        )
    else:
        lines.append("  (no budget activity recorded)")
    return [clip(line.rstrip(), width) for line in lines]


def _show_width(asked: int | None, out: TextIO) -> int:
    """``--width``, else the terminal's width, else (piped: ``| less -S``, a file) no limit."""
    if asked is not None:
        return asked
    isatty = getattr(out, "isatty", None)
    if isatty is not None and isatty():
        return max(40, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)
    return sys.maxsize


def run(ns: argparse.Namespace, out: TextIO) -> int:
    """Run ``agentrig show``: a snapshot, or a cassette (rendered by :mod:`.cassettes`)."""
    path = Path(ns.file)
    if path.name.endswith(CASSETTE_SUFFIX):
        from agentrig.cli import cassettes

        try:
            return cassettes.show(
                path, display(path), out, _show_width(ns.width, out), as_json=ns.json
            )
        except (ConfigurationError, OSError, ValueError) as exc:  # CassetteError is a ValueError
            raise Unusable(str(exc)) from None
    doc = load(path)
    if ns.json and ns.otlp:
        raise Unusable("give --json or --otlp, not both")
    if ns.json:
        out.write(dumps(doc).decode("utf-8"))
        return EXIT_OK
    if ns.otlp:
        from agentrig.otlp import dumps_otlp

        out.write(dumps_otlp(doc).decode("utf-8"))
        return EXIT_OK
    if ns.width is not None and ns.width < 40:
        raise Unusable(f"--width must be at least 40 columns, got {ns.width}")
    for line in _render_show(doc, display(path), _show_width(ns.width, out)):
        out.write(line + "\n")
    return EXIT_OK
