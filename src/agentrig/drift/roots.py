"""Folding: which change is a root and which a consequence of an earlier root."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from agentrig.drift.classify import (
    R_CONFIG,
    R_DURATION,
    R_ERROR,
    R_ITEM,
    R_MOVED,
    R_PROMPT,
    R_REPLY,
    R_STATUS,
    R_TIME,
    R_USAGE,
)
from agentrig.drift.config import PATH_SEP
from agentrig.drift.report import Change

__all__ = ["Info", "fold", "label_names"]


@dataclass(slots=True)
class Info:
    """What folding needs to know of one change, beyond the change itself."""

    role: str
    container: str  # the path of the span the change is in (an entry's parent span)
    names: tuple[str, ...] = ()  # for an added / removed / moved item: what it is called


def _segments(path: str) -> list[str]:
    return path.split(PATH_SEP) if path else []


def _ancestors(path: str) -> list[str]:
    """``a › b › c`` -> ``['a › b › c', 'a › b', 'a']``."""
    parts = _segments(path)
    return [PATH_SEP.join(parts[:k]) for k in range(len(parts), 0, -1)]


def label_names(label: str) -> list[str]:
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


def fold(changes: Sequence[Change], infos: Sequence[Info]) -> list[int | None]:
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
        if role in (R_MOVED, R_CONFIG):
            cause = None
        elif container in failed_here and role not in (R_ITEM, R_TIME, R_DURATION):
            cause = failed_here[container]  # a failed call's missing reply, tokens, fields
        elif role == R_TIME:
            cause = last_root
        elif role == R_DURATION:
            cause = inside.get(container)
        elif role == R_USAGE:
            cause = last_root
        elif role == R_STATUS:
            cause = failed_inside.get(container)
            if cause is None:
                cause = upward_flow.get(container)
        else:
            cause = _text_cause(change, info, texts, names, prompt_changed, last_flow_root)
            if cause is None and role != R_PROMPT and role != R_REPLY:
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
        if change.drift_class == "error" and role in (R_STATUS, R_ERROR, R_ITEM):
            for path in _ancestors(container):
                failed_inside.setdefault(path, root)
            if role == R_STATUS:
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
        if role == R_PROMPT:
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
    info: Info,
    texts: Iterable[tuple[int, str, str]],
    names: Mapping[str, int],
    prompt_changed: Mapping[str, int],
    last_flow_root: int | None,
) -> int | None:
    role = info.role
    if role == R_REPLY:
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
        if role != R_PROMPT:
            continue
        if len(mid_r) >= _MIN_QUOTE and earlier_r and mid_r in earlier_r:
            return root
        if len(mid_e) >= _MIN_QUOTE and earlier_e and mid_e in earlier_e:
            return root
    if role == R_PROMPT and last_flow_root is not None:
        return last_flow_root  # the steps before it changed: so did what it was given
    return None


def _upward_cause(
    change: Change, info: Info, upward: Mapping[str, int], upward_flow: Mapping[str, int]
) -> int | None:
    if info.role == R_ITEM:
        return upward_flow.get(info.container)
    values = [v for v in (change.expected, change.received) if isinstance(v, str)]
    if change.drift_class == "text" and any(len(v) > _SHORT_TEXT for v in values):
        return None  # prose in an enclosing span is a change of its own
    return upward.get(info.container)
