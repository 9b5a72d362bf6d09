"""Properties (hypothesis) of budgets and normalization beyond the module-level ones.

``tests/test_budget_properties.py`` drives up to 8 stages through rich schedules (waits,
deadlines, crashes, cancellations); ``tests/test_normalize.py`` checks one gather of up to 5
agents with a few value kinds. These extend both where the reliability issue asks more:

* **100 concurrent tasks**, and tasks that charge from threads, and plain threads: the pool
  never overspends, no stage exceeds its cap, the ledger always sums, and every charge that
  happened is in it exactly once.
* **Nested concurrency and arbitrary values**: a random tree of spans, each of whose children
  run either one after another or as a gather (at any depth), carrying arbitrary JSON-ish
  attribute values (any unicode including lone surrogates, big integers, NaN, UUIDs,
  timestamps, secrets, integer keys beside string keys); recorded in two different
  completion orders with two different id schemes, both normalize to the same bytes;
  normalization is idempotent; serialize → parse → serialize is byte-identical; and the drift
  report finds no change between the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agentrig import BudgetExceeded, BudgetExhausted, BudgetPool
from agentrig.budget import StageBudget
from agentrig.clock import run
from agentrig.drift import compare
from agentrig.normalize import dumps, loads, normalize

_CENT = Decimal("0.01")


# -- budgets -------------------------------------------------------------------------------------


@dataclass
class _Tally:
    """What the test saw happen, to hold the pool's ledger against."""

    attempted: Counter[tuple[str, Decimal, int]] = field(default_factory=Counter)
    stages: dict[str, StageBudget] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attempt(self, stage: str, cents: int, tokens: int) -> None:
        with self.lock:
            self.attempted[(stage, Decimal(cents) * _CENT, tokens)] += 1


def _check_live(pool: BudgetPool) -> None:
    """What must hold at every instant, even while others charge."""
    stats = pool.statistics()
    assert stats.accepted_usd <= stats.cap_usd
    assert stats.reserved_usd >= 0
    if stats.cap_tokens is not None:
        assert stats.available_tokens is not None and stats.available_tokens >= 0


def _check_final(pool: BudgetPool, tally: _Tally) -> None:
    stats = pool.statistics()
    ledger = pool.ledger
    assert stats.open_stages == 0 and stats.reserved_usd == 0
    assert stats.spent_usd == sum((e.usd for e in ledger), Decimal(0))
    assert stats.spent_tokens == sum(e.tokens for e in ledger)
    assert stats.accepted_usd == sum((e.usd for e in ledger if e.accepted), Decimal(0))
    assert stats.accepted_usd <= pool.cap_usd
    assert Counter((e.stage, e.usd, e.tokens) for e in ledger) == tally.attempted
    assert [e.seq for e in ledger] == list(range(1, len(ledger) + 1))
    for name, stage in tally.stages.items():
        mine = [e for e in ledger if e.stage == name]
        assert sum((e.usd for e in mine if e.accepted), Decimal(0)) <= stage.cap_usd
        if stage.cap_tokens is not None:
            assert sum(e.tokens for e in mine if e.accepted) <= stage.cap_tokens


_TASK = st.tuples(
    st.integers(0, 6),  # max cents asked
    st.booleans(),  # wait for money
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40), st.integers(0, 2)), max_size=4),
    st.booleans(),  # charge from a thread
    st.integers(0, 5),  # start (virtual seconds)
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cap_cents=st.integers(0, 120),
    cap_tokens=st.none() | st.integers(0, 2000),
    tasks=st.lists(_TASK, min_size=100, max_size=100),
)
def test_a_hundred_concurrent_tasks_never_overspend_and_lose_no_charge(
    cap_cents: int, cap_tokens: int | None, tasks: list[Any]
) -> None:
    pool = BudgetPool(usd=cap_cents / 100, tokens=cap_tokens, name="shared")
    tally = _Tally()

    async def task(i: int, plan: Any) -> None:
        max_cents, wait, charges, threaded, start = plan
        await asyncio.sleep(start)
        name = f"t{i}"
        try:
            async with pool.acquire(
                max_usd=min(max_cents, cap_cents) / 100,
                name=name,
                wait=wait,
                deadline=8 if wait else None,
            ) as stage:
                tally.stages[name] = stage
                for cents, tokens, nap in charges:
                    tally.attempt(name, cents, tokens)

                    def charge(cents: int = cents, tokens: int = tokens) -> None:
                        with contextlib.suppress(BudgetExceeded):
                            stage.charge(cents / 100, tokens=tokens)

                    if threaded:
                        await asyncio.to_thread(charge)
                    else:
                        charge()
                    _check_live(pool)
                    await asyncio.sleep(nap)
        except BudgetExhausted:
            pass
        _check_live(pool)

    async def main() -> None:
        await asyncio.gather(*(task(i, plan) for i, plan in enumerate(tasks)))

    run(main())
    _check_final(pool, tally)


@settings(max_examples=10, deadline=None)
@given(
    cap_cents=st.integers(0, 60),
    workers=st.lists(
        st.lists(
            st.tuples(st.integers(0, 8), st.lists(st.integers(0, 4), max_size=6)), max_size=12
        ),
        min_size=4,
        max_size=8,
    ),
)
def test_threads_charging_at_once_never_overspend_and_lose_no_charge(
    cap_cents: int, workers: list[list[tuple[int, list[int]]]]
) -> None:
    pool = BudgetPool(usd=cap_cents / 100, name="threads")
    tally = _Tally()
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def work(w: int, plan: list[tuple[int, list[int]]]) -> None:
        try:
            barrier.wait()
            for k, (max_cents, charges) in enumerate(plan):
                name = f"w{w}s{k}"
                try:
                    stage = pool.acquire_nowait(max_usd=min(max_cents, cap_cents) / 100, name=name)
                except BudgetExhausted:
                    continue
                with tally.lock:
                    tally.stages[name] = stage
                with stage:
                    for cents in charges:
                        tally.attempt(name, cents, 0)
                        with contextlib.suppress(BudgetExceeded):
                            stage.charge(cents / 100)
                        _check_live(pool)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w, p)) for w, p in enumerate(workers)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        _check_live(pool)
    for t in threads:
        t.join()
    assert errors == []
    _check_final(pool, tally)


# -- normalization ------------------------------------------------------------------------------

_U1 = str(uuid.UUID(int=1))
#: Strings normalization rewrites. One UUID identity only (in two spellings): concurrent
#: siblings that differ *only* in which UUID they hold, when those UUIDs recur elsewhere, are a
#: documented limit of canonical ordering (docs/reliability.md), not something to find again.
_TREE_SPECIAL = st.sampled_from(
    [
        _U1,
        _U1.upper(),
        "2024-05-01T12:30:00Z",
        "sk-abcdefghij0123456789",
        "Authorization: Bearer abc.def.ghi",
        "password=hunter2",
        "",
        "a\ud800b",
    ]
)
_SPECIAL = _TREE_SPECIAL | st.sampled_from([str(uuid.UUID(int=2)), "<uuid:7>"])


def _values(special: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        special,
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(max_size=6) | special | st.integers(-2, 2), inner, max_size=3)
        ),
        max_leaves=6,
    )


_VALUES = _values(_SPECIAL)
_ATTRIBUTES = st.dictionaries(
    st.sampled_from(["prompt", "result", "id", "api_key", "token", "meta", "n"]),
    _values(_TREE_SPECIAL),
    max_size=3,
)


@dataclass
class _Node:
    name: str
    agent: str | None
    duration: float
    attributes: dict[str, Any]
    decisions: list[str]
    concurrent: bool  # its children run as a gather (else one after another)
    children: list[_Node]


@st.composite
def _nodes(draw: st.DrawFn, depth: int = 0) -> _Node:
    children: list[_Node] = []
    if depth < 3:
        children = draw(st.lists(_nodes(depth + 1), max_size=3 if depth < 2 else 2))
    return _Node(
        name=draw(st.sampled_from(["model.call", "tool", "stage", "search"])),
        agent=draw(st.sampled_from([None, "web", "papers", "forums"])),
        duration=draw(st.sampled_from([0.0, 0.5, 1.0, 2.0])),
        attributes=draw(_ATTRIBUTES),
        decisions=draw(st.lists(st.sampled_from(["go", "stop", "retry"]), max_size=2)),
        concurrent=draw(st.booleans()),
        children=children,
    )


def _layout(node: _Node, start: float) -> float:
    """Give every node a start and an end (virtual seconds); returns the node's end."""
    node.start = start  # type: ignore[attr-defined]
    end = start + node.duration
    if node.concurrent:
        for child in node.children:
            end = max(end, _layout(child, start))
    else:
        t = start
        for child in node.children:
            t = _layout(child, t) + 0.25  # sequential steps: strictly later
        end = max(end, t)
    node.end = end  # type: ignore[attr-defined]
    return end


def _actions(node: _Node, rng: random.Random) -> list[tuple[str, _Node, Any]]:
    """The node's own causal sequence; a gather's children interleave in a random order."""
    acts: list[tuple[str, _Node, Any]] = [("open", node, None)]
    if node.concurrent:
        queues = [_actions(child, rng) for child in node.children]
        while any(queues):
            queue = rng.choice([q for q in queues if q])
            acts.append(queue.pop(0))
    else:
        for child in node.children:
            acts.extend(_actions(child, rng))
    acts.extend(("decide", node, d) for d in node.decisions)
    acts.append(("close", node, None))
    return acts


def _record(root: _Node, seed: int, ids: list[Any]) -> dict[str, Any]:
    """A raw recording of the tree, arriving in the order ``seed`` picks, with ``ids``."""
    rng = random.Random(seed)
    id_of: dict[int, Any] = {}
    spans: dict[int, dict[str, Any]] = {}
    entries: list[dict[str, Any]] = []
    parent_of: dict[int, Any] = {}

    def walk(node: _Node, parent: Any) -> None:
        id_of[id(node)] = ids[len(id_of)]
        parent_of[id(node)] = parent
        for child in node.children:
            walk(child, id_of[id(node)])

    walk(root, None)
    for seq, (what, node, arg) in enumerate(_actions(root, rng), start=1):
        key = id(node)
        if what == "open":
            attributes = dict(node.attributes)
            if node.agent:
                attributes["gen_ai.agent.name"] = node.agent
            spans[key] = {
                "span_id": id_of[key],
                "parent_id": parent_of[key],
                "name": node.name,
                "seq": seq,
                "start": node.start,  # type: ignore[attr-defined]
                "end": node.end,  # type: ignore[attr-defined]
                "attributes": attributes,
                "events": [{"name": "started", "t": node.start, "attributes": {}}],  # type: ignore[attr-defined]
                "status": "ok",
                "wall_start": rng.random() * 1e9,
            }
        elif what == "decide":
            t = node.end  # type: ignore[attr-defined]
            entries.append(
                {
                    "seq": seq,
                    "t": t,
                    "kind": "decision",
                    "span_id": id_of[key],
                    "data": {"decision": arg},
                }
            )
        else:
            spans[key]["end_seq"] = seq
    span_list = list(spans.values())
    rng.shuffle(span_list)  # the order of the list means nothing
    return {"name": "tests/test_x.py::test_tree", "spans": span_list, "entries": entries}


def _ids(kind: int, count: int, seed: int) -> list[Any]:
    rng = random.Random(seed)
    if kind == 0:
        return list(range(1, count + 1))
    if kind == 1:
        return rng.sample(range(10_000, 1_000_000), count)
    return [f"span-{rng.getrandbits(40):x}-{i}" for i in range(count)]


def _size(node: _Node) -> int:
    return 1 + sum(_size(c) for c in node.children)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    tree=_nodes(),
    seeds=st.tuples(st.integers(0, 2**32), st.integers(0, 2**32)),
    id_kinds=st.tuples(st.integers(0, 2), st.integers(0, 2)),
)
def test_normalization_of_nested_concurrency_is_canonical_idempotent_and_round_trips(
    tree: _Node, seeds: tuple[int, int], id_kinds: tuple[int, int]
) -> None:
    _layout(tree, 0.0)
    count = _size(tree)
    a = _record(tree, seeds[0], _ids(id_kinds[0], count, seeds[0]))
    b = _record(tree, seeds[1], _ids(id_kinds[1], count, seeds[1]))

    doc_a, doc_b = normalize(a), normalize(b)
    data = dumps(doc_a)

    assert data == dumps(doc_b)  # completion order and id naming do not matter
    assert normalize(doc_a) == doc_a  # idempotent
    assert dumps(normalize(loads(data))) == data
    assert dumps(loads(data)) == data  # serialize -> parse -> serialize
    assert data.decode("utf-8")  # strict UTF-8 (no lone surrogate got through)
    assert not compare(loads(data), doc_b).changes
    assert b"hunter2" not in data and b"sk-abcdefghij" not in data


_U1 = "00000000-0000-0000-0000-000000000001"
_U2 = "00000000-0000-0000-0000-000000000002"


@settings(max_examples=300, deadline=None)
@given(attributes=st.dictionaries(st.text(max_size=8) | _SPECIAL, _VALUES, max_size=6))
# Found by hypothesis on main: UUID keys that read alike once masked were renumbered in the
# input's key order, which the written (sorted) order changes.
@example(attributes={_U1: {_U2: _U1, _U1: "<uuid:0>"}})
# Ten tied UUID keys: "<uuid:10>" is written before "<uuid:9>".
@example(attributes={str(uuid.UUID(int=i)): "x" for i in range(1, 12)} | {"k": [_U2, _U1]})
def test_any_attribute_values_round_trip_byte_for_byte(attributes: dict[str, Any]) -> None:
    raw = {
        "name": "t",
        "spans": [{"span_id": 1, "name": "s", "seq": 1, "start": 0.0, "attributes": attributes}],
        "entries": [
            {"seq": 2, "t": 0.0, "kind": "decision", "data": {"decision": "d", **attributes}}
        ],
    }
    doc = normalize(raw)
    data = dumps(doc)
    assert dumps(loads(data)) == data
    assert normalize(doc) == doc
    assert dumps(normalize(loads(data))) == data
