"""Semantic drift between two snapshot documents: every change, where it happened, what kind.

:func:`compare` walks the expected and the received document (both produced by
:func:`agentrig.normalize.normalize`) side by side and lists *every* difference, each as a
:class:`Change` with its place in the run and its class:

==============  ================================================================================
``structure``   spans, calls and entries added, removed or reordered; events added or removed
``decision``    decision-log entries added, removed or changed
``text``        prompts, replies and any other attribute or payload value
``usage-cost``  tokens and money (``*tokens*``, ``*usd*``, ``*cost*`` fields; budget entries)
``timing``      virtual ``start``, ``duration`` and ``t``; latencies, deadlines that expired
``error``       status, errors, exception events, failures (``ok``, ``accepted``, ``*error*``)
==============  ================================================================================

A place reads like the run: span names joined by ``›``, disambiguated by the agent (or stage)
or an occurrence number when siblings share a name, then ``·`` and the field::

    [text] pipeline › draft › model.call · gen_ai.completion: 'report on n…' → 'report on X…'
    [usage-cost] broadcast › model.call[agent=web] · gen_ai.usage.output_tokens: 120 → 125

Siblings are matched by identity (the span's OpenTelemetry operation or name + agent or
stage, entry kind + decision/topic/stage, and the occurrence among equals), aligned by a
longest common subsequence, and only then compared field by field. One broadcast agent that
failed or vanished is therefore one change about *that* agent, never a cascade of "renames"
of every later sibling (what diffing by list index would report).

The changes are listed in run order (a span's own outcome after its children) and then
*folded* (:func:`_fold`): each is a **root**, or a **consequence** of an earlier root (the
reply's tokens and cost, the prompt downstream that quotes it, later budget moves and time
stamps, what an enclosing span reports about a failed child). Reports show the roots, each
with a one-line count of its consequences; every leaf stays in :attr:`DriftReport.changes`.
Numbers are never ``text``, and messages that differ only in their figures are
``usage-cost``, so a class follows the meaning of a field, not where a number appears.

:class:`DriftConfig` says which classes fail a test and which numeric differences are
tolerated; a change that is tolerated or in a class that does not fail is still reported, as
``info``.

Usage::

    report = compare(loads(old_bytes), normalize(recording),
                     config=DriftConfig.from_strings(fail_on="structure,decision,error",
                                                     tolerance="usage-cost:rel=0.05"))
    if report.failed:
        raise AssertionError(report.render())
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias

import orjson

from agentrig._errors import ConfigurationError
from agentrig.document import ACTOR_ATTRIBUTES, check_header, entry_label

__all__ = [
    "DRIFT_CLASSES",
    "Change",
    "DriftClass",
    "DriftConfig",
    "DriftReport",
    "Tolerance",
    "compare",
    "timeline_labels",
]

DriftClass: TypeAlias = Literal["structure", "decision", "text", "usage-cost", "timing", "error"]
Severity: TypeAlias = Literal["fail", "info"]
Operation: TypeAlias = Literal["changed", "added", "removed", "reordered"]

#: Every class of change, in the order reports list them.
DRIFT_CLASSES: Final[tuple[DriftClass, ...]] = (
    "structure",
    "decision",
    "text",
    "usage-cost",
    "timing",
    "error",
)
_NUMERIC_CLASSES: Final = ("usage-cost", "timing")

_PATH_SEP: Final = " › "
_FIELD_SEP: Final = " · "
_MAX_VALUE_DEPTH: Final = 64


def _valid_classes() -> str:
    return ", ".join(DRIFT_CLASSES)


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# --- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How far a number may move before it counts as drift.

    A change from ``e`` to ``r`` is tolerated when ``|r - e| <= abs`` or
    ``|r - e| <= rel * max(|e|, |r|)``.

    Args:
        abs: absolute tolerance (same unit as the field: tokens, USD, virtual seconds).
        rel: relative tolerance (``0.05`` is 5 %).
    """

    abs: float = 0.0
    rel: float = 0.0

    def __post_init__(self) -> None:
        for name in ("abs", "rel"):
            value = getattr(self, name)
            if not _is_number(value) or not math.isfinite(value) or value < 0:
                raise ConfigurationError(
                    f"Tolerance `{name}` must be a finite number >= 0, got {value!r}"
                )

    def allows(self, expected: float, received: float) -> bool:
        """Whether moving from ``expected`` to ``received`` stays within this tolerance."""
        diff = math.fabs(received - expected)
        return diff <= self.abs or diff <= self.rel * max(math.fabs(expected), math.fabs(received))

    def __str__(self) -> str:
        parts = [f"abs={self.abs:g}"] if self.abs else []
        if self.rel:
            parts.append(f"rel={self.rel:g}")
        return ",".join(parts) or "abs=0"


@dataclass(frozen=True, slots=True, init=False)
class DriftConfig:
    """Which classes of change fail, and which numeric changes are tolerated.

    Args:
        fail_on: the classes that fail (default: all of :data:`DRIFT_CLASSES`). Changes of other
            classes are reported as ``info``.
        tolerances: a :class:`Tolerance` per *class* (``"usage-cost"``, ``"timing"``) or per
            *field glob* (``"gen_ai.usage.*"``, ``"*tokens"``, ``"duration"``), matched against
            the field's full name and against its last dotted part. A field glob wins over a
            class; among globs the first that matches wins.

    Raises:
        ConfigurationError: an unknown class, or a class tolerance for a class that is not
            numeric.
    """

    fail_on: frozenset[str]
    tolerances: Mapping[str, Tolerance] = field(hash=False)

    def __init__(
        self,
        *,
        fail_on: Iterable[str] = DRIFT_CLASSES,
        tolerances: Mapping[str, Tolerance] | None = None,
    ) -> None:
        classes = frozenset({fail_on} if isinstance(fail_on, str) else fail_on)
        unknown = sorted(c for c in classes if c not in DRIFT_CLASSES)
        if unknown:
            raise ConfigurationError(
                f"DriftConfig `fail_on` has unknown class(es) {', '.join(map(repr, unknown))}; "
                f"valid classes are {_valid_classes()}"
            )
        checked: dict[str, Tolerance] = {}
        for key, tol in dict(tolerances or {}).items():
            if not isinstance(key, str) or not key.strip():
                raise ConfigurationError(
                    f"DriftConfig `tolerances` keys must be class names or field globs, got {key!r}"
                )
            if not isinstance(tol, Tolerance):
                raise ConfigurationError(
                    f"DriftConfig `tolerances[{key!r}]` must be a Tolerance, got {tol!r}"
                )
            if key in DRIFT_CLASSES and key not in _NUMERIC_CLASSES:
                raise ConfigurationError(
                    f"DriftConfig tolerance for {key!r}: tolerances apply to numbers, so to the "
                    f"classes {', '.join(_NUMERIC_CLASSES)} or to field globs"
                )
            checked[key.strip()] = tol
        object.__setattr__(self, "fail_on", classes)
        object.__setattr__(self, "tolerances", MappingProxyType(checked))

    @classmethod
    def from_strings(
        cls,
        *,
        fail_on: str | Iterable[str] | None = None,
        tolerance: str | Iterable[str] | None = None,
    ) -> DriftConfig:
        """Build a config from ini / marker / command-line strings.

        Args:
            fail_on: class names separated by commas or whitespace (``"structure,decision,
                error"``), or ``"all"`` (the default) or ``"none"``; a list of such strings
                (an ini ``linelist``) is joined.
            tolerance: ``TARGET:SPEC`` items separated by commas, semicolons or newlines, where
                TARGET is a class or a field glob and SPEC is ``abs=N`` and/or ``rel=N`` (``rel``
                also takes a percentage): ``"usage-cost:rel=0.05,timing:abs=0.5"``,
                ``"gen_ai.usage.*:abs=10,rel=5%"``.

        Raises:
            ConfigurationError: naming the bad item and listing what is valid.
        """
        return cls(fail_on=_parse_fail_on(fail_on), tolerances=_parse_tolerances(tolerance))

    def tolerance_for(self, drift_class: str, field_name: str | None) -> Tolerance | None:
        """The tolerance that applies to a change of this class in this field, if any."""
        if field_name:
            leaf = field_name.rsplit(".", 1)[-1]
            for key, tol in self.tolerances.items():
                if key in DRIFT_CLASSES:
                    continue
                if fnmatch.fnmatchcase(field_name, key) or fnmatch.fnmatchcase(leaf, key):
                    return tol
        return self.tolerances.get(drift_class)


def _joined(value: str | Iterable[str] | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return "\n".join(str(v) for v in value)


def _parse_fail_on(value: str | Iterable[str] | None) -> frozenset[str]:
    text = _joined(value).strip()
    if value is None or text.lower() == "all":
        return frozenset(DRIFT_CLASSES)
    names = [n for n in re.split(r"[\s,;]+", text) if n]
    if not names:
        raise ConfigurationError(
            f"fail_on is empty; give class names ({_valid_classes()}), 'all' or 'none'"
        )
    if [n.lower() for n in names] == ["none"]:
        return frozenset()
    unknown = [n for n in names if n not in DRIFT_CLASSES]
    if unknown:
        raise ConfigurationError(
            f"fail_on={text!r}: unknown class(es) {', '.join(map(repr, unknown))}; valid classes "
            f"are {_valid_classes()} (or 'all', 'none')"
        )
    return frozenset(names)


def _parse_number(text: str, item: str, *, percent: bool) -> float:
    scale = 1.0
    as_percent = percent and text.endswith("%")
    if as_percent:
        text, scale = text[:-1], 0.01
    try:
        value = float(text) * scale
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(
            f"tolerance {item!r}: {text!r} is not a number >= 0; write e.g. "
            "'usage-cost:rel=0.05' or 'timing:abs=0.5'"
        )
    if percent and not as_percent and value > 1:
        # ``rel=5`` would silently mean 500 %: say which of the two was meant.
        raise ConfigurationError(
            f"tolerance {item!r}: rel={text} would allow a {value:g}x ({value:.0%}) change; "
            f"write rel={text}% for {text} percent or rel={value / 100:g} (a fraction of 1)"
        )
    return value


def _parse_tolerances(value: str | Iterable[str] | None) -> dict[str, Tolerance]:
    text = _joined(value)
    result: dict[str, Tolerance] = {}
    target: str | None = None
    spec: dict[str, float] = {}

    def flush() -> None:
        if target is not None:
            result[target] = Tolerance(**spec)

    for raw in re.split(r"[,;\n]+", text):
        item = raw.strip()
        if not item:
            continue
        head, sep, tail = item.rpartition(":")
        if sep:
            flush()
            target, spec = head.strip(), {}
            if not target:
                raise ConfigurationError(
                    f"tolerance {item!r} has no target before ':'; write CLASS_OR_FIELD:abs=N "
                    f"or :rel=N, where CLASS is one of {', '.join(_NUMERIC_CLASSES)}"
                )
            if target in DRIFT_CLASSES and target not in _NUMERIC_CLASSES:
                raise ConfigurationError(
                    f"tolerance {item!r}: {target!r} is not numeric; tolerances apply to "
                    f"{', '.join(_NUMERIC_CLASSES)} or to field globs"
                )
            item_spec = tail.strip()
        elif target is None:
            raise ConfigurationError(
                f"tolerance {item!r} names no class or field; write e.g. 'usage-cost:rel=0.05' "
                f"(classes: {', '.join(_NUMERIC_CLASSES)}; or a field glob like 'gen_ai.usage.*')"
            )
        else:
            item_spec = item
        name, eq, number = item_spec.partition("=")
        name = name.strip().lower()
        if not eq or name not in ("abs", "rel"):
            raise ConfigurationError(
                f"tolerance {item!r}: expected abs=N or rel=N after the target, got "
                f"{item_spec!r}; e.g. 'usage-cost:rel=0.05,timing:abs=0.5'"
            )
        spec[name] = _parse_number(number.strip(), item, percent=name == "rel")
    flush()
    return result


# --- the report ------------------------------------------------------------------------------

#: The widest a value is shown in a report line (the JSON report keeps values whole).
VALUE_WIDTH: Final = 120


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between the expected and the received run.

    Attributes:
        drift_class: one of :data:`DRIFT_CLASSES`.
        path: the place in the run, span (and entry) labels joined by ``' › '``.
        field: the field inside that place (``gen_ai.usage.output_tokens``,
            ``events[agent_failed].error``, ``status``), or ``None`` for the item itself.
        op: ``changed``, ``added``, ``removed`` or ``reordered``.
        expected: the value in the expected document (``None`` when added).
        received: the value in the received document (``None`` when removed).
        severity: ``fail``, or ``info`` when tolerated or of a class that does not fail.
        note: why it is ``info``, or a detail of a reorder.
        at: the virtual time of the place (the span's start, the entry's ``t``), if known.
        cause: for a *consequence*, the index (in :attr:`DriftReport.changes`) of the root
            change it follows from; ``None`` for a root.
    """

    drift_class: DriftClass
    path: str
    field: str | None = None
    op: Operation = "changed"
    expected: Any = None
    received: Any = None
    severity: Severity = "fail"
    note: str | None = None
    at: float | None = None
    cause: int | None = None

    @property
    def is_root(self) -> bool:
        """Whether this change is a root (not a consequence of an earlier change)."""
        return self.cause is None

    @property
    def where(self) -> str:
        """``path · field`` (or just the path)."""
        if not self.field:
            return self.path or "(run)"
        return f"{self.path}{_FIELD_SEP}{self.field}" if self.path else self.field

    def describe(self) -> str:
        """What happened, without the place: ``'old…' → 'new…'``, ``added span``, ..."""
        if self.op == "changed":
            if isinstance(self.expected, str) and isinstance(self.received, str):
                old, new = _shorten_pair(self.expected, self.received)
                return f"{old!r} → {new!r}"
            return f"{_short(self.expected)} → {_short(self.received)}"
        if self.op == "reordered":
            return f"moved ({self.note})" if self.note else "moved"
        value = self.received if self.op == "added" else self.expected
        return f"{self.op} {_describe_item(value)}"

    def render(self, *, color: bool = False) -> str:
        """One line: ``[class] place · field: what happened``."""
        tag = f"[{self.drift_class}]"
        info = ""
        if self.severity == "info":
            info = f" (info{': ' + self.note if self.note and self.op != 'reordered' else ''})"
        if color:
            tag = f"\x1b[1;31m{tag}\x1b[0m" if self.severity == "fail" else f"\x1b[33m{tag}\x1b[0m"
            info = f"\x1b[2m{info}\x1b[0m" if info else ""
        return f"{tag} {self.where}: {self.describe()}{info}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (for ``--agentrig-report``): values whole, never shortened."""
        return {
            "class": self.drift_class,
            "path": self.path,
            "field": self.field,
            "where": self.where,
            "op": self.op,
            "expected": self.expected,
            "received": self.received,
            "severity": self.severity,
            "note": self.note,
            "at": self.at,
            "cause": self.cause,
        }


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Every change between two runs, in run order, each a root or a consequence of one.

    A *root* is a change that nothing earlier in the run explains (a changed reply, an added
    stage, a failed call); a *consequence* follows from a root (the reply's tokens and cost,
    the next prompt that quotes it, the budget moves and time stamps after it) and carries the
    root's index in :attr:`Change.cause`. Reports show the roots, each with a count of what
    it caused; every leaf change stays in :attr:`changes`.

    Attributes:
        changes: every change, in the order the run met them.
    """

    changes: tuple[Change, ...] = ()

    @property
    def failed(self) -> bool:
        """Whether any change fails (is in a failing class and not tolerated)."""
        return any(c.severity == "fail" for c in self.changes)

    @property
    def has_changes(self) -> bool:
        """Whether anything differs at all (``info`` included)."""
        return bool(self.changes)

    @property
    def roots(self) -> tuple[Change, ...]:
        """The root changes, in run order."""
        return tuple(c for c in self.changes if c.cause is None)

    def consequences(self, root: int | Change) -> tuple[Change, ...]:
        """The changes that follow from ``root`` (its index in :attr:`changes`, or itself)."""
        index = self.changes.index(root) if isinstance(root, Change) else root
        return tuple(c for c in self.changes if c.cause == index)

    @property
    def first_divergence(self) -> Change | None:
        """The earliest change in the run (by virtual time, then run order)."""
        best: Change | None = None
        best_at = math.inf
        for change in self.changes:
            at = change.at if change.at is not None else math.inf
            if best is None or at < best_at:
                best, best_at = change, at
        return best

    def counts(self, *, severity: Severity | None = None, roots: bool = False) -> dict[str, int]:
        """Changes per class (only classes that occur, in :data:`DRIFT_CLASSES` order).

        Args:
            severity: count only ``fail`` or only ``info`` changes.
            roots: count root changes only.
        """
        counter = Counter(
            c.drift_class
            for c in self.changes
            if (severity is None or c.severity == severity) and (not roots or c.cause is None)
        )
        return {cls: counter[cls] for cls in DRIFT_CLASSES if counter[cls]}

    def summary(self) -> str:
        """One line: ``1 root change (text 1) + 21 consequences; 22 changes, 22 failing``."""
        if not self.changes:
            return "no drift"
        roots = self.counts(roots=True)
        n_roots = sum(roots.values())
        detail = ", ".join(f"{k} {v}" for k, v in roots.items())
        text = f"{n_roots} root change{'s' if n_roots != 1 else ''} ({detail})"
        folded = len(self.changes) - n_roots
        if folded:
            text += f" + {folded} consequence{'s' if folded != 1 else ''}"
        failing = sum(1 for c in self.changes if c.severity == "fail")
        total = len(self.changes)
        text += f"; {total} change{'s' if total != 1 else ''}, {failing} failing"
        return text

    def render(self, *, color: bool = False, max_changes: int = 50, verbose: int = 0) -> str:
        """The report as text: a summary, the first divergence, then one line per root.

        Each root is followed by one line counting its consequences (a uniform time shift
        reads as one phrase); with ``verbose >= 2`` every consequence is listed under it.

        Args:
            color: ANSI colours (for a terminal).
            max_changes: at most this many root lines (failing roots first when some must be
                left out; the rest are counted).
            verbose: 2 or more lists every leaf change under its root.
        """
        lines = [f"agentrig drift: {self.summary()}"]
        if not self.changes:
            return lines[0]
        first = self.first_divergence
        if first is not None:
            at = f"t={_fmt_time(first.at)} s, " if first.at is not None else ""
            lines.append(f"  first divergence: {at}{first.where}")
        children: dict[int, list[int]] = {}
        roots: list[int] = []
        for i, c in enumerate(self.changes):
            if c.cause is None:
                roots.append(i)
            else:
                children.setdefault(c.cause, []).append(i)
        shown = roots
        if len(roots) > max_changes:
            fails = [i for i in roots if self._fails(i, children)]
            infos = [i for i in roots if i not in set(fails)]
            shown = sorted((fails + infos)[: max(0, max_changes)])
        for i in shown:
            lines.append(f"  {self.changes[i].render(color=color)}")
            folded = children.get(i, [])
            if not folded:
                continue
            lines.append(f"      {_consequence_line([self.changes[j] for j in folded])}")
            if verbose >= 2:
                lines.extend(f"        ↳ {self.changes[j].render(color=color)}" for j in folded)
        hidden = len(roots) - len(shown)
        if hidden:
            lines.append(f"  … and {hidden} more root change{'s' if hidden != 1 else ''}")
        return "\n".join(lines)

    def _fails(self, root: int, children: Mapping[int, list[int]]) -> bool:
        if self.changes[root].severity == "fail":
            return True
        return any(self.changes[j].severity == "fail" for j in children.get(root, ()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: ``failed``, ``counts``, ``root_counts``, ``roots``, ``changes``."""
        first = self.first_divergence
        return {
            "failed": self.failed,
            "counts": self.counts(),
            "root_counts": self.counts(roots=True),
            "roots": [i for i, c in enumerate(self.changes) if c.cause is None],
            "first_divergence": None
            if first is None
            else {"at": first.at, "where": first.where, "index": self.changes.index(first)},
            "changes": [c.to_dict() for c in self.changes],
        }


def _fmt_time(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.1f}"


def _short(value: Any, width: int = VALUE_WIDTH) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= width else value[:width] + "…")
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= width else text[:width] + "…"


def _shorten_pair(a: str, b: str, width: int = VALUE_WIDTH) -> tuple[str, str]:
    """Both strings cut to a window around their first difference."""
    if len(a) <= width and len(b) <= width:
        return a, b
    limit = min(len(a), len(b))
    first = 0
    while first < limit and a[first] == b[first]:
        first += 1
    start = max(0, first - width // 3)

    def cut(s: str) -> str:
        piece = s[start : start + width]
        return ("…" if start else "") + piece + ("…" if start + width < len(s) else "")

    return cut(a), cut(b)


def _describe_item(value: Any) -> str:
    if isinstance(value, Mapping):
        if "span" in value:
            status = value.get("status")
            extra = f" (status {status})" if status not in (None, "unset") else ""
            return f"span {value['span']!r}{extra}"
        if "entry" in value:
            data = value.get("data")
            return f"{value['entry']} {_short(data)}" if data else str(value["entry"])
        if "name" in value and len(value) <= 3 and ("t" in value or "attributes" in value):
            attrs = value.get("attributes")
            return f"event {value['name']!r}" + (f" {_short(attrs)}" if attrs else "")
    return _short(value)


# --- consequence lines ----------------------------------------------------------------------

_TOKEN_RE: Final = re.compile(r"token", re.IGNORECASE)


def _category(change: Change) -> str:
    """What kind of consequence a change is, for the one-line count under its root."""
    name = change.field or ""
    if change.drift_class == "timing":
        leaf = _leaf(name) if name else ""
        return "durations" if leaf == "duration" else "times"
    if change.drift_class == "usage-cost":
        if _TOKEN_RE.search(name):
            return "tokens"
        if _USAGE_RE.search(name) or isinstance(change.expected, str):
            return "cost"
        return "counts"
    if change.drift_class == "text":
        role = _text_role(name)
        return {"prompt": "prompts", "reply": "replies"}.get(role, "text")
    return {"structure": "structure", "decision": "decisions", "error": "errors"}[
        change.drift_class
    ]


_CATEGORY_ORDER: Final = (
    "structure",
    "decisions",
    "errors",
    "prompts",
    "replies",
    "text",
    "tokens",
    "cost",
    "counts",
    "durations",
    "times",
)


def _consequence_line(folded: Sequence[Change]) -> str:
    """``+20 consequences: prompts 1, tokens 6, cost 9; everything after starts 2.0 s later``."""
    cats = Counter(_category(c) for c in folded)
    shifts = [
        c.received - c.expected
        for c in folded
        if _category(c) == "times" and _is_number(c.expected) and _is_number(c.received)
    ]
    parts = [f"{cat} {cats[cat]}" for cat in _CATEGORY_ORDER if cats[cat] and cat != "times"]
    text = f"+{len(folded)} consequence{'s' if len(folded) != 1 else ''}"
    if parts:
        text += ": " + ", ".join(parts)
    if cats["times"]:
        uniform = len(shifts) == cats["times"] and len({round(s, 9) for s in shifts}) == 1
        if uniform:
            delta = shifts[0]
            word = "later" if delta > 0 else "earlier"
            phrase = f"everything after it starts {_fmt_time(abs(delta))} s {word}"
            phrase += f" ({cats['times']} times)"
        else:
            phrase = f"times {cats['times']}"
            if shifts:
                phrase += f" (shifted {_fmt_signed(min(shifts))} … {_fmt_signed(max(shifts))} s)"
        text += ("; " if parts else ": ") + phrase
    return text


def _fmt_signed(value: float) -> str:
    return ("+" if value >= 0 else "-") + _fmt_time(abs(value))


# --- matching and diffing ---------------------------------------------------------------------


def _who(item: Mapping[str, Any]) -> tuple[str, str]:
    attributes = item.get("attributes")
    if isinstance(attributes, Mapping):
        for key in ACTOR_ATTRIBUTES:
            value = attributes.get(key)
            if value is not None and value != "":
                short = "stage" if key.endswith("stage") else "agent"
                return short, value if isinstance(value, str) else str(value)
    return "", ""


#: Entry fields that say *which* one of its kind an entry is (beyond ``entry_label``): two
#: ``stage_complete`` decisions of different stages are different decisions.
_ENTRY_DETAIL_KEYS: Final = ("stage", "agent", "agent_name", "step")


class _Node:
    """A timeline item with what matching needs: identity, coarse kind, label parts.

    A span's identity is its OpenTelemetry operation (``gen_ai.operation.name``, when set)
    or its name, plus the agent or stage attribute: never a literal span name, so spans
    renamed by another instrumentation (``chat gpt-4o``) match the same way.
    """

    __slots__ = ("coarse", "detail", "identity", "item", "kind", "name", "who", "who_key")

    def __init__(self, item: Any) -> None:
        self.item = item
        self.detail = ""
        if isinstance(item, Mapping) and "span" in item:
            self.kind = "span"
            self.name = str(item["span"])
            self.who_key, self.who = _who(item)
            attributes = item.get("attributes")
            operation = (
                attributes.get("gen_ai.operation.name") if isinstance(attributes, Mapping) else None
            )
            key = str(operation) if isinstance(operation, str) and operation else self.name
        elif isinstance(item, Mapping) and "entry" in item:
            self.kind = "entry"
            self.name = str(item["entry"])
            data = item.get("data")
            self.who_key = ""
            self.who = entry_label(self.name, data) if isinstance(data, Mapping) else ""
            if isinstance(data, Mapping):
                for k in _ENTRY_DETAIL_KEYS:
                    value = data.get(k)
                    if isinstance(value, str) and value and value != self.who:
                        self.detail = value
                        break
            key = self.name
        else:
            self.kind = "other"
            self.name = _short(item)
            self.who_key = self.who = ""
            key = self.name
        self.coarse = (self.kind, key)
        self.identity = (self.kind, key, self.who, self.detail)


def _labels(nodes: Sequence[_Node]) -> list[str]:
    by_name = Counter((n.kind, n.name) for n in nodes)
    by_who = Counter((n.kind, n.name, n.who) for n in nodes)
    by_identity = Counter((n.kind, n.name, n.who, n.detail) for n in nodes)
    # The agent tells same-named spans apart only when they do not all share one agent.
    whos: dict[tuple[str, str], set[str]] = {}
    for n in nodes:
        whos.setdefault((n.kind, n.name), set()).add(n.who)
    seen: Counter[tuple[str, str, str, str]] = Counter()
    labels = []
    for n in nodes:
        key = (n.kind, n.name, n.who, n.detail)
        seen[key] += 1
        parts = []
        if n.kind == "span":
            if by_name[(n.kind, n.name)] > 1 and n.who and len(whos[(n.kind, n.name)]) > 1:
                parts.append(f"{n.who_key}={n.who}")
        elif n.who:
            parts.append(n.who)
        if n.detail and by_who[(n.kind, n.name, n.who)] > 1:
            parts.append(n.detail)
        if by_identity[key] > 1:
            parts.append(f"#{seen[key]}")
        labels.append(f"{n.name}[{' '.join(parts)}]" if parts else n.name)
    return labels


def timeline_labels(items: Sequence[Any]) -> list[str]:
    """The labels reports give the items of one timeline (``model.call[agent=web]``).

    Joined by ``' › '`` down the tree they make :attr:`Change.path`, so other views of a run
    (the HTML timeline) can point at the same places.
    """
    return _labels([_Node(x) for x in items])


_Step: TypeAlias = tuple[str, int, int]  # ("pair" | "moved" | "removed" | "added", i, j)

#: Above this many cells (n × m of the unequal middle) the exact LCS table costs too much;
#: ``difflib``'s matcher (longest blocks first) stands in.
_LCS_CELLS: Final = 40_000


def _lcs_pairs(a: Sequence[Any], b: Sequence[Any]) -> list[tuple[int, int]]:
    """An exact longest common subsequence of ``a`` and ``b`` as index pairs, in order.

    Ties prefer the earliest items of ``a``, so an inserted step is the one reported as
    added and nothing after it is mis-paired.
    """
    n, m = len(a), len(b)
    # suffix table: lcs[i][j] = LCS length of a[i:], b[j:]
    lcs = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = lcs[i], lcs[i + 1]
        ai = a[i]
        for j in range(m - 1, -1, -1):
            row[j] = below[j + 1] + 1 if ai == b[j] else max(below[j], row[j + 1])
    pairs: list[tuple[int, int]] = []
    i = j = 0
    while i < n and j < m:
        if a[i] == b[j]:
            pairs.append((i, j))
            i += 1
            j += 1
        elif lcs[i + 1][j] >= lcs[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def _blocks(a: Sequence[Any], b: Sequence[Any]) -> list[tuple[str, int, int, int, int]]:
    """Opcodes (like ``difflib``'s) of a sequence alignment of ``a`` and ``b``."""
    n, m = len(a), len(b)
    lo = 0
    while lo < n and lo < m and a[lo] == b[lo]:
        lo += 1
    ha, hb = n, m
    while ha > lo and hb > lo and a[ha - 1] == b[hb - 1]:
        ha -= 1
        hb -= 1
    blocks: list[tuple[str, int, int, int, int]] = []
    if lo:
        blocks.append(("equal", 0, lo, 0, lo))
    if lo < ha or lo < hb:
        mid_a, mid_b = a[lo:ha], b[lo:hb]
        if len(mid_a) * len(mid_b) <= _LCS_CELLS:
            pi = pj = 0
            for i, j in [*_lcs_pairs(mid_a, mid_b), (len(mid_a), len(mid_b))]:
                if pi < i or pj < j:
                    tag = "replace" if pi < i and pj < j else "delete" if pi < i else "insert"
                    blocks.append((tag, pi + lo, i + lo, pj + lo, j + lo))
                if i < len(mid_a):
                    blocks.append(("equal", i + lo, i + lo + 1, j + lo, j + lo + 1))
                pi, pj = i + 1, j + 1
        else:
            matcher = SequenceMatcher(None, mid_a, mid_b, autojunk=False)
            for opcode, i1, i2, j1, j2 in matcher.get_opcodes():
                blocks.append((opcode, i1 + lo, i2 + lo, j1 + lo, j2 + lo))
    if ha < n:
        blocks.append(("equal", ha, n, hb, m))
    return blocks


def _align(
    a: Sequence[Any], b: Sequence[Any], a_coarse: Sequence[Any], b_coarse: Sequence[Any]
) -> list[_Step]:
    """Match two sequences of identity keys; report pairs (in place or moved) and leftovers.

    1. a sequence alignment on identities (an exact LCS after trimming the common prefix and
       suffix, which keeps the common case of long equal timelines linear);
    2. leftovers with the same identity elsewhere are the same item, moved;
    3. inside one replaced block, leftovers of the same coarse kind (span operation or name,
       entry kind) are paired when both sides have as many: an item whose identity changed
       (a decision that now says "revise") is reported as changed fields, not as removed
       plus added.
    """
    blocks = _blocks(a, b)
    partner_of_a: dict[int, tuple[int, bool]] = {}
    matched_b: set[int] = set()
    loose_a = [i for tag, i1, i2, _, _ in blocks if tag != "equal" for i in range(i1, i2)]
    loose_b = [j for tag, _, _, j1, j2 in blocks if tag != "equal" for j in range(j1, j2)]
    if loose_a and loose_b:
        waiting: dict[Any, deque[int]] = {}
        for i in loose_a:
            waiting.setdefault(a[i], deque()).append(i)
        for j in loose_b:
            queue = waiting.get(b[j])
            if queue:
                i = queue.popleft()
                partner_of_a[i] = (j, True)
                matched_b.add(j)
        for tag, i1, i2, j1, j2 in blocks:
            if tag != "replace":
                continue
            left = [i for i in range(i1, i2) if i not in partner_of_a]
            right = [j for j in range(j1, j2) if j not in matched_b]
            for kind in dict.fromkeys(a_coarse[i] for i in left):
                li = [i for i in left if a_coarse[i] == kind]
                rj = [j for j in right if b_coarse[j] == kind]
                if len(li) == len(rj):
                    for i, j in zip(li, rj, strict=True):
                        partner_of_a[i] = (j, False)
                        matched_b.add(j)

    steps: list[_Step] = []
    for tag, i1, i2, j1, j2 in blocks:
        if tag == "equal":
            steps.extend(("pair", i1 + k, j1 + k) for k in range(i2 - i1))
            continue
        for i in range(i1, i2):
            partner = partner_of_a.get(i)
            if partner is None:
                steps.append(("removed", i, -1))
            else:
                steps.append(("moved" if partner[1] else "pair", i, partner[0]))
        steps.extend(("added", -1, j) for j in range(j1, j2) if j not in matched_b)
    return steps


_USAGE_RE: Final = re.compile(
    r"token|usd|cost|price|spen[dt]|dollar|money|granted|returned|budget", re.IGNORECASE
)
_ERROR_RE: Final = re.compile(
    r"error|exception|fail|status|^ok$|^accepted$|refus|traceback", re.IGNORECASE
)
_TIMING_RE: Final = re.compile(
    r"^(?:t|at|start|end|duration|latency|elapsed|seconds|secs|timeout|deadline|remaining"
    r"|waited|wait|delay|ttl)$|_(?:s|ms|seconds|at|time|latency|duration|timeout)$|^time|time$",
    re.IGNORECASE,
)
_ERROR_EVENT_RE: Final = re.compile(r"exception|fail|error", re.IGNORECASE)
#: Fields that are what a step was *given* (its input) or what it *answered*.
_PROMPT_RE: Final = re.compile(
    r"prompt|input|quer(?:y|ies)|question|instruction|request\.(?:body|messages)", re.IGNORECASE
)
_REPLY_RE: Final = re.compile(r"reply|output|completion|response|answer|result", re.IGNORECASE)
#: Configured numbers: a change in them is a root, never a ripple.
_CONFIG_RE: Final = re.compile(r"^max_|\.max_|^gen_ai\.request\.|limit|^cap$|_cap$", re.IGNORECASE)
#: Figures inside a message: ``$0.04``, ``1,234.5``, ``3``; masked to compare the words.
_FIGURE_RE: Final = re.compile(r"(?<![A-Za-z_\d])\d+(?:[.,]\d+)*(?:e[+-]?\d+)?(?![A-Za-z_])")


def _leaf(field_name: str) -> str:
    leaf = field_name.rsplit(".", 1)[-1]
    return leaf.split("[", 1)[0] if "[" in leaf and not leaf.startswith("[") else leaf


def _text_role(field_name: str) -> str:
    if _PROMPT_RE.search(field_name):
        return "prompt"
    if _REPLY_RE.search(field_name):
        return "reply"
    return "text"


def _masked(value: str) -> str:
    return _FIGURE_RE.sub("#", value)


def _classify(context: str, field_name: str, a: Any, b: Any) -> DriftClass:
    """The class of a changed value, from the entry kind, the field's name and its values.

    Numbers are never ``text``: a count or an amount is ``usage-cost`` unless the field is a
    time (``timing``) or names a failure (``error``). Two messages that differ only in their
    figures (a decision quoting the money left) are ``usage-cost`` too.
    """
    leaf = _leaf(field_name)
    if (
        isinstance(a, str)
        and isinstance(b, str)
        and _text_role(field_name) == "text"
        and _masked(a) == _masked(b)
    ):
        return "usage-cost"  # a message quoting figures (what a model wrote is text)
    both_numbers = (_is_number(a) or a is None) and (_is_number(b) or b is None)
    numeric = both_numbers and (_is_number(a) or _is_number(b))
    if context == "error" or _ERROR_RE.search(leaf) or (numeric is False and "error" in field_name):
        if numeric and _USAGE_RE.search(field_name):
            return "usage-cost"
        return "error"
    if numeric:
        if _TIMING_RE.search(leaf) or context == "deadline.expired":
            return "timing"
        return "usage-cost"
    if context == "decision" or isinstance(a, bool) or isinstance(b, bool):
        return "decision" if context == "decision" else "structure"
    return "text"


def _entry_class(item: Any) -> DriftClass:
    if not isinstance(item, Mapping):
        return "structure"
    kind = str(item.get("entry", ""))
    data = item.get("data")
    if kind == "decision":
        return "decision"
    if kind == "budget.refused" or (
        kind == "bus.handler" and isinstance(data, Mapping) and data.get("ok") is False
    ):
        return "error"
    if kind == "deadline.expired":
        return "timing"
    if kind.startswith("budget."):
        return "usage-cost"
    return "structure"


def _event_name(event: Any) -> str:
    return str(event.get("name", "")) if isinstance(event, Mapping) else _short(event)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same JSON types throughout: ``True`` is not ``1``, ``1`` not ``1.0``
    (Python's ``==`` says they are, and a changed type is a changed behaviour)."""
    if a != b:
        return False
    if type(a) is str or a is None:
        return True
    try:
        return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
            b, option=orjson.OPT_SORT_KEYS
        )
    except (TypeError, orjson.JSONEncodeError):
        return True


def _status_text(span: Mapping[str, Any]) -> str:
    text = str(span.get("status", "unset"))
    message = span.get("status_message")
    error = span.get("error")
    if isinstance(error, Mapping):
        etype, emsg = error.get("type"), error.get("message")
        text += f": {etype}: {emsg}" if emsg not in (None, "") else f": {etype}"
    elif error is not None:
        text += f": {error}"
    elif message not in (None, ""):
        text += f" ({message})"
    return text


def _vtime(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


# Roles: how a change can follow from an earlier one (see ``_fold``).
_R_TIME: Final = "time"  # a start / t: shifts after anything earlier
_R_DURATION: Final = "duration"  # follows from changes inside the span
_R_USAGE: Final = "usage"  # tokens, money, counts: ripple after anything earlier
_R_CONFIG: Final = "config"  # a configured number: always a root
_R_STATUS: Final = "status"  # a span's status: propagates up from a failed child
_R_ERROR: Final = "error"
_R_PROMPT: Final = "prompt"
_R_REPLY: Final = "reply"
_R_TEXT: Final = "text"
_R_ITEM: Final = "item"  # a span, entry or event added or removed
_R_MOVED: Final = "moved"

#: Inside one span, the order its own changes are considered in: what can be a root first
#: (a status, a reply), what ripples from it after (tokens, money).
_ROLE_RANK: Final = {
    _R_STATUS: 0,
    _R_CONFIG: 1,
    _R_ERROR: 2,
    _R_PROMPT: 3,
    _R_REPLY: 4,
    _R_TEXT: 5,
    _R_ITEM: 6,
    _R_USAGE: 7,
    _R_TIME: 8,
    _R_DURATION: 9,
}


def _value_role(drift_class: DriftClass, field_name: str) -> str:
    if drift_class == "timing":
        return _R_DURATION if _leaf(field_name) == "duration" else _R_TIME
    if drift_class == "usage-cost":
        return _R_CONFIG if _CONFIG_RE.search(field_name) else _R_USAGE
    if drift_class == "error":
        return _R_ERROR
    return _text_role(field_name)


@dataclass(slots=True)
class _Info:
    """What folding needs to know of one change, beyond the change itself."""

    role: str
    container: str  # the path of the span the change is in (an entry's parent span)
    names: tuple[str, ...] = ()  # for an added / removed / moved item: what it is called


def _segments(path: str) -> list[str]:
    return path.split(_PATH_SEP) if path else []


def _ancestors(path: str) -> list[str]:
    """``a › b › c`` -> ``['a › b › c', 'a › b', 'a']``."""
    parts = _segments(path)
    return [_PATH_SEP.join(parts[:k]) for k in range(len(parts), 0, -1)]


def _label_names(label: str) -> list[str]:
    """``model.call[agent=web #2]`` -> ``['model.call', 'web']``."""
    base, _, rest = label.partition("[")
    names = [base]
    for part in rest.rstrip("]").split():
        if part.startswith("#"):
            continue
        names.append(part.partition("=")[2] or part)
    return names


def _diff_middle(a: str, b: str) -> tuple[str, str]:
    """The parts of ``a`` and ``b`` between their common prefix and common suffix."""
    limit = min(len(a), len(b))
    lo = 0
    while lo < limit and a[lo] == b[lo]:
        lo += 1
    hi = 0
    while hi < limit - lo and a[len(a) - 1 - hi] == b[len(b) - 1 - hi]:
        hi += 1
    return a[lo : len(a) - hi], b[lo : len(b) - hi]


#: A quoted fragment must be at least this long to tie a text change to an earlier one.
_MIN_QUOTE: Final = 8
#: How many earlier texts a text change is checked against (bounds the cost on huge drifts).
_MAX_TEXTS: Final = 256
_SHORT_TEXT: Final = 80


def _fold(changes: Sequence[Change], infos: Sequence[_Info]) -> list[int | None]:
    """For each change (in run order), the index of the root it follows from, or ``None``.

    A change is a *consequence* when an earlier change explains it:

    * times (``start``, ``t``) and derived numbers (tokens, money, counts) after any earlier
      root follow from the nearest one (the run diverged; what comes later shifts);
    * a span's ``duration`` follows from a change inside that span; a span's failed status
      from a failed child;
    * a prompt that quotes an earlier changed text (or runs after a step was added, removed
      or moved, or after a failure), and a reply of a call whose prompt changed;
    * a text whose value is the name of an added, removed or moved step (``stages[0]``);
    * what an enclosing span reports after one of its descendants changed (its counts,
      decisions, events, short outcome texts, and steps it then skipped or added after a
      failure).

    Everything else is a root: a changed reply of an unchanged prompt, an added stage, a
    failure, a moved step, a configured limit, the first shifted time.
    """
    causes: list[int | None] = []
    last_root: int | None = None
    last_flow_root: int | None = None  # the latest structure / error / decision root
    inside: dict[str, int] = {}  # span path -> root of the first change inside it
    failed_inside: dict[str, int] = {}  # span path -> root of a failure inside it
    failed_here: dict[str, int] = {}  # span path -> root of its own status change
    upward: dict[str, int] = {}  # ancestor span path -> root of a change below it
    upward_flow: dict[str, int] = {}  # ancestor span path -> a structure / error root below
    prompt_changed: dict[str, int] = {}  # span path -> root of its changed prompt
    names: dict[str, int] = {}  # names of added / removed / moved items -> their root
    texts: deque[tuple[int, str, str]] = deque(maxlen=_MAX_TEXTS)

    for index, (change, info) in enumerate(zip(changes, infos, strict=True)):
        role, container = info.role, info.container
        cause: int | None = None
        if role in (_R_MOVED, _R_CONFIG):
            cause = None
        elif container in failed_here and role not in (_R_ITEM, _R_TIME, _R_DURATION):
            cause = failed_here[container]  # a failed call's missing reply, tokens, fields
        elif role == _R_TIME:
            cause = last_root
        elif role == _R_DURATION:
            cause = inside.get(container)
        elif role == _R_USAGE:
            cause = last_root
        elif role == _R_STATUS:
            cause = failed_inside.get(container)
            if cause is None:
                cause = upward_flow.get(container)
        else:
            cause = _text_cause(change, info, texts, names, prompt_changed, last_flow_root)
            if cause is None and role != _R_PROMPT and role != _R_REPLY:
                cause = _upward_cause(change, info, upward, upward_flow)
        if cause is not None and changes[cause].cause is not None:
            cause = causes[cause]  # always the root, never a consequence
        causes.append(cause)
        root = index if cause is None else cause
        if cause is None:
            last_root = index
            if changes[index].drift_class in ("structure", "error", "decision"):
                last_flow_root = index
        # -- what this change explains later ------------------------------------------
        for path in _ancestors(container):
            inside.setdefault(path, root)
        if change.drift_class == "error" and role in (_R_STATUS, _R_ERROR, _R_ITEM):
            for path in _ancestors(container):
                failed_inside.setdefault(path, root)
            if role == _R_STATUS:
                failed_here.setdefault(container, root)
        if cause is None:
            # What encloses a root reports on it later (counts, outcomes, skipped steps);
            # the changed item itself is not "above" its own change.
            flow = change.drift_class in ("structure", "error", "decision")
            for path in _ancestors(container):
                if path != change.path:
                    upward.setdefault(path, root)
                    if flow:
                        upward_flow.setdefault(path, root)
        if role == _R_PROMPT:
            prompt_changed.setdefault(container, root)
        for name in info.names:
            names.setdefault(name, root)
        ex = change.expected if isinstance(change.expected, str) else ""
        rx = change.received if isinstance(change.received, str) else ""
        if len(ex) >= 4 or len(rx) >= 4:
            texts.append((root, ex, rx))
    return causes


def _text_cause(
    change: Change,
    info: _Info,
    texts: Iterable[tuple[int, str, str]],
    names: Mapping[str, int],
    prompt_changed: Mapping[str, int],
    last_flow_root: int | None,
) -> int | None:
    role = info.role
    if role == _R_REPLY:
        # An answer follows from its question: a reply is a consequence only of its own
        # call's changed prompt (independent agents answering differently are roots).
        return prompt_changed.get(info.container)
    ex = change.expected if isinstance(change.expected, str) else None
    rx = change.received if isinstance(change.received, str) else None
    for value in (rx, ex):
        if value is not None and value in names:
            return names[value]
    if ex is None and rx is None:
        return None
    mid_e, mid_r = _diff_middle(ex or "", rx or "")
    for root, earlier_e, earlier_r in reversed(list(texts)):
        # the whole earlier value quoted here (a reply in the next prompt)
        if rx and earlier_r and len(earlier_r) >= _MIN_QUOTE and earlier_r in rx:
            return root
        if ex and earlier_e and len(earlier_e) >= _MIN_QUOTE and earlier_e in ex:
            return root
        # or what changed in a prompt is a piece of an earlier change (a quoted excerpt)
        if role != _R_PROMPT:
            continue
        if len(mid_r) >= _MIN_QUOTE and earlier_r and mid_r in earlier_r:
            return root
        if len(mid_e) >= _MIN_QUOTE and earlier_e and mid_e in earlier_e:
            return root
    if role == _R_PROMPT and last_flow_root is not None:
        return last_flow_root  # the steps before it changed: so did what it was given
    return None


def _upward_cause(
    change: Change, info: _Info, upward: Mapping[str, int], upward_flow: Mapping[str, int]
) -> int | None:
    if info.role == _R_ITEM:
        return upward_flow.get(info.container)
    values = [v for v in (change.expected, change.received) if isinstance(v, str)]
    if change.drift_class == "text" and any(len(v) > _SHORT_TEXT for v in values):
        return None  # prose in an enclosing span is a change of its own
    return upward.get(info.container)


class _Differ:
    def __init__(self, config: DriftConfig) -> None:
        self.config = config
        self.changes: list[Change] = []
        self.infos: list[_Info] = []

    def add(
        self,
        drift_class: DriftClass,
        path: str,
        field_name: str | None,
        op: Operation,
        expected: Any = None,
        received: Any = None,
        note: str | None = None,
        *,
        at: float | None = None,
        role: str | None = None,
        container: str | None = None,
        names: tuple[str, ...] = (),
    ) -> None:
        severity: Severity = "fail"
        if drift_class not in self.config.fail_on:
            severity = "info"
            note = note or f"{drift_class} is not in fail_on"
        elif op == "changed" and _is_number(expected) and _is_number(received):
            tolerance = self.config.tolerance_for(drift_class, field_name)
            if tolerance is not None and tolerance.allows(expected, received):
                severity = "info"
                note = f"within tolerance {tolerance}"
        self.changes.append(
            Change(drift_class, path, field_name, op, expected, received, severity, note, at)
        )
        if role is None:
            role = _value_role(drift_class, field_name or "")
        self.infos.append(_Info(role, path if container is None else container, names))

    def _sort_tail(self, start: int) -> None:
        """Order the changes added since ``start`` (one span's own fields) by role rank."""
        if len(self.changes) - start < 2:
            return
        order = sorted(
            range(start, len(self.changes)), key=lambda k: _ROLE_RANK.get(self.infos[k].role, 5)
        )
        self.changes[start:] = [self.changes[k] for k in order]
        self.infos[start:] = [self.infos[k] for k in order]

    # -- timelines ----------------------------------------------------------------------------

    def timeline(self, a: Sequence[Any], b: Sequence[Any], path: str) -> None:
        if _same(a, b):
            return
        na = [_Node(x) for x in a]
        nb = [_Node(x) for x in b]
        la, lb = _labels(na), _labels(nb)
        steps = _align(
            [x.identity for x in na],
            [x.identity for x in nb],
            [x.coarse for x in na],
            [x.coarse for x in nb],
        )
        # A move is known before anything inside the sequence runs: report it first, so the
        # shifted times and inputs after it fold under it.
        for op, i, j in steps:
            if op == "moved":
                node = na[i]
                at = _min_time(_item_time(node.item), _item_time(nb[j].item))
                self.add(
                    "structure",
                    _join(path, la[i]),
                    None,
                    "reordered",
                    i + 1,
                    j + 1,
                    note=f"position {i + 1} → {j + 1}",
                    at=at,
                    role=_R_MOVED,
                    container=path,
                    names=tuple(_label_names(la[i])),
                )
        for op, i, j in steps:
            if op == "removed":
                node = na[i]
                self.add(
                    self._item_class(node),
                    _join(path, la[i]),
                    None,
                    "removed",
                    _summary(node.item),
                    at=_item_time(node.item),
                    role=_R_ITEM,
                    container=path,
                    names=tuple(_label_names(la[i])),
                )
            elif op == "added":
                node = nb[j]
                self.add(
                    self._item_class(node),
                    _join(path, lb[j]),
                    None,
                    "added",
                    None,
                    _summary(node.item),
                    at=_item_time(node.item),
                    role=_R_ITEM,
                    container=path,
                    names=tuple(_label_names(lb[j])),
                )
            else:
                self.item(na[i], nb[j], _join(path, la[i]), path)

    @staticmethod
    def _item_class(node: _Node) -> DriftClass:
        if node.kind == "entry":
            return _entry_class(node.item)
        return "structure"

    def item(self, a: _Node, b: _Node, path: str, parent: str) -> None:
        if _same(a.item, b.item):
            return
        if a.kind != b.kind or a.kind == "other":
            self.add(
                "structure",
                path,
                None,
                "changed",
                _summary(a.item),
                _summary(b.item),
                at=_item_time(a.item),
                role=_R_ITEM,
                container=parent,
            )
        elif a.kind == "span":
            self.span(a.item, b.item, path)
        else:
            self.entry(a.item, b.item, path, parent)

    def span(self, a: Mapping[str, Any], b: Mapping[str, Any], path: str) -> None:
        at = _min_time(_vtime(a.get("start")), _vtime(b.get("start")))
        if a.get("start") != b.get("start"):
            self.add("timing", path, "start", "changed", a.get("start"), b.get("start"), at=at)
        timeline_a, timeline_b = a.get("timeline") or [], b.get("timeline") or []
        # A span with child spans reports its own fields when it ends (after its children:
        # counts, outcomes, status); a leaf call's fields are what the call was and did.
        parent_span = any(
            isinstance(x, Mapping) and "span" in x for x in (*timeline_a, *timeline_b)
        )
        if parent_span:
            self.timeline(timeline_a, timeline_b, path)
        start = len(self.changes)
        if a.get("span") != b.get("span"):
            self.add(
                "structure", path, "span", "changed", a.get("span"), b.get("span"), at=at,
                role=_R_TEXT,
            )  # fmt: skip
        sa, sb = _status_text(a), _status_text(b)
        status_changed = sa != sb
        if status_changed and _masked(sa) == _masked(sb):
            # the same failure, quoting other figures (the money left): a cost ripple
            self.add("usage-cost", path, "status", "changed", sa, sb, at=at, role=_R_USAGE)
        elif status_changed:
            self.add("error", path, "status", "changed", sa, sb, at=at, role=_R_STATUS)
        if bool(a.get("unfinished")) != bool(b.get("unfinished")):
            self.add(
                "error",
                path,
                "unfinished",
                "changed",
                bool(a.get("unfinished")),
                bool(b.get("unfinished")),
                at=at,
                role=_R_STATUS,
            )
        attrs_a, attrs_b = a.get("attributes") or {}, b.get("attributes") or {}
        if not _same(attrs_a, attrs_b):
            self.value(attrs_a, attrs_b, path, "", "span", 0, at)
        events_a, events_b = a.get("events") or [], b.get("events") or []
        if not _same(events_a, events_b):
            self.events(events_a, events_b, path, fold_exceptions=status_changed, at=at)
        self._sort_tail(start)
        if not parent_span:
            self.timeline(timeline_a, timeline_b, path)
        if a.get("duration") != b.get("duration"):
            self.add(
                "timing", path, "duration", "changed", a.get("duration"), b.get("duration"), at=at
            )

    def entry(self, a: Mapping[str, Any], b: Mapping[str, Any], path: str, parent: str) -> None:
        kind = str(a.get("entry", ""))
        at = _min_time(_vtime(a.get("t")), _vtime(b.get("t")))
        if a.get("entry") != b.get("entry"):
            self.add(
                "structure", path, "entry", "changed", a.get("entry"), b.get("entry"), at=at,
                role=_R_ITEM, container=parent,
            )  # fmt: skip
        if a.get("t") != b.get("t"):
            self.add(
                "timing", path, "t", "changed", a.get("t"), b.get("t"), at=at, container=parent
            )
        data_a, data_b = a.get("data"), b.get("data")
        if not _same(data_a, data_b):
            start = len(self.changes)
            self.value(
                data_a if data_a is not None else {},
                data_b if data_b is not None else {},
                path,
                "",
                kind,
                0,
                at,
                container=parent,
            )
            self._sort_tail(start)

    def events(
        self,
        a: Sequence[Any],
        b: Sequence[Any],
        path: str,
        *,
        fold_exceptions: bool,
        at: float | None,
    ) -> None:
        names_a = [_event_name(e) for e in a]
        names_b = [_event_name(e) for e in b]
        la = _event_labels(names_a)
        lb = _event_labels(names_b)
        for op, i, j in _align(names_a, names_b, names_a, names_b):
            if op in ("removed", "added"):
                event = a[i] if op == "removed" else b[j]
                name = names_a[i] if op == "removed" else names_b[j]
                label = la[i] if op == "removed" else lb[j]
                error_like = bool(_ERROR_EVENT_RE.search(name))
                if fold_exceptions and name == "exception":
                    continue  # already told by the span's status change
                self.add(
                    "error" if error_like else "structure",
                    path,
                    f"events[{label}]",
                    op,  # type: ignore[arg-type]
                    event if op == "removed" else None,
                    event if op == "added" else None,
                    at=_item_time(event) if isinstance(event, Mapping) else at,
                    role=_R_ITEM,
                )
                continue
            ea, eb = a[i], b[j]
            prefix = f"events[{la[i]}]"
            event_at = _item_time(ea) if isinstance(ea, Mapping) else at
            if op == "moved":
                self.add(
                    "structure",
                    path,
                    prefix,
                    "reordered",
                    i + 1,
                    j + 1,
                    note=f"position {i + 1} → {j + 1}",
                    at=event_at,
                    role=_R_MOVED,
                )
            if _same(ea, eb) or not isinstance(ea, Mapping) or not isinstance(eb, Mapping):
                if not _same(ea, eb):
                    self.add("structure", path, prefix, "changed", ea, eb, at=at, role=_R_ITEM)
                continue
            if ea.get("t") != eb.get("t"):
                self.add(
                    "timing", path, f"{prefix}.t", "changed", ea.get("t"), eb.get("t"), at=event_at
                )
            context = "error" if _ERROR_EVENT_RE.search(names_a[i]) else "event"
            attrs_a, attrs_b = ea.get("attributes") or {}, eb.get("attributes") or {}
            if not _same(attrs_a, attrs_b):
                self.value(attrs_a, attrs_b, path, prefix, context, 0, event_at)

    # -- values -------------------------------------------------------------------------------

    def value(
        self,
        a: Any,
        b: Any,
        path: str,
        field_name: str,
        context: str,
        depth: int,
        at: float | None,
        *,
        container: str | None = None,
    ) -> None:
        if _same(a, b):
            return
        if depth < _MAX_VALUE_DEPTH:
            if isinstance(a, Mapping) and isinstance(b, Mapping):
                for key in sorted(set(a) | set(b), key=str):
                    sub = f"{field_name}.{key}" if field_name else str(key)
                    if key not in a:
                        self.add(
                            _classify(context, sub, None, b[key]), path, sub, "added", None,
                            b[key], at=at, container=container,
                        )  # fmt: skip
                    elif key not in b:
                        self.add(
                            _classify(context, sub, a[key], None), path, sub, "removed", a[key],
                            None, at=at, container=container,
                        )  # fmt: skip
                    else:
                        self.value(
                            a[key], b[key], path, sub, context, depth + 1, at, container=container
                        )
                return
            if isinstance(a, list) and isinstance(b, list):
                self.sequence(a, b, path, field_name, context, depth, at, container)
                return
        self.add(
            _classify(context, field_name or "value", a, b),
            path,
            field_name or None,
            "changed",
            a,
            b,
            at=at,
            container=container,
        )

    def sequence(
        self,
        a: list[Any],
        b: list[Any],
        path: str,
        field_name: str,
        context: str,
        depth: int,
        at: float | None,
        container: str | None,
    ) -> None:
        if len(a) == len(b):
            for k, (x, y) in enumerate(zip(a, b, strict=True)):
                self.value(
                    x, y, path, f"{field_name}[{k}]", context, depth + 1, at, container=container
                )
            return
        ka = [_value_key(x) for x in a]
        kb = [_value_key(y) for y in b]
        for op, i, j in _align(ka, kb, [0] * len(a), [0] * len(b)):
            if op == "removed":
                sub = f"{field_name}[{i}]"
                self.add(
                    _classify(context, field_name, a[i], None), path, sub, "removed", a[i], None,
                    at=at, container=container,
                )  # fmt: skip
            elif op == "added":
                sub = f"{field_name}[{j}]"
                self.add(
                    _classify(context, field_name, None, b[j]), path, sub, "added", None, b[j],
                    at=at, container=container,
                )  # fmt: skip
            else:
                self.value(
                    a[i], b[j], path, f"{field_name}[{j}]", context, depth + 1, at,
                    container=container,
                )  # fmt: skip


def _min_time(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def _item_time(item: Any) -> float | None:
    if not isinstance(item, Mapping):
        return None
    return _vtime(item["start"]) if "start" in item else _vtime(item.get("t"))


def _event_labels(names: Sequence[str]) -> list[str]:
    counts = Counter(names)
    seen: Counter[str] = Counter()
    out = []
    for name in names:
        seen[name] += 1
        out.append(f"{name} #{seen[name]}" if counts[name] > 1 else name)
    return out


def _value_key(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        return repr(value).encode()


def _join(path: str, label: str) -> str:
    return f"{path}{_PATH_SEP}{label}" if path else label


def _summary(item: Any) -> Any:
    if isinstance(item, Mapping):
        return {k: v for k, v in item.items() if k not in ("timeline", "id", "parent")}
    return item


def compare(
    expected: Mapping[str, Any],
    received: Mapping[str, Any],
    *,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Every change from the expected document to the received one, roots and consequences.

    Args:
        expected: the stored snapshot document (from :func:`agentrig.normalize.loads`).
        received: this run's document (from :func:`agentrig.normalize.normalize`).
        config: which classes fail and which numbers are tolerated (default: everything
            fails, nothing is tolerated).

    Returns:
        A :class:`DriftReport`; ``report.failed`` says whether the test should fail.

    Raises:
        SnapshotFormatError: either document has another format version (re-record with
            ``agentrig update``).
        SnapshotError: either document is not a snapshot document.
    """
    check_header(expected, "the expected snapshot")
    check_header(received, "the received document")
    differ = _Differ(config if config is not None else DriftConfig())
    timeline_a = expected.get("timeline")
    timeline_b = received.get("timeline")
    differ.timeline(
        timeline_a if isinstance(timeline_a, list) else [],
        timeline_b if isinstance(timeline_b, list) else [],
        "",
    )
    causes = _fold(differ.changes, differ.infos)
    changes = tuple(
        c if cause is None else replace(c, cause=cause)
        for c, cause in zip(differ.changes, causes, strict=True)
    )
    return DriftReport(changes)
