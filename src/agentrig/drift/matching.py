"""Matching siblings by identity and aligning two timelines (LCS), so one change stays one."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from typing import Any, Final, TypeAlias

from agentrig.document import entry_label, span_actor
from agentrig.drift.values import short

__all__ = ["Node", "align_steps", "sibling_labels", "timeline_labels"]


# --- matching and diffing ---------------------------------------------------------------------


def _who(item: Mapping[str, Any]) -> tuple[str, str]:
    attributes = item.get("attributes")
    actor = span_actor(attributes) if isinstance(attributes, Mapping) else None
    if actor is None:
        return "", ""
    key, value = actor
    return ("stage" if key.endswith("stage") else "agent"), value


#: Entry fields that say *which* one of its kind an entry is (beyond ``entry_label``): two
#: ``stage_complete`` decisions of different stages are different decisions.
_ENTRY_DETAIL_KEYS: Final = ("stage", "agent", "agent_name", "step")


class Node:
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
            self.name = short(item)
            self.who_key = self.who = ""
            key = self.name
        self.coarse = (self.kind, key)
        self.identity = (self.kind, key, self.who, self.detail)


def sibling_labels(nodes: Sequence[Node]) -> list[str]:
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
    return sibling_labels([Node(x) for x in items])


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


def align_steps(
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
