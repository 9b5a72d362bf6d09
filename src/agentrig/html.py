"""A drifted test as one self-contained HTML page: swimlanes on the virtual time axis.

Pure data in, text out: :func:`render_html` takes the snapshot document, the received
document and their :class:`~agentrig.drift.DriftReport`, and returns a page with everything
inline (CSS, a few lines of JS, SVG) — no network, no CDN, so it opens from a CI artifact as
it is. Every string that reaches the page goes through the snapshot redaction (built-in and
the session's ``agentrig_secret_patterns``) and then HTML escaping, in :func:`_text`, the one
door out; nothing is written unescaped.

The page shows, per side (snapshot | received), one lane per agent (``gen_ai.agent.name``, a
stage, else the top span) with each span as a bar at its virtual start and duration — model
calls, tool calls and other spans told apart — and the timeline entries as marks: decisions,
budget moves, bus events, deadline expiries. Spans and entries at the place of a root change
are highlighted; the root list above expands each root to its consequences (``<details>``).

:func:`render_mutation_html` is the mutation run's page (``DIR/mutation.html`` beside the
drift index), built from the JSON report with the same look and the same door out.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from agentrig._secrets import redact_secrets
from agentrig.drift import DriftReport, timeline_labels
from agentrig.vocabulary import (
    AGENTRIG_AGENT,
    GEN_AI_AGENT_NAME,
    GEN_AI_OPERATION_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_TOOL_NAME,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    MODEL_OPERATIONS,
    OPERATION_EXECUTE_TOOL,
)

__all__ = ["render_html", "render_index", "render_mutation_html"]

_LANE_H: Final = 26
_LEFT: Final = 120
_WIDTH: Final = 560
_AGENT_KEYS: Final = (GEN_AI_AGENT_NAME, "agent", "agent.name", AGENTRIG_AGENT, "stage")


def _text(value: object) -> str:
    """The one way a value reaches the page: redacted, then escaped."""
    return html.escape(redact_secrets(value if isinstance(value, str) else str(value)), quote=True)


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


@dataclass(slots=True)
class _Mark:
    kind: str  # "model" | "tool" | "span" | "decision" | "budget" | "bus" | "deadline" | "entry"
    lane: str
    start: float
    duration: float | None
    label: str
    path: str


def _span_kind(span: Mapping[str, Any]) -> str:
    attrs = span.get("attributes") or {}
    op = attrs.get(GEN_AI_OPERATION_NAME) if isinstance(attrs, Mapping) else None
    if op in MODEL_OPERATIONS or (isinstance(attrs, Mapping) and GEN_AI_REQUEST_MODEL in attrs):
        return "model"
    if op == OPERATION_EXECUTE_TOOL or (isinstance(attrs, Mapping) and GEN_AI_TOOL_NAME in attrs):
        return "tool"
    return "span"


def _entry_kind(kind: str) -> str:
    if kind == "decision":
        return "decision"
    if kind.startswith("budget."):
        return "budget"
    if kind.startswith("bus."):
        return "bus"
    if kind == "deadline.expired":
        return "deadline"
    return "entry"


def _marks(doc: Mapping[str, Any]) -> list[_Mark]:
    out: list[_Mark] = []

    def walk(items: Sequence[Any], path: str, lane: str, t: float) -> None:
        labels = timeline_labels(items)
        for item, label in zip(items, labels, strict=True):
            here = f"{path} › {label}" if path else label
            if not isinstance(item, Mapping):
                continue
            if "span" in item:
                attrs = item.get("attributes") or {}
                who = next(
                    (attrs[k] for k in _AGENT_KEYS if isinstance(attrs, Mapping) and attrs.get(k)),
                    None,
                )
                span_lane = str(who) if who is not None else (lane or str(item["span"]))
                start = _num(item.get("start"))
                start = t if start is None else start
                kind = _span_kind(item)
                name = str(item["span"])
                if kind == "model":
                    tokens = [
                        attrs.get(GEN_AI_USAGE_INPUT_TOKENS),
                        attrs.get(GEN_AI_USAGE_OUTPUT_TOKENS),
                    ]
                    name += f" {tokens[0]}→{tokens[1]} tok"
                status = item.get("status")
                if status == "error":
                    name += " (error)"
                out.append(_Mark(kind, span_lane, start, _num(item.get("duration")), name, here))
                walk(item.get("timeline") or [], here, span_lane, start)
            elif "entry" in item:
                kind = str(item["entry"])
                data = item.get("data") or {}
                when = _num(item.get("t"))
                detail = ""
                if isinstance(data, Mapping):
                    detail = str(
                        data.get("decision") or data.get("topic") or data.get("stage") or ""
                    )
                out.append(
                    _Mark(_entry_kind(kind), lane or "run", t if when is None else when, None,
                          f"{kind} {detail}".strip(), here)
                )  # fmt: skip

    timeline = doc.get("timeline")
    walk(timeline if isinstance(timeline, list) else [], "", "", 0.0)
    return out


def _highlighted(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r + " › ") for r in roots)


def _lanes_svg(marks: Sequence[_Mark], roots: Sequence[str], side: str, end: float) -> str:
    lanes = list(dict.fromkeys(m.lane for m in marks)) or ["run"]
    scale = _WIDTH / end if end > 0 else 0.0
    height = _LANE_H * len(lanes) + 30
    parts = [
        f'<svg class="lanes" data-side="{side}" role="img" width="{_LEFT + _WIDTH + 20}" '
        f'height="{height}" viewBox="0 0 {_LEFT + _WIDTH + 20} {height}">'
    ]
    for i, lane in enumerate(lanes):
        y = 20 + i * _LANE_H
        parts.append(
            f'<g class="lane" data-agent="{_text(lane)}"><text class="lane-name" x="4" '
            f'y="{y + 16}">{_text(lane[:16])}</text><line x1="{_LEFT}" x2="{_LEFT + _WIDTH}" '
            f'y1="{y + _LANE_H - 2}" y2="{y + _LANE_H - 2}" class="rule"/></g>'
        )
    for tick in range(6):
        x = _LEFT + tick * _WIDTH / 5
        parts.append(f'<text class="tick" x="{x:.1f}" y="12">{end * tick / 5:.1f}s</text>')
    for m in marks:
        y = 20 + lanes.index(m.lane) * _LANE_H
        x = _LEFT + m.start * scale
        cls = f"mark {m.kind}" + (" root-change" if _highlighted(m.path, roots) else "")
        title = f"<title>{_text(m.path)} @ {m.start:g}s: {_text(m.label)}</title>"
        if m.duration is not None:
            w = max(2.0, m.duration * scale)
            h, dy = (10, 12) if m.kind in ("model", "tool") else (8, 2)
            parts.append(
                f'<rect class="{cls}" data-path="{_text(m.path)}" x="{x:.1f}" y="{y + dy}" '
                f'width="{w:.1f}" height="{h}" rx="2">{title}</rect>'
            )
        else:
            parts.append(
                f'<circle class="{cls}" data-path="{_text(m.path)}" cx="{x:.1f}" '
                f'cy="{y + 17}" r="4">{title}</circle>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _end(marks: Sequence[_Mark]) -> float:
    end = 0.0
    for m in marks:
        end = max(end, m.start + (m.duration or 0.0))
    return end or 1.0


_CSS: Final = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.2em;color:#1d2330}
h1{font-size:1.2em;margin:0 0 .3em}
.summary{color:#444}.first{color:#555;margin:.3em 0 1em}
.roots details{border-left:4px solid #c33;padding:.2em .6em;margin:.3em 0;background:#fff6f5}
.roots details.info{border-color:#c90;background:#fffbea}
.roots summary{cursor:pointer;font-family:ui-monospace,monospace;font-size:12.5px}
.roots .count{color:#666;font-family:system-ui;margin-left:.4em}
.roots ul{margin:.3em 0 .3em 1em;padding:0;font-family:ui-monospace,monospace;font-size:12px}
.roots li{list-style:"↳ ";color:#333}
.sides{display:grid;grid-template-columns:1fr 1fr;gap:1em;margin-top:1em}
.side h2{font-size:1em;margin:.2em 0}
svg.lanes{background:#fafbfc;border:1px solid #dde;max-width:100%;height:auto}
.lane-name{font-size:11px;fill:#333}.tick{font-size:10px;fill:#888}.rule{stroke:#e3e6ea}
.mark.span{fill:#b7c4d8}.mark.model{fill:#4f7cc9}.mark.tool{fill:#48a67a}
.mark.decision{fill:#8a4fc9}.mark.budget{fill:#d89a1e}.mark.bus{fill:#2aa4b8}
.mark.deadline{fill:#d2322d}.mark.entry{fill:#777}
.mark.root-change{stroke:#d2322d;stroke-width:2.5}
.legend span{display:inline-block;margin-right:1em;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
"""

_JS: Final = """
document.querySelectorAll('.roots details').forEach(function(d){
  d.addEventListener('toggle',function(){
    var p=d.getAttribute('data-path');
    document.querySelectorAll('svg .mark').forEach(function(m){
      var q=m.getAttribute('data-path')||'';
      if(d.open&&(q===p||q.indexOf(p+' \\u203a ')===0)){m.style.strokeWidth='4';}
      else{m.style.strokeWidth='';}
    });
  });
});
"""

_LEGEND: Final = (
    ("model", "model call"),
    ("tool", "tool call"),
    ("span", "span"),
    ("decision", "decision"),
    ("budget", "budget move"),
    ("bus", "bus event"),
    ("deadline", "deadline expired"),
)
_COLORS: Final = {
    "model": "#4f7cc9",
    "tool": "#48a67a",
    "span": "#b7c4d8",
    "decision": "#8a4fc9",
    "budget": "#d89a1e",
    "bus": "#2aa4b8",
    "deadline": "#d2322d",
}


def _roots_html(report: DriftReport) -> Iterator[str]:
    children: dict[int, list[int]] = {}
    for i, c in enumerate(report.changes):
        if c.cause is not None:
            children.setdefault(c.cause, []).append(i)
    yield '<section class="roots"><h2>Root changes</h2>'
    for i, c in enumerate(report.changes):
        if c.cause is not None:
            continue
        folded = children.get(i, [])
        cls = "root" if c.severity == "fail" else "root info"
        count = f'<span class="count">+{len(folded)} consequences</span>' if folded else ""
        yield (
            f'<details class="{cls}" data-class="{_text(c.drift_class)}" '
            f'data-path="{_text(c.path)}"><summary>{_text(c.render())}{count}</summary>'
        )
        if folded:
            yield '<ul class="consequences">'
            yield from (f"<li>{_text(report.changes[j].render())}</li>" for j in folded)
            yield "</ul>"
        yield "</details>"
    yield "</section>"


def render_html(
    expected: Mapping[str, Any],
    received: Mapping[str, Any],
    report: DriftReport,
    *,
    title: str,
    snapshot_name: str = "snapshot",
    received_name: str = "received",
) -> str:
    """One drifted test's page: the roots (expandable), then both runs as swimlanes.

    Args:
        expected: the stored snapshot document.
        received: this run's document.
        report: ``compare(expected, received)``.
        title: what the page is about (the test's node id).
        snapshot_name: how to call the snapshot side (its file name).
        received_name: how to call the received side.

    Returns:
        The HTML page (UTF-8 text), with no external reference of any kind.
    """
    roots = [c.path for c in report.changes if c.cause is None and c.path]
    marks_a, marks_b = _marks(expected), _marks(received)
    end = max(_end(marks_a), _end(marks_b))
    first = report.first_divergence
    first_line = ""
    if first is not None:
        at = f"t={first.at:g} s, " if first.at is not None else ""
        first_line = f'<p class="first">first divergence: {_text(at + first.where)}</p>'
    legend = "".join(
        f'<span><i style="background:{_COLORS[k]}"></i>{label}</span>' for k, label in _LEGEND
    )
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
        f"<title>agentrig drift: {_text(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>agentrig drift: {_text(title)}</h1>",
        f'<p class="summary">{_text(report.summary())}</p>',
        first_line,
        *_roots_html(report),
        f'<p class="legend">{legend}<span><i style="background:#fff;border:2px solid '
        '#d2322d"></i>root change</span></p>',
        '<div class="sides">',
        f'<div class="side" data-side="snapshot"><h2>snapshot: {_text(snapshot_name)}</h2>',
        _lanes_svg(marks_a, roots, "snapshot", end),
        "</div>",
        f'<div class="side" data-side="received"><h2>received: {_text(received_name)}</h2>',
        _lanes_svg(marks_b, roots, "received", end),
        "</div></div>",
        f"<script>{_JS}</script></body></html>",
    ]
    return "\n".join(body) + "\n"


def render_index(entries: Sequence[tuple[str, str, str]], *, title: str = "agentrig drift") -> str:
    """A session's index page: one link per drifted test.

    Args:
        entries: ``(test id, summary line, link)`` per drifted snapshot; links are relative
            to the index file.
    """
    rows = "".join(
        f'<li><a href="{_text(link)}">{_text(nodeid)}</a> <span class="summary">'
        f"{_text(summary)}</span></li>"
        for nodeid, summary, link in entries
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>{_text(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_text(title)}</h1><p>{len(entries)} drifted snapshot"
        f'{"s" if len(entries) != 1 else ""}</p><ul class="index">{rows}</ul></body></html>\n'
    )


# -- the mutation report ------------------------------------------------------------------------
# The page of ``agentrig mutate`` / ``--agentrig-mutate`` with ``--agentrig-html=DIR`` (written
# as DIR/mutation.html, beside the drift index). It takes the JSON report (plain data: this
# module sits beside agentrig.mutate and imports nothing of it), with the same look, the same
# one door out (_text) and the same content security policy as the drift pages.

_MUTATION_CSS: Final = """
table{border-collapse:collapse;margin:.4em 0 1em;font-size:13px}
th,td{padding:.2em .6em;text-align:right;border-bottom:1px solid #e3e6ea}
th:first-child,td:first-child{text-align:left}
.bar{display:inline-block;height:8px;background:#48a67a;vertical-align:middle;margin-left:.4em}
.bar.low{background:#d2322d}
.verdict.ok{color:#2a7d4f}.verdict.below{color:#d2322d;font-weight:600}
.survivors li{font-family:ui-monospace,monospace;font-size:12.5px;margin:.15em 0}
details.test{border-left:4px solid #b7c4d8;padding:.2em .6em;margin:.3em 0;background:#fafbfc}
details.test.has-survivors{border-color:#c33;background:#fff6f5}
details.test summary{cursor:pointer;font-family:ui-monospace,monospace;font-size:12.5px}
tr.mutant.survived td{color:#c33;font-weight:600}tr.mutant.equivalent td{color:#888}
details.test td,details.test th{text-align:left}
td.detail{font-family:ui-monospace,monospace;font-size:11.5px;color:#555}
body.only-survivors tr.mutant:not(.survived){display:none}
body.only-survivors details.test:not(.has-survivors){display:none}
"""

_MUTATION_JS: Final = """
var only=document.getElementById('only-survivors');
if(only){only.addEventListener('change',function(){
  document.body.classList.toggle('only-survivors',only.checked);
});}
"""

_EXCLUDED: Final = (
    ("baseline_failed", "failed before mutation (excluded from the score)"),
    ("baseline_skipped", "skipped before mutation (excluded)"),
    ("no_mutants", "touched nothing a mutant could change"),
    ("not_agentrig", "not agentrig tests (skipped by the mutator)"),
)


def _pct_text(score: object) -> str:
    value = _num(score)
    return "–" if value is None else f"{100 * value:.1f}%"


def _score_cells(score: Mapping[str, Any], floor: float | None) -> str:
    value = _num(score.get("score"))
    bar = ""
    if value is not None:
        low = " low" if floor is not None and value < floor else ""
        bar = f'<span class="bar{low}" style="width:{round(60 * value)}px"></span>'
    return "".join(
        f"<td>{_text(score.get(k, 0))}</td>" for k in ("mutants", "killed", "survived")
    ) + (
        f"<td>{_text(score.get('equivalent', 0))}</td>"
        f'<td class="score">{_text(_pct_text(score.get("score")))}{bar}</td>'
    )


def render_mutation_html(report: Mapping[str, Any], *, title: str = "agentrig mutation") -> str:
    """A mutation run's page: the score, the survivors in words, per operator and per test.

    Args:
        report: the JSON report (:meth:`agentrig.mutate.report.MutationReport.to_json`).
        title: the page's heading.

    Returns:
        The HTML page (UTF-8 text), with no external reference of any kind.
    """
    overall = report.get("overall") or {}
    floor = _num(report.get("min_score"))
    tests = [t for t in report.get("tests") or [] if isinstance(t, Mapping)]
    verdict = ""
    if floor is not None:
        below = bool(report.get("below_floor"))
        verdict = (
            f' <span class="verdict {"below" if below else "ok"}">floor'
            f" {_text(f'{100 * floor:g}%')}: {'BELOW the floor' if below else 'ok'}</span>"
        )
    counts = ", ".join(
        f"{_text(overall.get(k, 0))} {label}"
        for k, label in (
            ("mutants", "mutants"),
            ("killed", "killed"),
            ("timed_out", "of them by their time limit"),
            ("survived", "survived"),
            ("equivalent", "equivalent (changed nothing recorded)"),
            ("not_run", "not run (time limit)"),
        )
        if k in ("mutants", "killed", "survived") or overall.get(k)
    )
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
        f"<title>{_text(title)}</title><style>{_CSS}{_MUTATION_CSS}</style></head><body>",
        f"<h1>{_text(title)}: {_text(_pct_text(overall.get('score')))}{verdict}</h1>",
        f'<p class="summary">{counts}</p>',
    ]
    survivors = [s for s in report.get("survivors") or [] if isinstance(s, str)]
    body.append(f'<section class="survivors"><h2>Survivors ({len(survivors)})</h2>')
    if survivors:
        body.append("<ul>" + "".join(f"<li>{_text(s)}</li>" for s in survivors) + "</ul>")
    else:
        body.append("<p>None: every mutant that changed the run was noticed.</p>")
    body.append("</section>")
    operators = report.get("operators") or {}
    head = (
        "<tr><th>{}</th><th>mutants</th><th>killed</th><th>survived</th><th>equivalent</th>"
        "<th>score</th></tr>"
    )
    body.append('<section class="operators"><h2>Per operator</h2><table>')
    body.append(head.format("operator"))
    for name, score in operators.items():
        if isinstance(score, Mapping):
            body.append(
                f'<tr data-operator="{_text(name)}"><td>{_text(name)}</td>'
                f"{_score_cells(score, floor)}</tr>"
            )
    body.append("</table></section>")
    mutated = [t for t in tests if t.get("status") == "mutated"]
    body.append(
        f'<section class="tests"><h2>Per test ({len(mutated)})</h2><label><input type="checkbox"'
        ' id="only-survivors"> only tests with survivors, only their survivors</label>'
    )
    for test in mutated:
        mutants = [m for m in test.get("mutants") or [] if isinstance(m, Mapping)]
        killed = sum(m.get("status") == "killed" for m in mutants)
        survived = sum(m.get("status") == "survived" for m in mutants)
        cls = "test has-survivors" if survived else "test"
        body.append(
            f'<details class="{cls}" data-test="{_text(test.get("nodeid", ""))}"><summary>'
            f"{_text(test.get('nodeid', ''))} — {_text(_pct_text(test.get('score')))}"
            f" ({len(mutants)} mutants, {killed} killed, {survived} survived)</summary>"
            "<table><tr><th>mutant</th><th>status</th><th>by</th><th>how the test failed</th></tr>"
        )
        for m in mutants:
            status = str(m.get("status", ""))
            body.append(
                f'<tr class="mutant {_text(status)}" data-id="{_text(m.get("id", ""))}">'
                f"<td>{_text(m.get('description', m.get('id', '')))}</td><td>{_text(status)}</td>"
                f"<td>{_text(m.get('killed_by', ''))}</td>"
                f'<td class="detail">{_text(m.get("detail", ""))}</td></tr>'
            )
        body.append("</table></details>")
    body.append("</section>")
    for status, what in _EXCLUDED:
        found = [t for t in tests if t.get("status") == status]
        if not found:
            continue
        body.append(
            f'<section class="excluded" data-status="{status}"><h2>{len(found)} test(s) {what}'
            "</h2><ul>"
        )
        for t in found:
            detail = t.get("detail")
            extra = f' <span class="summary">{_text(detail)}</span>' if detail else ""
            body.append(f"<li>{_text(t.get('nodeid', ''))}{extra}</li>")
        body.append("</ul></section>")
    notes = [n for n in report.get("notes") or [] if isinstance(n, str)]
    if notes:
        body.append('<section class="notes">' + "".join(f"<p>{_text(n)}</p>" for n in notes))
        body.append("</section>")
    body.append(f"<script>{_MUTATION_JS}</script></body></html>")
    return "\n".join(body) + "\n"
