"""agentrig.normalize: a raw recording in, the canonical, byte-stable snapshot document out."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import random
import threading
import time
import uuid
import weakref
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentrig import ConfigurationError, SnapshotError, SnapshotFormatError, clock
from agentrig.normalize import FORMAT_VERSION, NormalizeRules, dumps, loads, normalize
from agentrig.recording import Entry, Recording, SpanEvent, SpanRecord
from agentrig.tracing import SEMCONV_VERSION

# --- helpers --------------------------------------------------------------------------------


def span(
    span_id: Any,
    name: str,
    *,
    parent: Any = None,
    seq: int,
    end_seq: int | None = None,
    start: float | None = 0.0,
    end: float | None = None,
    attributes: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    status: str = "ok",
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A raw span as ``Recording.to_dict()`` writes it."""
    return {
        "span_id": span_id,
        "parent_id": parent,
        "name": name,
        "seq": seq,
        "end_seq": end_seq if end_seq is not None else seq + 1,
        "start": start,
        "end": end if end is not None else start,
        "attributes": attributes or {},
        "events": events or [],
        "status": status,
        "status_message": None,
        "error": error,
        "wall_start": time.time(),
        "wall_end": time.time(),
    }


def entry(
    seq: int, kind: str, data: dict[str, Any], *, span_id: Any = None, t: float | None = 0.0
) -> dict[str, Any]:
    return {"seq": seq, "t": t, "kind": kind, "span_id": span_id, "data": data, "wall": time.time()}


def raw(spans: list[dict[str, Any]], entries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"name": "test", "spans": spans, "entries": entries or []}


def timeline(doc: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = doc["timeline"]
    return items


def names(items: list[dict[str, Any]]) -> list[str]:
    return [i.get("span") or f"{i['entry']}:{i.get('data', {}).get('decision', '')}" for i in items]


def attrs_of(doc: dict[str, Any], **attributes: Any) -> dict[str, Any]:
    """Normalize one span with these attributes and return its normalized attributes."""
    d = normalize(raw([span(1, "s", seq=1, attributes=attributes)]))
    result: dict[str, Any] = timeline(d)[0].get("attributes", {})
    return result


def one_attrs(**attributes: Any) -> dict[str, Any]:
    return attrs_of({}, **attributes)


def broadcast(order: list[str], *, ids: dict[str, int] | None = None) -> dict[str, Any]:
    """A broadcast whose agents open their spans (and charge) in ``order``."""
    ids = ids or {}
    spans = [span(ids.get("root", 1), "broadcast", seq=1, end_seq=100, start=0.0, end=2.0)]
    entries = [
        entry(2, "bus.emit", {"topic": "fanout", "payload": {}}, span_id=spans[0]["span_id"])
    ]
    seq = 3
    for i, agent in enumerate(order):
        sid = ids.get(agent, 10 + i)
        end = {"web": 1.0, "papers": 1.5, "forums": 0.5}.get(agent, 1.0)
        spans.append(
            span(
                sid,
                "model.call",
                parent=spans[0]["span_id"],
                seq=seq,
                end_seq=seq + 20,
                start=0.0,
                end=end,
                attributes={"gen_ai.agent.name": agent, "gen_ai.usage.output_tokens": len(agent)},
            )
        )
        entries.append(entry(seq + 1, "budget.charge", {"usd": 0.01, "tokens": 3}, span_id=sid))
        seq += 2
    entries.append(
        entry(99, "decision", {"decision": "synthesized"}, span_id=spans[0]["span_id"], t=2.0)
    )
    return raw(spans, entries)


# --- the document ---------------------------------------------------------------------------


def test_document_has_a_format_header_name_and_timeline() -> None:
    doc = normalize(raw([span(1, "pipeline", seq=1)]))
    assert doc["agentrig"] == {"format": FORMAT_VERSION, "semconv": SEMCONV_VERSION}
    assert FORMAT_VERSION == 1
    assert doc["name"] == "test"
    assert [i["span"] for i in timeline(doc)] == ["pipeline"]


def test_entries_nest_under_their_span_in_arrival_order_and_outside_any_span_at_root() -> None:
    doc = normalize(
        raw(
            [span(7, "pipeline", seq=2, end_seq=10, start=0.0, end=3.0)],
            [
                entry(1, "note", {"name": "before"}, t=0.0),
                entry(3, "decision", {"decision": "b_first"}, span_id=7, t=1.0),
                entry(4, "decision", {"decision": "a_second"}, span_id=7, t=1.0),
                entry(11, "note", {"name": "after"}, t=3.0),
            ],
        )
    )
    top = timeline(doc)
    assert [i.get("entry") or i["span"] for i in top] == ["note", "pipeline", "note"]
    inner = top[1]["timeline"]
    # Same virtual instant, one task: arrival order is kept (not sorted by content).
    assert [e["data"]["decision"] for e in inner] == ["b_first", "a_second"]
    assert inner[0] == {"entry": "decision", "t": 1.0, "data": {"decision": "b_first"}}


def test_ids_are_renumbered_in_document_order_with_parent_links_kept() -> None:
    doc = normalize(
        raw(
            [
                span(905, "root", seq=1, end_seq=20, start=0.0, end=5.0),
                span(17, "second", parent=905, seq=6, start=2.0, end=3.0),
                span(333, "first", parent=905, seq=2, start=1.0, end=1.5),
                span(4, "grandchild", parent=17, seq=7, start=2.0, end=2.5),
            ]
        )
    )
    root = timeline(doc)[0]
    assert (root["id"], root["parent"]) == (1, None)
    first, second = root["timeline"]
    assert (first["span"], first["id"], first["parent"]) == ("first", 2, 1)
    assert (second["span"], second["id"], second["parent"]) == ("second", 3, 1)
    grandchild = second["timeline"][0]
    assert (grandchild["id"], grandchild["parent"]) == (4, 3)


def test_wall_clock_is_dropped_and_virtual_times_are_kept_rounded() -> None:
    doc = normalize(
        raw(
            [
                span(
                    1,
                    "s",
                    seq=1,
                    start=0.1 + 0.2,
                    end=1.0000004,
                    events=[{"name": "e", "t": 0.5, "attributes": {}, "wall": time.time()}],
                )
            ],
            [entry(2, "note", {"wall": time.time(), "x": 1}, span_id=1, t=0.7)],
        )
    )
    s = timeline(doc)[0]
    assert (s["start"], s["duration"]) == (0.3, 0.7)
    assert s["events"] == [{"name": "e", "t": 0.5}]
    assert s["timeline"] == [{"entry": "note", "t": 0.7, "data": {"x": 1}}]
    assert b"wall" not in dumps(doc)


def test_times_are_omitted_when_the_run_was_not_on_a_virtual_clock() -> None:
    rec = Recording("real time")
    s = rec.start_span("work", parent_id=None)
    rec.add_entry("decision", {"decision": "go"}, span_id=s.span_id)
    rec.end_span(s)
    item = timeline(normalize(rec))[0]
    assert "start" not in item and "duration" not in item
    assert item["timeline"] == [{"entry": "decision", "data": {"decision": "go"}}]


def test_unfinished_spans_are_marked() -> None:
    rec = Recording()
    rec.start_span("never closed", parent_id=None)
    assert timeline(normalize(rec))[0]["unfinished"] is True


def test_status_error_and_events_are_kept() -> None:
    doc = normalize(
        raw(
            [
                span(
                    1,
                    "model.call",
                    seq=1,
                    status="error",
                    error={"type": "TimeoutError", "message": "search timed out"},
                    events=[
                        {
                            "name": "exception",
                            "t": 0.0,
                            "attributes": {
                                "exception.type": "TimeoutError",
                                "exception.stacktrace": 'File "/home/me/app.py", line 3',
                            },
                        }
                    ],
                )
            ]
        )
    )
    s = timeline(doc)[0]
    assert s["status"] == "error"
    assert s["error"] == {"type": "TimeoutError", "message": "search timed out"}
    # Stack traces hold absolute paths and line numbers: dropped, the type stays.
    assert s["events"] == [
        {"name": "exception", "t": 0.0, "attributes": {"exception.type": "TimeoutError"}}
    ]


def test_decision_log_sequence_numbers_and_times_are_not_duplicated_into_data() -> None:
    doc = normalize(
        raw([], [entry(1, "decision", {"decision": "go", "seq": 7, "t": 3.0, "stage": "x"}, t=3.0)])
    )
    assert timeline(doc) == [
        {"entry": "decision", "t": 3.0, "data": {"decision": "go", "stage": "x"}}
    ]


# --- canonical order ------------------------------------------------------------------------


def test_broadcast_agents_arriving_in_any_order_give_identical_bytes() -> None:
    a = broadcast(["web", "papers", "forums"])
    b = broadcast(
        ["forums", "web", "papers"], ids={"root": 50, "forums": 3, "web": 99, "papers": 7}
    )
    assert dumps(normalize(a)) == dumps(normalize(b))
    agents = [
        s["attributes"]["gen_ai.agent.name"] for s in timeline(normalize(a))[0]["timeline"][1:4]
    ]
    assert agents == ["forums", "papers", "web"]


def test_entries_before_and_after_a_concurrency_group_stay_in_place() -> None:
    doc = normalize(broadcast(["web", "papers"]))
    inner = timeline(doc)[0]["timeline"]
    assert inner[0]["entry"] == "bus.emit"
    assert [i.get("span") for i in inner[1:3]] == ["model.call", "model.call"]
    assert inner[-1]["entry"] == "decision"


def test_sequential_siblings_keep_time_order_not_name_order() -> None:
    doc = normalize(
        raw(
            [
                span(1, "pipeline", seq=1, end_seq=30, start=0.0, end=9.0),
                span(2, "review", parent=1, seq=2, start=0.0, end=1.0),
                span(3, "draft", parent=1, seq=4, start=1.0, end=2.0),
                span(4, "archive", parent=1, seq=6, start=5.0, end=9.0),
            ]
        )
    )
    assert names(timeline(doc)[0]["timeline"]) == ["review", "draft", "archive"]


def test_overlapping_siblings_that_start_at_different_times_are_ordered_by_start() -> None:
    doc = normalize(
        raw(
            [
                span(1, "root", seq=1, end_seq=30, start=0.0, end=9.0),
                span(2, "z_long", parent=1, seq=2, end_seq=20, start=0.0, end=8.0),
                span(3, "a_late", parent=1, seq=3, end_seq=4, start=1.0, end=2.0),
            ]
        )
    )
    assert names(timeline(doc)[0]["timeline"]) == ["z_long", "a_late"]


def test_concurrent_siblings_that_tie_on_name_and_agent_are_ordered_by_content() -> None:
    def doc(order: list[str]) -> bytes:
        spans = [span(1, "gather", seq=1, end_seq=50, start=0.0, end=1.0)]
        for i, prompt in enumerate(order):
            spans.append(
                span(
                    10 + i,
                    "model.call",
                    parent=1,
                    seq=2 + 2 * i,
                    end_seq=30 + i,
                    start=0.0,
                    end=1.0,
                    attributes={"gen_ai.prompt": prompt},
                )
            )
            spans.append(
                span(100 + i, "tool", parent=10 + i, seq=3 + 2 * i, attributes={"q": prompt * 2})
            )
        return dumps(normalize(raw(spans)))

    assert doc(["alpha", "beta", "gamma"]) == doc(["gamma", "alpha", "beta"])


def test_entries_arriving_inside_a_group_window_are_sorted_with_it() -> None:
    def doc(first: str, second: str) -> bytes:
        return dumps(
            normalize(
                raw(
                    [
                        span(1, "gather", seq=1, end_seq=50, start=0.0, end=1.0),
                        span(2, "a", parent=1, seq=2, end_seq=10, start=0.0, end=1.0),
                        span(3, "b", parent=1, seq=3, end_seq=11, start=0.0, end=1.0),
                    ],
                    [
                        entry(4, "decision", {"decision": first}, span_id=1, t=0.0),
                        entry(5, "decision", {"decision": second}, span_id=1, t=0.0),
                    ],
                )
            )
        )

    assert doc("x", "y") == doc("y", "x")


def test_events_at_the_instant_of_a_concurrency_group_are_sorted_by_content() -> None:
    def doc(order: list[str]) -> bytes:
        events = [{"name": f"{n}_failed", "t": 0.0, "attributes": {"error": n}} for n in order]
        return dumps(
            normalize(
                raw(
                    [
                        span(1, "broadcast", seq=1, end_seq=50, events=events),
                        span(
                            2, "model.call", parent=1, seq=2, end_seq=5, attributes={"agent": "a"}
                        ),
                        span(
                            3, "model.call", parent=1, seq=3, end_seq=6, attributes={"agent": "b"}
                        ),
                    ]
                )
            )
        )

    assert doc(["web", "papers"]) == doc(["papers", "web"])


def test_without_virtual_time_only_overlapping_arrivals_are_reordered() -> None:
    def doc(order: list[int]) -> list[str]:
        spans = [span(1, "root", seq=1, end_seq=100, start=None)]
        # Two sequential steps, then three agents whose lifetimes overlap in arrival order.
        spans += [
            span(2, "step_b", parent=1, seq=2, end_seq=3, start=None),
            span(3, "step_a", parent=1, seq=4, end_seq=5, start=None),
        ]
        for k, agent in enumerate(order):
            spans.append(
                span(10 + agent, f"agent{agent}", parent=1, seq=10 + k, end_seq=20 + k, start=None)
            )
        return names(timeline(normalize(raw(spans)))[0]["timeline"])

    assert doc([3, 1, 2]) == doc([2, 3, 1]) == ["step_b", "step_a", "agent1", "agent2", "agent3"]


def with_task(raw_span: dict[str, Any], task: object) -> dict[str, Any]:
    raw_span["task"] = task
    return raw_span


def test_zero_time_sequential_steps_of_one_task_keep_their_order_when_tasks_are_known() -> None:
    """A task token (equal for spans one task opened) tells a pipeline from a gather."""
    doc = normalize(
        raw(
            [
                with_task(span(1, "pipeline", seq=1, end_seq=20), "main"),
                with_task(span(2, "research", parent=1, seq=2), "main"),
                with_task(span(3, "draft", parent=1, seq=4), "main"),
                with_task(span(4, "review", parent=1, seq=6), "main"),
            ]
        )
    )
    assert names(timeline(doc)[0]["timeline"]) == ["research", "draft", "review"]
    assert b'"task"' not in dumps(doc)  # the token orders; it is not part of the document


def test_with_task_tokens_a_gather_between_sequential_steps_is_still_canonical() -> None:
    def doc(order: list[str], tokens: dict[str, object]) -> bytes:
        spans = [
            with_task(span(1, "run", seq=1, end_seq=90), tokens["main"]),
            with_task(span(2, "plan", parent=1, seq=2, end_seq=3), tokens["main"]),
        ]
        seq = 10
        for agent in order:  # each agent's task opens two spans, one after the other
            spans.append(
                with_task(span(10 + seq, f"{agent}.fetch", parent=1, seq=seq), tokens[agent])
            )
            spans.append(
                with_task(span(11 + seq, "summarize", parent=1, seq=seq + 2), tokens[agent])
            )
            seq += 4
        spans.append(with_task(span(3, "report", parent=1, seq=80, end_seq=81), tokens["main"]))
        return dumps(normalize(raw(spans)))

    a = doc(["web", "papers"], {"main": 1, "web": 2, "papers": 3})
    b = doc(["papers", "web"], {"main": "x", "web": "y", "papers": "z"})
    assert a == b
    order = names(timeline(loads(a))[0]["timeline"])
    assert order == ["plan", "papers.fetch", "summarize", "web.fetch", "summarize", "report"]


def test_real_threads_finishing_in_a_different_order_do_not_change_the_snapshot() -> None:
    """Agents on the virtual loop wait for thread work that completes in a forced order."""

    def run(order: list[int]) -> bytes:
        rec = Recording("threads")
        gates = [threading.Event() for _ in range(3)]
        done = [threading.Event() for _ in range(3)]

        def controller() -> None:
            for k in order:
                gates[k].set()
                done[k].wait(5)

        async def agent(k: int, parent: int) -> None:
            await asyncio.to_thread(gates[k].wait, 5)  # real time; no virtual time passes
            s = rec.start_span("model.call", parent_id=parent, attributes={"agent": f"a{k}"})
            rec.add_entry("budget.charge", {"usd": 0.01 * k, "tokens": k}, span_id=s.span_id)
            await asyncio.sleep(0)
            rec.end_span(s)
            done[k].set()

        async def main() -> None:
            root = rec.start_span("broadcast", parent_id=None)
            rec.add_entry("bus.emit", {"topic": "go"}, span_id=root.span_id)
            await asyncio.gather(*(agent(k, root.span_id) for k in range(3)))
            rec.add_entry("decision", {"decision": "synthesized"}, span_id=root.span_id)
            await asyncio.sleep(1)
            rec.end_span(root)

        with rec.activate():
            worker = threading.Thread(target=controller)
            worker.start()
            clock.run(main())
            worker.join()
        arrivals = [s.attributes["agent"] for s in rec.spans_named("model.call")]
        assert arrivals == [f"a{k}" for k in order]  # the raw recording did differ
        return dumps(normalize(rec))

    assert run([0, 1, 2]) == run([2, 0, 1]) == run([1, 2, 0])


# --- placeholders ---------------------------------------------------------------------------


def test_uuids_become_numbered_placeholders_that_keep_identity() -> None:
    u1, u2 = str(uuid.uuid4()), str(uuid.uuid4())
    a = one_attrs(
        request=u1, again=u1.upper(), other=u2, text=f"run {u2} of {u1}", obj=uuid.UUID(u1)
    )
    # Numbered in reading order (keys sorted): again, obj, other, request, text.
    assert a == {
        "again": "<uuid:1>",
        "obj": "<uuid:1>",
        "other": "<uuid:2>",
        "request": "<uuid:1>",
        "text": "run <uuid:2> of <uuid:1>",
    }


def test_uuid_numbers_do_not_depend_on_arrival_order() -> None:
    u = [str(uuid.uuid4()) for _ in range(3)]

    def doc(order: list[int]) -> bytes:
        spans = [span(1, "gather", seq=1, end_seq=50)]
        for k, i in enumerate(order):
            spans.append(
                span(
                    10 + i,
                    "call",
                    parent=1,
                    seq=2 + k,
                    end_seq=40,
                    attributes={"agent": f"a{i}", "id": u[i]},
                )
            )
        return dumps(normalize(raw(spans)))

    assert doc([0, 1, 2]) == doc([2, 1, 0])
    assert b"<uuid:1>" in doc([0, 1, 2]) and str(u[0]).encode() not in doc([0, 1, 2])


def test_uuids_in_keys_are_replaced_too() -> None:
    u = str(uuid.uuid4())
    assert one_attrs(sessions={u: 1}) == {"sessions": {"<uuid:1>": 1}}


def test_wall_clock_timestamps_become_placeholders_at_any_depth() -> None:
    now = time.time()
    a = one_attrs(
        iso="2024-05-01T12:34:56.789+02:00",
        sentence="finished at 2024-05-01 12:34:56Z, ok",
        nested={"deep": [{"when": datetime.datetime.now()}]},
        epoch=now,
        epoch_ms=int(now * 1000),
        epoch_ns=time.time_ns(),
        created_at=int(now),
        count=int(now),  # an int in the seconds range is only a timestamp under a timey key
        day=datetime.date(2024, 5, 1),
        small=120.5,
        date_only="2024-05-01",
    )
    assert a["iso"] == "<timestamp>"
    assert a["sentence"] == "finished at <timestamp>, ok"
    assert a["nested"] == {"deep": [{"when": "<timestamp>"}]}
    assert a["epoch"] == a["epoch_ms"] == a["epoch_ns"] == a["created_at"] == "<timestamp>"
    assert a["count"] == int(now)
    assert a["day"] == "<date>"
    assert (a["small"], a["date_only"]) == (120.5, "2024-05-01")


def test_pytest_temporary_directories_become_a_placeholder(tmp_path: Any) -> None:
    a = one_attrs(out=str(tmp_path / "decisions.jsonl"))
    if "pytest-of-" in str(tmp_path):
        assert a["out"].startswith("<tmp>/") and a["out"].endswith("/decisions.jsonl")
    a = one_attrs(p="/tmp/pytest-of-ci/pytest-12/popen-gw1/test_x0/out.txt")
    assert a == {"p": "<tmp>/test_x0/out.txt"}


# --- secrets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        "sk-proj-abcdefghijklmnop1234",
        "sk-ant-api03-abcdefghijklmnopqrstuv",
        "sk-abc123def456",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "github_pat_11ABCDEFG0123456789_abcdefghij",
        "xoxb-1234567890-abcdefghij",
        "AIzaSyA1234567890abcdefghijklmnopqrstu",
    ],
)
def test_api_keys_are_redacted_inside_longer_strings_at_any_depth(secret: str) -> None:
    a = one_attrs(messages=[{"role": "user", "content": f"use key {secret} please"}])
    assert a == {"messages": [{"role": "user", "content": "use key <redacted> please"}]}
    assert secret.encode() not in dumps(normalize(raw([], [entry(1, "note", {"x": [[secret]]})])))


def test_bearer_tokens_are_redacted_but_prose_is_not() -> None:
    a = one_attrs(
        header="Authorization: Bearer eyJhbGciOi.J9x-y_z",
        curl="curl -H 'authorization: bearer abc123' https://x",
        prose="the bearer of bad news",
    )
    assert a["header"] == "Authorization: Bearer <redacted>"
    assert a["curl"] == "curl -H 'authorization: bearer <redacted>' https://x"
    assert a["prose"] == "the bearer of bad news"


def test_values_of_secret_keys_are_redacted_but_usage_counters_are_not() -> None:
    a = one_attrs(
        password="hunter2",
        API_KEY="abc",
        apiKey="abc",
        authorization="Basic dXNlcjpwYXNz",
        headers={"Cookie": "session=1", "X-Api-Key": "k", "Accept": "text/plain"},
        credentials={"user": "bob", "pw": "x"},
        client_secret="s",
        access_token="t0k3n",
        tokens=42,
        max_tokens=100,
        **{"gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 30},
        tokenizer="cl100k",
        secret_count=3,
        password_hint=None,
    )
    assert a == {
        "password": "<redacted>",
        "API_KEY": "<redacted>",
        "apiKey": "<redacted>",
        "authorization": "<redacted>",
        "headers": {"Cookie": "<redacted>", "X-Api-Key": "<redacted>", "Accept": "text/plain"},
        "credentials": "<redacted>",
        "client_secret": "<redacted>",
        "access_token": "<redacted>",
        "tokens": 42,
        "max_tokens": 100,
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 30,
        "tokenizer": "cl100k",
        "secret_count": 3,
        "password_hint": None,
    }


def test_secrets_never_reach_the_snapshot_bytes_from_any_field() -> None:
    key = "sk-live-0123456789abcdef"
    doc = normalize(
        raw(
            [
                span(
                    1,
                    f"call {key}",
                    seq=1,
                    attributes={"prompt": key},
                    events=[{"name": "e", "t": 0.0, "attributes": {"k": key}}],
                    error={"type": "AuthError", "message": f"bad key {key}"},
                )
            ],
            [entry(2, "bus.emit", {"topic": "t", "payload": {"auth": {"token": key}}}, span_id=1)],
        )
    )
    assert key.encode() not in dumps(doc)


def test_user_redact_patterns_apply_to_every_string() -> None:
    rules = NormalizeRules(redact=[r"acct-\d{6}"])
    d = normalize(
        raw([span(1, "s", seq=1, attributes={"a": "pay acct-123456 now", "b": "acct-1"})]),
        rules=rules,
    )
    assert timeline(d)[0]["attributes"] == {"a": "pay <redacted> now", "b": "acct-1"}


# --- values ---------------------------------------------------------------------------------


def test_floats_are_rounded_and_specials_become_strings() -> None:
    a = one_attrs(
        sum=0.1 + 0.2,
        small=1.23456789e-7,
        neg_zero=-0.0,
        nan=float("nan"),
        inf=float("inf"),
        ninf=float("-inf"),
        big=2**70,
        money=Decimal("0.1"),
        delta=datetime.timedelta(milliseconds=1500),
    )
    assert a == {
        "sum": 0.3,
        "small": 1.23457e-07,
        "neg_zero": 0.0,
        "nan": "<nan>",
        "inf": "<inf>",
        "ninf": "<-inf>",
        "big": str(2**70),
        "money": 0.1,
        "delta": 1.5,
    }
    assert b"-0.0" not in dumps(normalize(raw([span(1, "s", seq=1, attributes={"z": -0.0})])))


def test_float_digits_is_configurable() -> None:
    d = normalize(
        raw([span(1, "s", seq=1, attributes={"x": 1 / 3})]), rules=NormalizeRules(float_digits=3)
    )
    assert timeline(d)[0]["attributes"] == {"x": 0.333}


class Doc:
    pass


class Color(enum.Enum):
    RED = 1


@dataclasses.dataclass
class Reply:
    text: str
    tokens: int


def on_summarize(event: dict[str, Any]) -> None:
    pass


@dataclasses.dataclass
class Node:
    name: str
    child: Any = None


def test_non_json_values_get_stable_address_free_placeholders() -> None:
    a = one_attrs(
        obj=Doc(),
        repr_text=repr(Doc()),
        fn=on_summarize,
        cls=Doc,
        raw_bytes=b"abc",
        a_set={3, 1, 2},
        error=TimeoutError("search timed out"),
        reply=Reply("hi", 3),
        path=PurePosixPath("a/b.txt"),
        color=Color.RED,
        keys={1: "int", None: "none", (1, 2): "tuple"},
    )
    assert a == {
        "obj": "<Doc>",
        "repr_text": f"<{__name__}.Doc object>",
        "fn": "<function on_summarize>",
        "cls": "<class Doc>",
        "raw_bytes": "<bytes len=3>",
        "a_set": [1, 2, 3],
        "error": "<TimeoutError: search timed out>",
        "reply": {"text": "hi", "tokens": 3},
        "path": "a/b.txt",
        "color": "Color.RED",
        "keys": {"1": "int", "None": "none", "(1, 2)": "tuple"},
    }
    assert b"0x" not in dumps(normalize(raw([span(1, "s", seq=1, attributes={"o": Doc()})])))


def test_surrogates_are_replaced_so_the_document_is_valid_utf8() -> None:
    a = one_attrs(text="bad \ud800 char", **{"k\udc80": 1})
    assert a == {"text": "bad \ufffd char", "k\ufffd": 1}
    dumps(normalize(raw([span(1, "s\ud800", seq=1, attributes={"x": "\udfff"})])))


def test_cycles_and_shared_references_do_not_crash() -> None:
    loop: dict[str, Any] = {"name": "loop"}
    loop["self"] = loop
    items: list[Any] = [1]
    items.append(items)
    shared: dict[str, Any] = {"leaf": 1}
    for _ in range(60):  # a DAG that would expand to 2**60 nodes
        shared = {"l": shared, "r": shared}
    node = Node("a")
    node.child = node
    a = one_attrs(loop=loop, items=items, node=node, shared=shared)
    assert a["loop"] == {"name": "loop", "self": "<cycle>"}
    assert a["items"] == [1, "<cycle>"]
    assert a["node"] == {"name": "a", "child": "<cycle>"}
    # The DAG is cut by the depth limit and a per-value budget of containers.
    text = orjson.dumps(a["shared"]).decode()
    assert "<max depth>" in text and "<truncated>" in text


def test_ten_thousand_levels_of_nesting_do_not_crash() -> None:
    deep: Any = "bottom"
    for _ in range(10_000):
        deep = {"d": [deep]}
    spans = [span(1, "level0", seq=1, end_seq=100_000, attributes={"deep": deep})]
    for i in range(2, 10_001):  # a 10,000-deep chain of spans
        spans.append(span(i, f"level{i - 1}", parent=i - 1, seq=i, end_seq=100_000 - i))
    doc = normalize(raw(spans))
    data = dumps(doc)
    assert b"<max depth>" in data
    again = loads(data)
    assert normalize(again) == doc
    # Past 64 levels the descendants are listed flat, each naming its parent.
    node = timeline(doc)[0]
    for _ in range(63):
        node = node["timeline"][0]
    flat = node["timeline"]
    assert len(flat) == 10_000 - 64
    assert all(s["parent"] == s["id"] - 1 for s in flat)


def test_orphans_become_roots_and_parent_cycles_are_broken() -> None:
    doc = normalize(
        raw(
            [
                span(1, "orphan", parent=404, seq=1, start=0.0),
                span(2, "a", parent=3, seq=3, start=1.0),
                span(3, "b", parent=2, seq=4, start=2.0),
                span(4, "self", parent=4, seq=5, start=3.0),
            ]
        )
    )
    flat = dumps(doc).decode()
    for name in ("orphan", '"a"', '"b"', '"self"'):
        assert name in flat
    assert [i["span"] for i in timeline(doc)] == ["orphan", "a", "self"]
    assert timeline(doc)[1]["timeline"][0]["span"] == "b"


def test_recording_objects_and_their_to_dict_normalize_identically() -> None:
    rec = Recording("objects")
    root = rec.start_span("pipeline", parent_id=None, attributes={"k": "v"})
    root.events.append(SpanEvent("started", 0.0, {"n": 1}))
    rec.add_entry("decision", {"decision": "go"}, span_id=root.span_id)
    rec.end_span(root)
    assert normalize(rec) == normalize(rec.to_dict()) == normalize(orjson.loads(rec.to_json()))
    assert isinstance(rec.spans[0], SpanRecord) and isinstance(rec.entries[0], Entry)


def test_normalize_rejects_what_is_not_a_recording() -> None:
    with pytest.raises(TypeError, match="needs a Recording or a mapping"):
        normalize(42)  # type: ignore[arg-type]
    with pytest.raises(SnapshotError, match=r"needs a Recording, a Recording\.to_dict\(\) mapping"):
        normalize({"what": 1})
    with pytest.raises(SnapshotFormatError, match="re-record with `agentrig update`"):
        normalize({"agentrig": {"format": 0}, "timeline": []})


# --- idempotence ----------------------------------------------------------------------------


def test_normalization_is_idempotent() -> None:
    u = str(uuid.uuid4())
    doc = normalize(
        raw(
            [
                span(1, "broadcast", seq=1, end_seq=50, start=0.0, end=2.0),
                span(2, "model.call", parent=1, seq=2, end_seq=9, attributes={"id": u, "x": 1 / 3}),
                span(3, "model.call", parent=1, seq=3, end_seq=8, attributes={"id": "other"}),
            ],
            [
                entry(4, "decision", {"decision": "z", "ref": u}, span_id=1),
                entry(60, "note", {"k": "Bearer abcdef123"}, t=None),
            ],
        )
    )
    assert normalize(doc) == doc
    assert dumps(normalize(loads(dumps(doc)))) == dumps(doc)


# --- rules ----------------------------------------------------------------------------------


def test_drop_and_mask_rules_by_key_name_anywhere() -> None:
    rules = NormalizeRules(drop=["request_id"], mask=["session*"])
    d = normalize(
        raw(
            [
                span(
                    1,
                    "s",
                    seq=1,
                    attributes={
                        "request_id": 1,
                        "nested": {"request_id": 2, "sessionKey": "x", "k": 3},
                    },
                )
            ],
            [entry(2, "note", {"request_id": 3, "session": "abc"})],
        ),
        rules=rules,
    )
    assert timeline(d)[0]["attributes"] == {"nested": {"sessionKey": "<masked>", "k": 3}}
    assert timeline(d)[1]["data"] == {"session": "<masked>"}


def test_drop_and_mask_rules_by_path() -> None:
    rules = NormalizeRules(
        drop=["spans.model.call.attributes.gen_ai.response.*", "spans.*.attributes.messages.*.id"],
        mask=["entries.bus.emit.data.payload.user", "spans.*.events.retry.attributes.delay"],
    )
    d = normalize(
        raw(
            [
                span(
                    1,
                    "model.call",
                    seq=1,
                    attributes={
                        "gen_ai.response.id": "r1",
                        "gen_ai.response.model": "m",
                        "gen_ai.request.model": "m",
                        "messages": [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}],
                    },
                    events=[{"name": "retry", "t": 0.0, "attributes": {"delay": 1.5, "n": 1}}],
                ),
                span(2, "other", seq=3, attributes={"gen_ai.response.id": "kept"}),
            ],
            [entry(5, "bus.emit", {"topic": "t", "payload": {"user": "bob", "n": 1}})],
        ),
        rules=rules,
    )
    first, other, emit = timeline(d)
    assert first["attributes"] == {
        "gen_ai.request.model": "m",
        "messages": [{"text": "a"}, {"text": "b"}],
    }
    assert first["events"][0]["attributes"] == {"delay": "<masked>", "n": 1}
    assert other["attributes"] == {"gen_ai.response.id": "kept"}
    assert emit["data"] == {"topic": "t", "payload": {"user": "<masked>", "n": 1}}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"drop": ["a..b"]}, r"drop='a\.\.b'.*empty path segment"),
        ({"mask": ["spans.x"]}, r"mask='spans\.x'.*needs a scope, a name and a field"),
        ({"drop": ["attributes.request_id"]}, r"does not start with 'spans\.' or 'entries\.'"),
        ({"drop": ["has space"]}, "whitespace"),
        ({"drop": ["x"], "mask": ["x"]}, "both drop and mask"),
        ({"redact": ["(unclosed"]}, r"redact='\(unclosed' is not a valid regular expression"),
        ({"redact": ["a*"]}, "matches the empty string"),
        ({"float_digits": 0}, "float_digits"),
        ({"drop": [3]}, "must hold strings"),
    ],
)
def test_bad_rules_raise_configuration_errors_naming_the_rule(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        NormalizeRules(**kwargs)


def test_rules_accept_a_single_string_and_merge() -> None:
    ini = NormalizeRules(drop="request_id", redact=[r"acct-\d+"])
    marker = NormalizeRules(drop=["trace_id"], mask=["session"], float_digits=3)
    merged = ini.merged(marker)
    assert merged.drop == ("request_id", "trace_id")
    assert (merged.mask, merged.redact, merged.float_digits) == (("session",), (r"acct-\d+",), 3)
    assert ini.merged(None) is ini


# --- dumps / loads --------------------------------------------------------------------------


def test_dumps_is_sorted_indented_utf8_with_a_trailing_newline() -> None:
    doc = normalize(raw([span(1, "s", seq=1, attributes={"b": "é", "a": 1})]))
    data = dumps(doc)
    assert data.endswith(b"}\n") and not data.endswith(b"\n\n")
    assert data.startswith(b'{\n  "agentrig": {\n    "format": 1,\n    "semconv": "')
    assert "é".encode() in data
    text = data.decode()
    assert text.index('"a": 1') < text.index('"b": "')
    assert dumps(doc) == dumps(loads(data)) == data


def test_dumps_refuses_unnormalized_data() -> None:
    with pytest.raises(SnapshotError, match="normalize"):
        dumps({"x": object()})


def test_loads_tolerates_a_byte_order_mark_and_crlf_line_endings() -> None:
    data = dumps(normalize(raw([span(1, "s", seq=1)])))
    windows = b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")
    assert loads(windows) == loads(data) == loads("\ufeff" + data.decode())


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"{not json", SnapshotError, r"snapshots/x\.json is not valid JSON"),
        (b"[1, 2]", SnapshotError, r"snapshots/x\.json is not an agentrig snapshot"),
        (b'{"timeline": []}', SnapshotError, r"snapshots/x\.json is not an agentrig snapshot"),
        (b'{"agentrig": {"format": true}, "timeline": []}', SnapshotError, "unreadable format"),
        (
            b'{"agentrig": {"format": 0}, "timeline": []}',
            SnapshotFormatError,
            "older agentrig; re-record with `agentrig update`",
        ),
        (
            b'{"agentrig": {"format": 99}, "timeline": []}',
            SnapshotFormatError,
            "newer agentrig; upgrade agentrig, or re-record with `agentrig update`",
        ),
        (b'{"agentrig": {"format": 1}}', SnapshotError, "no 'timeline' list"),
        (
            b'{"agentrig": {"format": 1}, "timeline": [{"x": 1}]}',
            SnapshotError,
            r"timeline\[0\] is neither a span",
        ),
        (
            b'{"agentrig": {"format": 1}, "timeline": [{"span": "a", "timeline": [3]}]}',
            SnapshotError,
            r"timeline\[0\]\.timeline\[0\] is a int",
        ),
        (
            b'{"agentrig": {"format": 1}, "timeline": [{"span": "a", "attributes": []}]}',
            SnapshotError,
            r"attributes is not a dict",
        ),
        ("\ufeff".encode("utf-16"), SnapshotError, "UTF-16"),
        (b"\xff\x00", SnapshotError, "not valid JSON"),
    ],
)
def test_loads_errors_name_the_source(data: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as info:
        loads(data, source="snapshots/x.json")
    assert "snapshots/x.json" in str(info.value)


def test_loads_without_a_source_still_says_what_it_read() -> None:
    with pytest.raises(SnapshotError, match="the snapshot is not valid JSON"):
        loads("")


# --- performance ----------------------------------------------------------------------------


def test_ten_thousand_spans_normalize_and_dump_quickly() -> None:
    """A guard against accidental quadratic work (generous: CI machines are slow and shared)."""
    rec = Recording("bench")
    rec.spans = [SpanRecord(1, None, "broadcast", 0, 0.0, 10.0, 10**6)]
    for i in range(10_000):
        rec.spans.append(
            SpanRecord(
                i + 2,
                1,
                "model.call",
                i + 1,
                float(i % 50),
                float(i % 50) + 0.5,
                i + 2,
                attributes={
                    "gen_ai.agent.name": "worker",  # ties on name and agent: digests decide
                    "gen_ai.request.model": "fake-1",
                    "gen_ai.usage.input_tokens": 12 + i,
                    "gen_ai.usage.output_tokens": 30,
                    "agentrig.cost_usd": 0.000123 * i,
                    "gen_ai.prompt": f"Summarize the findings about topic number {i} please",
                },
            )
        )
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        data = dumps(normalize(rec))
        best = min(best, time.perf_counter() - started)
    assert len(data) > 1_000_000
    assert best < 2.0


# --- properties -----------------------------------------------------------------------------

_NAMES = st.sampled_from(["model.call", "tool", "search"])
_AGENTS = st.sampled_from([None, "web", "papers", "forums"])
_UUIDS = [str(uuid.UUID(int=i * 7919 + 1)) for i in range(4)]
_VALUES = st.one_of(
    st.integers(-5, 5),
    st.floats(-1e3, 1e3, allow_nan=False),
    st.text("abc ", max_size=6),
    st.sampled_from(_UUIDS),
    st.just("sk-abcdefgh12345678"),
)
_CHILD = st.fixed_dictionaries(
    {
        "name": _NAMES,
        "agent": _AGENTS,
        "attrs": st.dictionaries(st.sampled_from(["a", "b", "prompt", "id"]), _VALUES, max_size=3),
        "duration": st.sampled_from([0.0, 0.5, 1.0]),
        "decisions": st.lists(st.sampled_from(["go", "stop", "retry"]), max_size=2),
        "grandchildren": st.lists(st.tuples(_NAMES, st.sampled_from([0.0, 0.25])), max_size=2),
    }
)


def _actions(k: int, child: dict[str, Any]) -> list[tuple[Any, ...]]:
    """One child's own sequence of things it records, in its own (causal) order."""
    acts: list[tuple[Any, ...]] = [("open", k)]
    t = 0.0
    for g, (gname, gdur) in enumerate(child["grandchildren"]):
        acts.append(("gopen", k, g, gname, t, t + gdur))
        acts.append(("gclose", k, g))
        t += gdur
    for d in child["decisions"]:
        acts.append(("decide", k, d, t))
    acts.append(("close", k))
    return acts


def _recording(
    children: list[dict[str, Any]],
    interleaving: list[int],
    ids: list[int],
    tasks: list[object] | None = None,
) -> dict[str, Any]:
    """A raw recording of a gather of ``children``, arriving in the given interleaving.

    With ``tasks``, spans carry task tokens: ``tasks[0]`` for the gathering task, ``tasks[k+1]``
    for child ``k`` and the spans it opens.
    """
    queues = [_actions(k, c) for k, c in enumerate(children)]
    seq = 0
    id_iter = iter(ids)
    root_id = next(id_iter)
    spans: dict[Any, dict[str, Any]] = {}
    entries: list[dict[str, Any]] = []

    def next_seq() -> int:
        nonlocal seq
        seq += 1
        return seq

    spans["root"] = span(root_id, "broadcast", seq=next_seq(), end_seq=0, start=0.0, end=3.0)
    entries.append(entry(next_seq(), "bus.emit", {"topic": "go"}, span_id=root_id, t=0.0))
    child_ids = {k: next(id_iter) for k in range(len(children))}
    grand_ids: dict[tuple[int, int], int] = {}
    pending = [k for k, q in enumerate(queues) if q]
    choice = iter(interleaving)
    while pending:
        k = pending[next(choice, 0) % len(pending)]
        act = queues[k].pop(0)
        c = children[k]
        if act[0] == "open":
            attrs = dict(c["attrs"])
            if c["agent"]:
                attrs["gen_ai.agent.name"] = c["agent"]
            spans[("c", k)] = span(
                child_ids[k],
                c["name"],
                parent=root_id,
                seq=next_seq(),
                end_seq=0,
                start=0.0,
                end=max(c["duration"], sum(d for _, d in c["grandchildren"])),
                attributes=attrs,
            )
        elif act[0] == "gopen":
            _, _, g, gname, t0, t1 = act
            grand_ids[(k, g)] = next(id_iter)
            spans[("g", k, g)] = span(
                grand_ids[(k, g)],
                gname,
                parent=child_ids[k],
                seq=next_seq(),
                end_seq=0,
                start=t0,
                end=t1,
            )
        elif act[0] == "gclose":
            spans[("g", k, act[2])]["end_seq"] = next_seq()
        elif act[0] == "decide":
            entries.append(
                entry(next_seq(), "decision", {"decision": act[2]}, span_id=child_ids[k], t=act[3])
            )
        else:
            spans[("c", k)]["end_seq"] = next_seq()
        if not queues[k]:
            pending.remove(k)
    entries.append(
        entry(next_seq(), "decision", {"decision": "synthesized"}, span_id=root_id, t=3.0)
    )
    spans["root"]["end_seq"] = next_seq()
    if tasks is not None:
        for key, sp in spans.items():
            sp["task"] = tasks[0] if key == "root" else tasks[key[1] + 1]
    span_list = list(spans.values())
    random.Random(len(interleaving) + sum(ids)).shuffle(span_list)  # list order means nothing
    return raw(span_list, entries)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    children=st.lists(_CHILD, min_size=1, max_size=5),
    order_a=st.lists(st.integers(0, 4), max_size=40),
    order_b=st.lists(st.integers(0, 4), max_size=40),
    id_seed=st.integers(0, 2**32),
    use_tasks=st.booleans(),
)
def test_property_canonical_under_arrival_order_and_id_renaming(
    children: list[dict[str, Any]],
    order_a: list[int],
    order_b: list[int],
    id_seed: int,
    use_tasks: bool,
) -> None:
    ids_a = list(range(1, 100))
    ids_b = random.Random(id_seed).sample(range(1000, 100_000), 99)
    tasks_a: list[object] | None = list(range(10)) if use_tasks else None
    tasks_b: list[object] | None = [f"t{i}" for i in ids_b[:10]] if use_tasks else None
    doc_a = normalize(_recording(children, order_a, ids_a, tasks_a))
    doc_b = normalize(_recording(children, order_b, ids_b, tasks_b))
    data = dumps(doc_a)
    assert data == dumps(doc_b)
    assert normalize(doc_a) == doc_a
    assert dumps(loads(data)) == data
    assert b"sk-abcdefgh" not in data


def test_normalize_and_loads_leave_the_garbage_collector_as_they_found_it() -> None:
    # Both pause the collector while they build (a measured third of the drifting path), and
    # must hand it back: on, off, and after an error.
    import gc

    doc = normalize({"name": "t", "spans": [{"span_id": 1, "name": "a"}], "entries": []})
    assert gc.isenabled()
    loads(dumps(doc))
    assert gc.isenabled()
    with pytest.raises(SnapshotError):
        loads(b"{not json")
    assert gc.isenabled()
    gc.disable()
    try:
        normalize(doc)
        loads(dumps(doc))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_large_build_resumes_the_collector_without_walking_what_it_built() -> None:
    # The deferred collection of a 10,000-span build walked every new container at once (9 ms
    # of 51); after a large build the young objects go to the oldest generation unexamined.
    import gc

    from agentrig.document import PROMOTE_AFTER, collector_paused

    def generation_of(obj: object) -> int:
        return next(g for g in (0, 1, 2) if any(o is obj for o in gc.get_objects(g)))

    gc.collect()
    with collector_paused():
        built = [{"i": [i]} for i in range(PROMOTE_AFTER)]
    assert gc.isenabled()
    assert gc.get_count()[0] < 100  # nothing young left for the next collection to walk
    assert generation_of(built) == 2
    with collector_paused():  # a small build (one test's recording) resumes as before
        small = [[i] for i in range(100)]
    assert generation_of(small) == 0
    assert gc.get_count()[0] >= 100
    del built, small

    class Node:
        pass

    node = Node()
    node.self = node  # type: ignore[attr-defined]
    alive = weakref.ref(node)
    del node
    with collector_paused():
        [{"i": [i]} for i in range(PROMOTE_AFTER)]
    gc.collect()  # nothing is lost: a full collection still frees the cycle made before
    assert alive() is None


def test_a_frozen_generation_stays_frozen() -> None:
    import gc

    from agentrig.document import PROMOTE_AFTER, collector_paused

    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with collector_paused():
            [{"i": [i]} for i in range(PROMOTE_AFTER)]
        assert gc.get_freeze_count() == frozen
        assert gc.isenabled()
    finally:
        gc.unfreeze()
