"""The report: :class:`Change`, :class:`DriftReport` and their rendering, consequence lines."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from agentrig.drift.classify import USAGE_RE, leaf_name, text_role
from agentrig.drift.config import (
    DRIFT_CLASSES,
    FIELD_SEP,
    DriftClass,
    Operation,
    Severity,
    is_number,
)
from agentrig.drift.values import describe_item, fmt_signed, fmt_time, short, shorten_pair

__all__ = ["Change", "DriftReport"]


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
        return f"{self.path}{FIELD_SEP}{self.field}" if self.path else self.field

    def describe(self) -> str:
        """What happened, without the place: ``'old…' → 'new…'``, ``added span``, ..."""
        if self.op == "changed":
            if isinstance(self.expected, str) and isinstance(self.received, str):
                old, new = shorten_pair(self.expected, self.received)
                return f"{old!r} → {new!r}"
            return f"{short(self.expected)} → {short(self.received)}"
        if self.op == "reordered":
            return f"moved ({self.note})" if self.note else "moved"
        value = self.received if self.op == "added" else self.expected
        return f"{self.op} {describe_item(value)}"

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
            at = f"t={fmt_time(first.at)} s, " if first.at is not None else ""
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


# --- consequence lines ----------------------------------------------------------------------

_TOKEN_RE: Final = re.compile(r"token", re.IGNORECASE)


def _category(change: Change) -> str:
    """What kind of consequence a change is, for the one-line count under its root."""
    name = change.field or ""
    if change.drift_class == "timing":
        leaf = leaf_name(name) if name else ""
        return "durations" if leaf == "duration" else "times"
    if change.drift_class == "usage-cost":
        if _TOKEN_RE.search(name):
            return "tokens"
        if USAGE_RE.search(name) or isinstance(change.expected, str):
            return "cost"
        return "counts"
    if change.drift_class == "text":
        role = text_role(name)
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
        if _category(c) == "times" and is_number(c.expected) and is_number(c.received)
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
            phrase = f"everything after it starts {fmt_time(abs(delta))} s {word}"
            phrase += f" ({cats['times']} times)"
        else:
            phrase = f"times {cats['times']}"
            if shifts:
                phrase += f" (shifted {fmt_signed(min(shifts))} … {fmt_signed(max(shifts))} s)"
        text += ("; " if parts else ": ") + phrase
    return text
