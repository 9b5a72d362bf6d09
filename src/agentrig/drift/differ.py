"""The walk over two documents side by side that lists every change."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from agentrig.drift.classify import (
    ERROR_EVENT_RE,
    R_ITEM,
    R_MOVED,
    R_STATUS,
    R_TEXT,
    R_USAGE,
    ROLE_RANK,
    class_of,
    entry_class,
    event_name,
    masked,
    same,
    status_text,
    value_role,
    vtime,
)
from agentrig.drift.config import (
    MAX_VALUE_DEPTH,
    PATH_SEP,
    DriftClass,
    DriftConfig,
    Operation,
    Severity,
    is_number,
)
from agentrig.drift.matching import Node, align_steps, sibling_labels
from agentrig.drift.report import Change
from agentrig.drift.roots import Info, label_names

__all__ = ["Differ"]


class Differ:
    def __init__(self, config: DriftConfig) -> None:
        self.config = config
        self.changes: list[Change] = []
        self.infos: list[Info] = []

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
        elif op == "changed" and is_number(expected) and is_number(received):
            tolerance = self.config.tolerance_for(drift_class, field_name)
            if tolerance is not None and tolerance.allows(expected, received):
                severity = "info"
                note = f"within tolerance {tolerance}"
        self.changes.append(
            Change(drift_class, path, field_name, op, expected, received, severity, note, at)
        )
        if role is None:
            role = value_role(drift_class, field_name or "")
        self.infos.append(Info(role, path if container is None else container, names))

    def _sort_tail(self, start: int) -> None:
        """Order the changes added since ``start`` (one span's own fields) by role rank."""
        if len(self.changes) - start < 2:
            return
        order = sorted(
            range(start, len(self.changes)), key=lambda k: ROLE_RANK.get(self.infos[k].role, 5)
        )
        self.changes[start:] = [self.changes[k] for k in order]
        self.infos[start:] = [self.infos[k] for k in order]

    # -- timelines ----------------------------------------------------------------------------

    def timeline(self, a: Sequence[Any], b: Sequence[Any], path: str) -> None:
        if same(a, b):
            return
        na = [Node(x) for x in a]
        nb = [Node(x) for x in b]
        la, lb = sibling_labels(na), sibling_labels(nb)
        steps = align_steps(
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
                    role=R_MOVED,
                    container=path,
                    names=tuple(label_names(la[i])),
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
                    role=R_ITEM,
                    container=path,
                    names=tuple(label_names(la[i])),
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
                    role=R_ITEM,
                    container=path,
                    names=tuple(label_names(lb[j])),
                )
            else:
                self.item(na[i], nb[j], _join(path, la[i]), path)

    @staticmethod
    def _item_class(node: Node) -> DriftClass:
        if node.kind == "entry":
            return entry_class(node.item)
        return "structure"

    def item(self, a: Node, b: Node, path: str, parent: str) -> None:
        if same(a.item, b.item):
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
                role=R_ITEM,
                container=parent,
            )
        elif a.kind == "span":
            self.span(a.item, b.item, path)
        else:
            self.entry(a.item, b.item, path, parent)

    def span(self, a: Mapping[str, Any], b: Mapping[str, Any], path: str) -> None:
        at = _min_time(vtime(a.get("start")), vtime(b.get("start")))
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
                role=R_TEXT,
            )  # fmt: skip
        sa, sb = status_text(a), status_text(b)
        status_changed = sa != sb
        if status_changed and masked(sa) == masked(sb):
            # the same failure, quoting other figures (the money left): a cost ripple
            self.add("usage-cost", path, "status", "changed", sa, sb, at=at, role=R_USAGE)
        elif status_changed:
            self.add("error", path, "status", "changed", sa, sb, at=at, role=R_STATUS)
        if bool(a.get("unfinished")) != bool(b.get("unfinished")):
            self.add(
                "error",
                path,
                "unfinished",
                "changed",
                bool(a.get("unfinished")),
                bool(b.get("unfinished")),
                at=at,
                role=R_STATUS,
            )
        attrs_a, attrs_b = a.get("attributes") or {}, b.get("attributes") or {}
        if not same(attrs_a, attrs_b):
            self.value(attrs_a, attrs_b, path, "", "span", 0, at)
        events_a, events_b = a.get("events") or [], b.get("events") or []
        if not same(events_a, events_b):
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
        at = _min_time(vtime(a.get("t")), vtime(b.get("t")))
        if a.get("entry") != b.get("entry"):
            self.add(
                "structure", path, "entry", "changed", a.get("entry"), b.get("entry"), at=at,
                role=R_ITEM, container=parent,
            )  # fmt: skip
        if a.get("t") != b.get("t"):
            self.add(
                "timing", path, "t", "changed", a.get("t"), b.get("t"), at=at, container=parent
            )
        data_a, data_b = a.get("data"), b.get("data")
        if not same(data_a, data_b):
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
        names_a = [event_name(e) for e in a]
        names_b = [event_name(e) for e in b]
        la = _event_labels(names_a)
        lb = _event_labels(names_b)
        for op, i, j in align_steps(names_a, names_b, names_a, names_b):
            if op in ("removed", "added"):
                event = a[i] if op == "removed" else b[j]
                name = names_a[i] if op == "removed" else names_b[j]
                label = la[i] if op == "removed" else lb[j]
                error_like = bool(ERROR_EVENT_RE.search(name))
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
                    role=R_ITEM,
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
                    role=R_MOVED,
                )
            if same(ea, eb) or not isinstance(ea, Mapping) or not isinstance(eb, Mapping):
                if not same(ea, eb):
                    self.add("structure", path, prefix, "changed", ea, eb, at=at, role=R_ITEM)
                continue
            if ea.get("t") != eb.get("t"):
                self.add(
                    "timing", path, f"{prefix}.t", "changed", ea.get("t"), eb.get("t"), at=event_at
                )
            context = "error" if ERROR_EVENT_RE.search(names_a[i]) else "event"
            attrs_a, attrs_b = ea.get("attributes") or {}, eb.get("attributes") or {}
            if not same(attrs_a, attrs_b):
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
        if same(a, b):
            return
        if depth < MAX_VALUE_DEPTH:
            if isinstance(a, Mapping) and isinstance(b, Mapping):
                for key in sorted(set(a) | set(b), key=str):
                    sub = f"{field_name}.{key}" if field_name else str(key)
                    if key not in a:
                        self.add(
                            class_of(context, sub, None, b[key]), path, sub, "added", None,
                            b[key], at=at, container=container,
                        )  # fmt: skip
                    elif key not in b:
                        self.add(
                            class_of(context, sub, a[key], None), path, sub, "removed", a[key],
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
            class_of(context, field_name or "value", a, b),
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
        for op, i, j in align_steps(ka, kb, [0] * len(a), [0] * len(b)):
            if op == "removed":
                sub = f"{field_name}[{i}]"
                self.add(
                    class_of(context, field_name, a[i], None), path, sub, "removed", a[i], None,
                    at=at, container=container,
                )  # fmt: skip
            elif op == "added":
                sub = f"{field_name}[{j}]"
                self.add(
                    class_of(context, field_name, None, b[j]), path, sub, "added", None, b[j],
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
    return vtime(item["start"]) if "start" in item else vtime(item.get("t"))


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
    return f"{path}{PATH_SEP}{label}" if path else label


def _summary(item: Any) -> Any:
    if isinstance(item, Mapping):
        return {k: v for k, v in item.items() if k not in ("timeline", "id", "parent")}
    return item
