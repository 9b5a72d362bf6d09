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

Siblings are matched by identity (span name + agent, entry kind + decision/topic/stage, and
the occurrence among equals), aligned like ``difflib`` aligns lines, and only then compared
field by field. One broadcast agent that failed or vanished is therefore one change about
*that* agent, never a cascade of "renames" of every later sibling (what diffing by list index
would report).

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
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias

import orjson

from agentrig._errors import ConfigurationError
from agentrig.normalize import _IDENTITY_ATTRIBUTES, _check_header, _entry_label

__all__ = [
    "DRIFT_CLASSES",
    "Change",
    "DriftClass",
    "DriftConfig",
    "DriftReport",
    "Tolerance",
    "compare",
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
    if percent and text.endswith("%"):
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


@dataclass(frozen=True, slots=True)
class Change:
    """One difference between the expected and the received run.

    Attributes:
        drift_class: one of :data:`DRIFT_CLASSES`.
        path: the place in the run, span (and entry) labels joined by ``' › '``.
        field: the field inside that place (``gen_ai.usage.output_tokens``,
            ``events[agent_1_failed].error``, ``status``), or ``None`` for the item itself.
        op: ``changed``, ``added``, ``removed`` or ``reordered``.
        expected: the value in the expected document (``None`` when added).
        received: the value in the received document (``None`` when removed).
        severity: ``fail``, or ``info`` when tolerated or of a class that does not fail.
        note: why it is ``info``, or a detail of a reorder.
    """

    drift_class: DriftClass
    path: str
    field: str | None = None
    op: Operation = "changed"
    expected: Any = None
    received: Any = None
    severity: Severity = "fail"
    note: str | None = None

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
        """JSON-ready data (for ``--agentrig-report``)."""
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
        }


@dataclass(frozen=True, slots=True)
class DriftReport:
    """Every change between two runs, in document order.

    Attributes:
        changes: the changes, in the order a reader meets them in the document.
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

    def counts(self, *, severity: Severity | None = None) -> dict[str, int]:
        """Changes per class (only classes that occur, in :data:`DRIFT_CLASSES` order).

        Args:
            severity: count only ``fail`` or only ``info`` changes.
        """
        counter = Counter(
            c.drift_class for c in self.changes if severity is None or c.severity == severity
        )
        return {cls: counter[cls] for cls in DRIFT_CLASSES if counter[cls]}

    def summary(self) -> str:
        """One line: ``3 changes (2 failing: structure 1, text 1; 1 info: usage-cost 1)``."""
        if not self.changes:
            return "no drift"
        parts = []
        for sev, word in (("fail", "failing"), ("info", "info")):
            counts = self.counts(severity=sev)  # type: ignore[arg-type]
            n = sum(counts.values())
            if n:
                detail = ", ".join(f"{k} {v}" for k, v in counts.items())
                parts.append(f"{n} {word}: {detail}")
        total = len(self.changes)
        return f"{total} change{'s' if total != 1 else ''} ({'; '.join(parts)})"

    def render(self, *, color: bool = False, max_changes: int = 50) -> str:
        """The report as text: a summary line, then one line per change.

        Args:
            color: ANSI colours (for a terminal).
            max_changes: at most this many change lines; failing changes are shown before
                ``info`` ones when some must be left out, and the rest are counted.
        """
        lines = [f"agentrig drift: {self.summary()}"]
        shown: Sequence[Change] = self.changes
        if len(self.changes) > max_changes:
            indexed = list(enumerate(self.changes))
            fails = [p for p in indexed if p[1].severity == "fail"]
            infos = [p for p in indexed if p[1].severity != "fail"]
            chosen = sorted((fails + infos)[: max(0, max_changes)], key=lambda p: p[0])
            shown = [c for _, c in chosen]
        lines.extend(f"  {c.render(color=color)}" for c in shown)
        hidden = len(self.changes) - len(shown)
        if hidden:
            lines.append(f"  … and {hidden} more change{'s' if hidden != 1 else ''}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data: ``failed``, ``counts``, ``changes``."""
        return {
            "failed": self.failed,
            "counts": self.counts(),
            "changes": [c.to_dict() for c in self.changes],
        }


def _short(value: Any, width: int = 60) -> str:
    if isinstance(value, str):
        text = repr(value if len(value) <= width else value[:width] + "…")
        return text
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= width else text[:width] + "…"


def _shorten_pair(a: str, b: str, width: int = 48) -> tuple[str, str]:
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
            return f"{value['entry']} {_short(data, 80)}" if data else str(value["entry"])
        if "name" in value and len(value) <= 3 and ("t" in value or "attributes" in value):
            attrs = value.get("attributes")
            return f"event {value['name']!r}" + (f" {_short(attrs, 60)}" if attrs else "")
    return _short(value)


# --- matching and diffing ---------------------------------------------------------------------


def _who(item: Mapping[str, Any]) -> tuple[str, str]:
    attributes = item.get("attributes")
    if isinstance(attributes, Mapping):
        for key in _IDENTITY_ATTRIBUTES:
            value = attributes.get(key)
            if value is not None and value != "":
                short = "stage" if key.endswith("stage") else "agent"
                return short, value if isinstance(value, str) else str(value)
    return "", ""


class _Node:
    """A timeline item with what matching needs: identity, coarse kind, label parts."""

    __slots__ = ("coarse", "identity", "item", "kind", "name", "who", "who_key")

    def __init__(self, item: Any) -> None:
        self.item = item
        if isinstance(item, Mapping) and "span" in item:
            self.kind = "span"
            self.name = str(item["span"])
            self.who_key, self.who = _who(item)
        elif isinstance(item, Mapping) and "entry" in item:
            self.kind = "entry"
            self.name = str(item["entry"])
            data = item.get("data")
            self.who_key = ""
            self.who = _entry_label(self.name, data) if isinstance(data, Mapping) else ""
        else:
            self.kind = "other"
            self.name = _short(item)
            self.who_key = self.who = ""
        self.coarse = (self.kind, self.name)
        self.identity = (self.kind, self.name, self.who)


def _labels(nodes: Sequence[_Node]) -> list[str]:
    by_name = Counter(n.coarse for n in nodes)
    by_identity = Counter(n.identity for n in nodes)
    # The agent tells same-named spans apart only when they do not all share one agent.
    whos: dict[tuple[str, str], set[str]] = {}
    for n in nodes:
        whos.setdefault(n.coarse, set()).add(n.who)
    seen: Counter[tuple[str, str, str]] = Counter()
    labels = []
    for n in nodes:
        seen[n.identity] += 1
        parts = []
        if n.kind == "span":
            if by_name[n.coarse] > 1 and n.who and len(whos[n.coarse]) > 1:
                parts.append(f"{n.who_key}={n.who}")
        elif n.who:
            parts.append(n.who)
        if by_identity[n.identity] > 1:
            parts.append(f"#{seen[n.identity]}")
        labels.append(f"{n.name}[{' '.join(parts)}]" if parts else n.name)
    return labels


_Step: TypeAlias = tuple[str, int, int]  # ("pair" | "moved" | "removed" | "added", i, j)


def _align(
    a: Sequence[Any], b: Sequence[Any], a_coarse: Sequence[Any], b_coarse: Sequence[Any]
) -> list[_Step]:
    """Match two sequences of identity keys; report pairs (in place or moved) and leftovers.

    1. ``difflib`` alignment on identities (after trimming the common prefix and suffix, which
       keeps the common case of long equal timelines linear);
    2. leftovers with the same identity elsewhere are the same item, moved;
    3. inside one replaced block, leftovers of the same coarse kind (span name, entry kind)
       are paired when both sides have as many: an item whose identity changed (a decision
       that now says "revise") is reported as changed fields, not as removed plus added.
    """
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
        matcher = SequenceMatcher(None, a[lo:ha], b[lo:hb], autojunk=False)
        for opcode, i1, i2, j1, j2 in matcher.get_opcodes():
            blocks.append((opcode, i1 + lo, i2 + lo, j1 + lo, j2 + lo))
    if ha < n:
        blocks.append(("equal", ha, n, hb, m))

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


_USAGE_RE: Final = re.compile(r"token|usd|cost|price|spen[dt]|dollar|money", re.IGNORECASE)
_ERROR_RE: Final = re.compile(
    r"error|exception|fail|status|^ok$|^accepted$|refus|traceback", re.IGNORECASE
)
_TIMING_RE: Final = re.compile(
    r"^(?:t|at|start|end|duration|latency|elapsed|seconds|secs|timeout|deadline|remaining"
    r"|waited|wait|delay|ttl)$|_(?:s|ms|seconds|at|time|latency|duration|timeout)$|^time|time$",
    re.IGNORECASE,
)
_ERROR_EVENT_RE: Final = re.compile(r"exception|fail|error", re.IGNORECASE)


def _leaf(field_name: str) -> str:
    leaf = field_name.rsplit(".", 1)[-1]
    return leaf.split("[", 1)[0] if "[" in leaf and not leaf.startswith("[") else leaf


def _classify(context: str, field_name: str, a: Any, b: Any) -> DriftClass:
    """The class of a changed value, from the field's name, its values and where it lives."""
    leaf = _leaf(field_name)
    numeric = (_is_number(a) or a is None or isinstance(a, bool)) and (
        _is_number(b) or b is None or isinstance(b, bool)
    )
    if context == "error" or _ERROR_RE.search(leaf):
        return "error"
    if numeric and (_USAGE_RE.search(field_name) or context.startswith("budget.")):
        return "usage-cost"
    if numeric and (_TIMING_RE.search(leaf) or context == "deadline.expired"):
        return "timing"
    if context == "decision":
        return "decision"
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


class _Differ:
    def __init__(self, config: DriftConfig) -> None:
        self.config = config
        self.changes: list[Change] = []

    def add(
        self,
        drift_class: DriftClass,
        path: str,
        field_name: str | None,
        op: Operation,
        expected: Any = None,
        received: Any = None,
        note: str | None = None,
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
            Change(drift_class, path, field_name, op, expected, received, severity, note)
        )

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
        for op, i, j in steps:
            if op == "removed":
                node = na[i]
                self.add(
                    self._item_class(node), _join(path, la[i]), None, "removed", _summary(node.item)
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
                )
            else:
                here = _join(path, la[i])
                if op == "moved":
                    self.add(
                        "structure",
                        here,
                        None,
                        "reordered",
                        i + 1,
                        j + 1,
                        note=f"position {i + 1} → {j + 1}",
                    )
                self.item(na[i], nb[j], here)

    @staticmethod
    def _item_class(node: _Node) -> DriftClass:
        if node.kind == "entry":
            return _entry_class(node.item)
        return "structure"

    def item(self, a: _Node, b: _Node, path: str) -> None:
        if _same(a.item, b.item):
            return
        if a.kind != b.kind or a.kind == "other":
            self.add("structure", path, None, "changed", _summary(a.item), _summary(b.item))
        elif a.kind == "span":
            self.span(a.item, b.item, path)
        else:
            self.entry(a.item, b.item, path)

    def span(self, a: Mapping[str, Any], b: Mapping[str, Any], path: str) -> None:
        if a.get("span") != b.get("span"):
            self.add("structure", path, "span", "changed", a.get("span"), b.get("span"))
        sa, sb = _status_text(a), _status_text(b)
        status_changed = sa != sb
        if status_changed:
            self.add("error", path, "status", "changed", sa, sb)
        if bool(a.get("unfinished")) != bool(b.get("unfinished")):
            self.add(
                "error",
                path,
                "unfinished",
                "changed",
                bool(a.get("unfinished")),
                bool(b.get("unfinished")),
            )
        for name in ("start", "duration"):
            va, vb = a.get(name), b.get(name)
            if va != vb:
                self.add("timing", path, name, "changed", va, vb)
        attrs_a, attrs_b = a.get("attributes") or {}, b.get("attributes") or {}
        if not _same(attrs_a, attrs_b):
            self.value(attrs_a, attrs_b, path, "", "span", 0)
        events_a, events_b = a.get("events") or [], b.get("events") or []
        if not _same(events_a, events_b):
            self.events(events_a, events_b, path, fold_exceptions=status_changed)
        self.timeline(a.get("timeline") or [], b.get("timeline") or [], path)

    def entry(self, a: Mapping[str, Any], b: Mapping[str, Any], path: str) -> None:
        kind = str(a.get("entry", ""))
        if a.get("entry") != b.get("entry"):
            self.add("structure", path, "entry", "changed", a.get("entry"), b.get("entry"))
        if a.get("t") != b.get("t"):
            self.add("timing", path, "t", "changed", a.get("t"), b.get("t"))
        data_a, data_b = a.get("data"), b.get("data")
        if not _same(data_a, data_b):
            self.value(
                data_a if data_a is not None else {},
                data_b if data_b is not None else {},
                path,
                "",
                kind,
                0,
            )

    def events(
        self, a: Sequence[Any], b: Sequence[Any], path: str, *, fold_exceptions: bool
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
                )
                continue
            ea, eb = a[i], b[j]
            prefix = f"events[{la[i]}]"
            if op == "moved":
                self.add(
                    "structure",
                    path,
                    prefix,
                    "reordered",
                    i + 1,
                    j + 1,
                    note=f"position {i + 1} → {j + 1}",
                )
            if _same(ea, eb) or not isinstance(ea, Mapping) or not isinstance(eb, Mapping):
                if not _same(ea, eb):
                    self.add("structure", path, prefix, "changed", ea, eb)
                continue
            if ea.get("t") != eb.get("t"):
                self.add("timing", path, f"{prefix}.t", "changed", ea.get("t"), eb.get("t"))
            context = "error" if _ERROR_EVENT_RE.search(names_a[i]) else "event"
            attrs_a, attrs_b = ea.get("attributes") or {}, eb.get("attributes") or {}
            if not _same(attrs_a, attrs_b):
                self.value(attrs_a, attrs_b, path, prefix, context, 0)

    # -- values -------------------------------------------------------------------------------

    def value(self, a: Any, b: Any, path: str, field_name: str, context: str, depth: int) -> None:
        if _same(a, b):
            return
        if depth < _MAX_VALUE_DEPTH:
            if isinstance(a, Mapping) and isinstance(b, Mapping):
                for key in sorted(set(a) | set(b), key=str):
                    sub = f"{field_name}.{key}" if field_name else str(key)
                    if key not in a:
                        self.add(
                            _classify(context, sub, None, b[key]), path, sub, "added", None, b[key]
                        )
                    elif key not in b:
                        self.add(
                            _classify(context, sub, a[key], None),
                            path,
                            sub,
                            "removed",
                            a[key],
                            None,
                        )
                    else:
                        self.value(a[key], b[key], path, sub, context, depth + 1)
                return
            if isinstance(a, list) and isinstance(b, list):
                self.sequence(a, b, path, field_name, context, depth)
                return
        self.add(
            _classify(context, field_name or "value", a, b),
            path,
            field_name or None,
            "changed",
            a,
            b,
        )

    def sequence(
        self, a: list[Any], b: list[Any], path: str, field_name: str, context: str, depth: int
    ) -> None:
        if len(a) == len(b):
            for k, (x, y) in enumerate(zip(a, b, strict=True)):
                self.value(x, y, path, f"{field_name}[{k}]", context, depth + 1)
            return
        ka = [_value_key(x) for x in a]
        kb = [_value_key(y) for y in b]
        for op, i, j in _align(ka, kb, [0] * len(a), [0] * len(b)):
            if op == "removed":
                sub = f"{field_name}[{i}]"
                self.add(
                    _classify(context, field_name, a[i], None), path, sub, "removed", a[i], None
                )
            elif op == "added":
                sub = f"{field_name}[{j}]"
                self.add(_classify(context, field_name, None, b[j]), path, sub, "added", None, b[j])
            else:
                self.value(a[i], b[j], path, f"{field_name}[{j}]", context, depth + 1)


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
    """Every change from the expected document to the received one.

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
    _check_header(expected, "the expected snapshot")
    _check_header(received, "the received document")
    differ = _Differ(config if config is not None else DriftConfig())
    timeline_a = expected.get("timeline")
    timeline_b = received.get("timeline")
    differ.timeline(
        timeline_a if isinstance(timeline_a, list) else [],
        timeline_b if isinstance(timeline_b, list) else [],
        "",
    )
    return DriftReport(tuple(differ.changes))
