"""The timeline: spans and entries built into a tree and put in canonical order, then emitted.

:class:`TimelineBuilder` turns what the readers hand it into :class:`Item`\\ s (scrubbing
every value through its :class:`~agentrig.normalize.scrub.Scrubber`), :func:`arrange` hangs
them into one tree and orders every span's timeline (happens-before from virtual time;
concurrency groups sorted by content, see the notes in :mod:`agentrig.normalize`), and
:meth:`TimelineBuilder.emit` writes the document's nested timeline with ids renumbered.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterator, Mapping
from typing import Any, Final

from agentrig.document import ACTOR_ATTRIBUTES, entry_label, span_actor
from agentrig.normalize.rules import NormalizeRules
from agentrig.normalize.scrub import Scrubber, content_bytes, mask_uuid_marks, vtime
from agentrig.vocabulary import LEGACY_ATTRIBUTES, upgrade_attributes

__all__ = ["Item", "TimelineBuilder", "arrange", "read_field"]

# Spans nest 64 deep before their descendants are listed flat. Each span level costs two JSON
# levels, and a value may nest 32 more: the deepest document stays far below orjson's limit of
# 255 nested containers.
_MAX_SPAN_DEPTH: Final = 64
_STATUSES: Final = frozenset({"unset", "ok", "error"})
_TIMES_MAX: Final = 65536
# Cheap C-level tests before the calls: most spans hold no older GenAI name and tool spans no
# actor attribute.
_LEGACY_NAMES: Final = frozenset(LEGACY_ATTRIBUTES)
_ACTOR_NAMES: Final = frozenset(ACTOR_ATTRIBUTES)


def read_field(obj: object, name: str, default: Any = None) -> Any:
    """A field of a recorded span, event or entry: a dict's key or an object's attribute."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    if not hasattr(obj, name) and isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


_EVENT_GETTER: Final = operator.attrgetter("name", "t", "attributes")


class Item:
    """A span or an entry on its way into the document."""

    __slots__ = (
        "actor",
        "body",
        "digest",
        "end",
        "end_seq",
        "is_span",
        "items",
        "key",
        "name",
        "parent",
        "seq",
        "task",
        "time",
    )

    def __init__(
        self,
        is_span: bool,
        key: object,
        parent: object,
        seq: float,
        end_seq: float,
        time: float | None,
        end: float | None,
        body: dict[str, Any],
        name: str,
        actor: str,
    ) -> None:
        self.is_span = is_span
        self.key = key
        self.parent = parent
        self.seq = seq
        self.end_seq = end_seq
        self.time = time
        self.end = end
        self.body = body
        self.name = name
        self.actor = actor
        self.items: list[Item] = []
        self.digest: bytes | None = None
        self.task: object = None


class TimelineBuilder:
    """One normalization run's items: built from the readers' fields, ordered, emitted."""

    __slots__ = ("_durations", "_flat", "_names", "_next_id", "_times", "scrub", "string", "top")

    def __init__(self, rules: NormalizeRules) -> None:
        self.scrub = Scrubber(rules)
        self.string = self.scrub.string
        self.top = self.scrub.top
        self._flat = self.scrub.flat
        self._next_id = 0
        # Span and event names (exact ``str``) as normalized in this run: a recording repeats
        # a few names many times.
        self._names: dict[str, str] = {}
        self._times: dict[float, float] = {}
        self._durations: dict[float, float] = {}

    # -- spans and entries ------------------------------------------------------------------

    def span(
        self,
        key: object,
        parent: object,
        name: object,
        seq: float,
        end_seq: float | None,
        start: object,
        end: object,
        attributes: object,
        events: object,
        status: object,
        status_message: object,
        error: object,
        unfinished: bool,
    ) -> Item:
        # Called once per span: the common cases (a str name seen before, float times, no
        # error) are inlined; everything else goes through the same helpers as before.
        names = self._names
        if type(name) is str:
            nm = names.get(name)
            if nm is None:
                nm = names[name] = self.string(name)
        else:
            nm = self.string(self.scrub.key_str(name))
        st = status if status in _STATUSES else self._status(status)
        body: dict[str, Any] = {"span": nm, "status": st}
        # Virtual times: spans share a few instants (every broadcast member starts at once),
        # so vtime's result is memoized per float (NaN and infinities give None: not stored).
        times = self._times
        t0 = times.get(start) if type(start) is float else None
        if t0 is None:
            t0 = vtime(start)
            if t0 is not None and type(start) is float and len(times) < _TIMES_MAX:
                times[start] = t0
        t1 = times.get(end) if type(end) is float else None
        if t1 is None:
            t1 = vtime(end)
            if t1 is not None and type(end) is float and len(times) < _TIMES_MAX:
                times[end] = t1
        if t0 is not None:
            body["start"] = t0
            if t1 is not None:
                elapsed = t1 - t0
                duration = self._durations.get(elapsed)
                if duration is None:
                    duration = round(elapsed * 1e6) / 1e6
                    if len(self._durations) < _TIMES_MAX:
                        self._durations[elapsed] = duration
                body["duration"] = duration
        if unfinished:
            body["unfinished"] = True
        top = self.top
        if status_message is not None:
            body["status_message"] = top(status_message, None, "span %r status", nm)
        scope = f"spans.{nm}" if self.scrub.paths else None
        if error is not None:
            body["error"] = top(error, f"{scope}.error" if scope else None, "span %r error", nm)
        attrs = None
        flat = self._flat
        if attributes:
            if flat is not None and type(attributes) is dict:
                attrs = flat(attributes)
            if attrs is None:
                attrs = top(
                    attributes, f"{scope}.attributes" if scope else None, "span %r attribute", nm
                )
            if type(attrs) is dict and not _LEGACY_NAMES.isdisjoint(attrs):
                attrs = upgrade_attributes(attrs)  # older GenAI names read as current ones
            if attrs:
                body["attributes"] = attrs
        if events and isinstance(events, (list, tuple)):
            evs = []
            for raw_event in events:
                if isinstance(raw_event, dict):
                    get = raw_event.get
                    ev_name, ev_t, ev_attrs = get("name", ""), get("t"), get("attributes")
                else:
                    try:  # a SpanEvent: one C call
                        ev_name, ev_t, ev_attrs = _EVENT_GETTER(raw_event)
                    except AttributeError:
                        ev_name = read_field(raw_event, "name", "")
                        ev_t = read_field(raw_event, "t")
                        ev_attrs = read_field(raw_event, "attributes")
                if type(ev_name) is str:
                    en = names.get(ev_name)
                    if en is None:
                        en = names[ev_name] = self.string(ev_name)
                else:
                    en = self.string(
                        ev_name if isinstance(ev_name, str) else self.scrub.key_str(ev_name)
                    )
                ev: dict[str, Any] = {"name": en}
                vt = times.get(ev_t) if type(ev_t) is float else None
                if vt is None:
                    vt = vtime(ev_t)
                    if vt is not None and type(ev_t) is float and len(times) < _TIMES_MAX:
                        times[ev_t] = vt
                if vt is not None:
                    ev["t"] = vt
                if ev_attrs:
                    a = flat(ev_attrs) if flat is not None and type(ev_attrs) is dict else None
                    if a is None:
                        a = top(
                            ev_attrs,
                            f"{scope}.events.{en}.attributes" if scope else None,
                            "span %r event %r attribute",
                            nm,
                            en,
                        )
                    if a:
                        ev["attributes"] = a
                evs.append(ev)
            if evs:
                if len(evs) > 1 and all("t" in e for e in evs):
                    evs.sort(key=_event_time)
                body["events"] = evs
        actor = (
            span_actor(attrs)
            if type(attrs) is dict and not _ACTOR_NAMES.isdisjoint(attrs)
            else None
        )
        if actor is None:
            who = ""
        else:
            who = actor[1]
            if "\x00" in who:
                who = mask_uuid_marks(who)
        return Item(
            True,
            key,
            parent,
            seq,
            seq if end_seq is None else end_seq,
            t0,
            t1 if t1 is not None else t0,
            body,
            nm if "\x00" not in nm else mask_uuid_marks(nm),
            who,
        )

    def _status(self, status: object) -> str:
        return self.string(status) if isinstance(status, str) else "unset"

    def entry(self, seq: float, t: object, kind: object, span: object, data: object) -> Item:
        kd = self.string(kind) if isinstance(kind, str) else self.scrub.key_str(kind)
        body: dict[str, Any] = {"entry": kd}
        vt = vtime(t)
        if vt is not None:
            body["t"] = vt
        nd: Any = None
        if data:
            if kd == "decision" and isinstance(data, Mapping) and ("seq" in data or "t" in data):
                # The log's own sequence number is arrival order; its time duplicates ``t``.
                data = {
                    k: v
                    for k, v in data.items()
                    if not (k == "seq" or (k == "t" and (v is None or isinstance(v, (int, float)))))
                }
            nd = self.top(
                data, f"entries.{kd}.data" if self.scrub.paths else None, "%s entry field", kd
            )
            if nd is not None and nd != {}:
                body["data"] = nd
        label = entry_label(kd, nd) if isinstance(nd, dict) else ""
        return Item(False, None, span, seq, seq, vt, vt, body, kd, mask_uuid_marks(label))

    # -- ordering -----------------------------------------------------------------------------

    def order(
        self, items: list[Item], parent_task: object = None
    ) -> tuple[list[Item], list[tuple[float, float]]]:
        """Canonical order of one span's timeline, and the time windows of its groups.

        Args:
            items: the span's child spans and entries.
            parent_task: the task that opened the span itself (``None`` when unknown).
        """
        n = len(items)
        if n < 2:
            return items, []
        windows: list[tuple[float, float]] = []
        out: list[Item] = []
        if None not in [it.time for it in items]:
            items.sort(key=_TIME_SEQ)
            times = [it.time for it in items]
            if len(set(times)) == n:  # no two at one instant: nothing concurrent to arrange
                return items, windows
            i = 0
            while i < n:
                t0 = items[i].time
                j = i + 1
                while j < n and items[j].time == t0:
                    j += 1
                if j - i < 2:
                    out.append(items[i])
                else:
                    assert t0 is not None
                    out.extend(self._arrange_run(items[i:j], t0, parent_task, windows))
                i = j
            return out, windows
        # No virtual time for some sibling: concurrency is what overlaps in arrival order.
        items.sort(key=_SEQ)
        component = [items[0]]
        reach = items[0].end_seq
        for it in items[1:]:
            if it.seq < reach:
                component.append(it)
                reach = max(reach, it.end_seq)
                continue
            out.extend(self._component(component))
            component = [it]
            reach = it.end_seq
        out.extend(self._component(component))
        return out, windows

    def _arrange_run(
        self,
        run: list[Item],
        t0: float,
        parent_task: object,
        windows: list[tuple[float, float]],
    ) -> list[Item]:
        """Siblings at one virtual instant, in arrival order, put in canonical order.

        What the parent span's own task did (a span it opened, an entry it made) is sequential
        with everything around it: it splits the run into segments, each arranged on its own.
        """
        out: list[Item] = []
        segment: list[Item] = []
        for it in run:
            if parent_task is not None and it.task == parent_task:
                out.extend(self._arrange_segment(segment, t0, windows))
                out.append(it)
                segment = []
            else:
                segment.append(it)
        out.extend(self._arrange_segment(segment, t0, windows))
        return out

    def _arrange_segment(
        self, segment: list[Item], t0: float, windows: list[tuple[float, float]]
    ) -> list[Item]:
        if len(segment) < 2:
            return segment
        # What one task did one step after another forms a chain that keeps its order; spans
        # of unknown task are chains of one. An entry joins the chain of its task when that
        # task opened a span here; any other entry before the first span or after the last
        # one stays put (the task that waits for the group made it), and inside that window
        # it is sorted with the group -- with its task's other entries when its task is known.
        spans = [it for it in segment if it.is_span]
        lo = min((sp.seq for sp in spans), default=-1.0)
        hi = max((sp.end_seq for sp in spans), default=-1.0)
        owners = {sp.task for sp in spans}
        units: list[list[Item]] = []
        chains: dict[object, list[Item]] = {}
        before: list[Item] = []
        after: list[Item] = []
        loose: list[Item] = []
        for it in segment:
            task = it.task
            if not it.is_span and (task is None or task not in owners):
                if spans and it.seq < lo:
                    before.append(it)
                    continue
                if spans and it.seq > hi:
                    after.append(it)
                    continue
                if task is None:
                    loose.append(it)
                    continue
            if task is None:
                units.append([it])
                continue
            chain = chains.get(task)
            if chain is None:
                chain = chains[task] = [it]
                units.append(chain)
            else:
                chain.append(it)
        if len(units) < 2:
            return segment  # one task did all of it: sequential
        units.extend([it] for it in loose)
        ends = [sp.end if sp.end is not None else t0 for sp in spans]
        windows.append((t0, max(ends, default=t0)))
        return [*before, *self.canonical(units), *after]

    def _component(self, component: list[Item]) -> list[Item]:
        if len(component) > 1 and sum(1 for it in component if it.is_span) > 1:
            return self.canonical([[it] for it in component])
        return component

    def canonical(self, units: list[list[Item]]) -> list[Item]:
        """Sort a concurrency group's units by content: kind, name, agent, then digest."""
        keyed = [((0 if u[0].is_span else 1), u[0].name, u[0].actor) for u in units]
        if len(set(keyed)) == len(keyed):
            order = sorted(range(len(units)), key=keyed.__getitem__)
        else:
            seen: dict[tuple[int, str, str], int] = {}
            for k in keyed:
                seen[k] = seen.get(k, 0) + 1
            full = [
                (k, self._unit_digest(u) if seen[k] > 1 else b"")
                for k, u in zip(keyed, units, strict=True)
            ]
            order = sorted(range(len(units)), key=full.__getitem__)
        return [it for i in order for it in units[i]]

    def _unit_digest(self, unit: list[Item]) -> bytes:
        if len(unit) == 1:
            return self.digest(unit[0])
        h = hashlib.blake2b(digest_size=16)
        for it in unit:
            h.update(self.digest(it))
        return h.digest()

    def digest(self, root: Item) -> bytes:
        """BLAKE2 digest of an item's normalized content and its (ordered) subtree."""
        done = root.digest  # (a local: narrowing root.digest would outlive the loop below)
        if done is not None:
            return done
        stack: list[tuple[Item, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if node.digest is not None:
                continue
            if not expanded and node.items:
                stack.append((node, True))
                stack.extend((child, False) for child in node.items if child.digest is None)
                continue
            h = hashlib.blake2b(content_bytes(node.body), digest_size=16)
            for child in node.items:
                assert child.digest is not None, "bug in agentrig, please report"
                h.update(child.digest)
            node.digest = h.digest()
        assert root.digest is not None
        return root.digest

    def sort_events(self, body: dict[str, Any], windows: list[tuple[float, float]]) -> None:
        events = body.get("events")
        if not windows or not events or len(events) < 2:
            return
        for lo, hi in windows:
            idx = [i for i, e in enumerate(events) if "t" in e and lo <= e["t"] <= hi]
            if len(idx) > 1:
                ordered = sorted((events[i] for i in idx), key=_event_content)
                for i, e in zip(idx, ordered, strict=True):
                    events[i] = e

    # -- emission ---------------------------------------------------------------------------

    def emit(self, items: list[Item], parent_id: int | None, depth: int) -> list[Any]:
        out: list[Any] = []
        append = out.append
        sid = self._next_id  # (a local while this level runs: once per span, it shows)
        for it in items:
            body = it.body
            if it.is_span:
                sid += 1
                body["id"] = sid
                body["parent"] = parent_id
                if it.items:
                    self._next_id = sid
                    if depth + 1 < _MAX_SPAN_DEPTH:
                        body["timeline"] = self.emit(it.items, sid, depth + 1)
                    else:
                        body["timeline"] = self._emit_flat(it.items, sid)
                    sid = self._next_id
            append(body)
        self._next_id = sid
        return out

    def _emit_flat(self, items: list[Item], parent_id: int) -> list[Any]:
        """Past the depth limit: descendants in reading order, each naming its parent."""
        out: list[Any] = []
        stack: list[tuple[Iterator[Item], int]] = [(iter(items), parent_id)]
        while stack:
            iterator, pid = stack[-1]
            it = next(iterator, None)
            if it is None:
                stack.pop()
                continue
            body = it.body
            body["parent"] = pid
            if it.is_span:
                self._next_id += 1
                body["id"] = self._next_id
                out.append(body)
                if it.items:
                    stack.append((iter(it.items), self._next_id))
            else:
                out.append(body)
        return out


def _event_time(e: dict[str, Any]) -> float:
    t: float = e["t"]
    return t


def _event_content(e: dict[str, Any]) -> tuple[float, str, bytes]:
    return (e["t"], mask_uuid_marks(e["name"]), content_bytes(e))


_TIME_SEQ: Final = operator.attrgetter("time", "seq")
_SEQ: Final = operator.attrgetter("seq")


def _preorder(roots: list[Item]) -> list[Item]:
    out: list[Item] = []
    stack = list(roots)
    pop, push, extend = stack.pop, out.append, stack.extend
    while stack:
        node = pop()
        push(node)
        extend(node.items)
    return out


def _lookup(by_key: dict[object, Item], key: object) -> Item | None:
    if key is None:
        return None
    try:
        return by_key.get(key)
    except TypeError:
        return None


def _break_cycles(spans: list[Item], roots: list[Item], by_key: dict[object, Item]) -> None:
    """Spans unreachable from a root sit on a parent cycle: cut it at the earliest span."""
    reached: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        reached.add(id(node))
        stack.extend(c for c in node.items if c.is_span)
    if len(reached) == len(spans):
        return
    for s in sorted((s for s in spans if id(s) not in reached), key=_SEQ):
        if id(s) in reached:
            continue
        parent = _lookup(by_key, s.parent)  # detach it from the parent that holds it
        if parent is not None:
            parent.items = [c for c in parent.items if c is not s]
        roots.append(s)
        stack = [s]
        while stack:
            node = stack.pop()
            reached.add(id(node))
            stack.extend(c for c in node.items if c.is_span and id(c) not in reached)


def arrange(
    builder: TimelineBuilder, spans: list[Item], entries: list[Item], *, keep_order: bool
) -> list[Item]:
    """Hang spans and entries into one tree and order every timeline; the ordered roots.

    Children and entries go under their span; unknown parents make roots, a parent cycle is
    cut at its earliest span. ``keep_order`` (a document read back) keeps the reading order,
    which is canonical already and could not be re-derived (tasks are not written).
    """
    by_key: dict[object, Item] = {}
    for s in spans:
        try:
            by_key.setdefault(s.key, s)
        except TypeError:  # an unhashable id in a hand-made dict
            s.key = f"#unhashable{id(s)}"
            by_key[s.key] = s
    roots: list[Item] = []
    get = by_key.get
    for s in spans:
        try:
            parent = get(s.parent) if s.parent is not None else None
        except TypeError:
            parent = None
        if parent is None or parent is s:
            roots.append(s)
        else:
            parent.items.append(s)
    # Children before parents: reverse pre-order. (Items hold only spans at this point.)
    preorder = _preorder(roots)
    if len(preorder) != len(spans):
        _break_cycles(spans, roots, by_key)
        preorder = _preorder(roots)
    for e in entries:
        owner = _lookup(by_key, e.parent)
        (owner.items if owner is not None else roots).append(e)

    # Order every timeline, children first, then the roots.
    if keep_order:
        for node in preorder:
            node.items.sort(key=_SEQ)
        roots.sort(key=_SEQ)
        return roots
    for node in reversed(preorder):
        if node.items:
            node.items, windows = builder.order(node.items, node.task)
            builder.sort_events(node.body, windows)
    ordered_roots, _ = builder.order(roots)
    return ordered_roots
