"""Hostile values in a recording: a snapshot is still written, valid, stable and address-free.

Non-JSON objects, NaN and infinities, bytes, a 10 MB string, 10,000 levels of nesting, cycles,
keys that are not strings and lone surrogates, recorded through every primitive (span
attributes and events, decisions, bus payloads and handler results, model prompts): the
snapshot is strict UTF-8 JSON with stable placeholders, re-running passes, and re-recording
gives the same bytes. Where a value cannot be exported raw (a file-backed decision log or
trace, ``Recording.to_json``), the error names the object and says what to do.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import Rig, assert_clean

from agentrig import AgentRigError, BudgetPool, DecisionLog, DecisionLogError, Recording, Tracer
from agentrig.normalize import dumps, normalize

HOSTILE_MODULE = r"""
import dataclasses
import datetime
import decimal
import enum
import math
import pathlib
import uuid

import pytest


class Doc:
    pass


class BadStr:
    def __str__(self):
        raise RuntimeError("no str for you")

    __repr__ = __str__


class Color(enum.Enum):
    RED = 1


@dataclasses.dataclass
class Point:
    x: int
    y: object = None


def helper():
    pass


def hostile():
    cycle = {"name": "loop"}
    cycle["self"] = cycle
    ring = [1, 2]
    ring.append(ring)
    deep_dict = "bottom"
    for _ in range(10_000):
        deep_dict = {"d": deep_dict}
    deep_list = "bottom"
    for _ in range(10_000):
        deep_list = [deep_list]
    point = Point(1)
    point.y = point
    return {
        "doc": Doc(),
        "bad_str": BadStr(),
        "func": helper,
        "lambda": lambda: None,
        "cls": Doc,
        "exc": ValueError("bad input"),
        "set": {3, 1, 2},
        "frozen": frozenset({"b", "a"}),
        "nan": math.nan,
        "inf": math.inf,
        "ninf": -math.inf,
        "bytes": b"\x00\xff\x10",
        "bytearray": bytearray(b"ab"),
        "memoryview": memoryview(b"abcd"),
        "big_int": 2**100,
        "neg_big_int": -(2**70),
        "complex": 1 + 2j,
        "decimal": decimal.Decimal("0.1"),
        "path": pathlib.PurePosixPath("/a/b"),
        "color": Color.RED,
        "point": point,
        "when": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "uuid": uuid.UUID(int=7),
        "surrogate": "a\ud800b\udfffc",
        "cycle": cycle,
        "ring": ring,
        "deep_dict": deep_dict,
        "deep_list": deep_list,
        "keys": {1: "int", "1": "str", None: "none", (1, 2): "tuple", 2.5: "float",
                 Color.RED: "enum", BadStr(): "bad", "k\udc80": "surrogate key"},
    }


async def test_hostile(tracer, decision_log, event_bus, fake_model, agent_recording,
                       agent_snapshot):
    values = hostile()

    @event_bus.on("task")
    def handler(event):
        return values

    with tracer.span("span\ud800name") as span:
        span.set_attributes(values)
        span.add_event("event", **values)
    decision_log.record(decision="route", **values)
    await event_bus.emit("task", **values)
    await fake_model.agent("writer", reply="text \udc80 reply").run("prompt \ud800")
    assert agent_recording == agent_snapshot


def test_big_string(tracer, agent_recording, agent_snapshot):
    with tracer.span("big") as span:
        span.set_attribute("text", "é" * (5 * 1024 * 1024))  # 10 MB of UTF-8
    assert agent_recording == agent_snapshot
"""


def _attributes(doc: dict[str, Any]) -> dict[str, Any]:
    span = doc["timeline"][0]
    assert span["span"] == "span\ufffdname"
    attrs: dict[str, Any] = span["attributes"]
    return attrs


def test_hostile_values_give_a_valid_stable_snapshot_with_placeholders(rig: Rig) -> None:
    rig.write("tests/test_hostile.py", HOSTILE_MODULE)

    rig.run("--snapshot-update").assert_outcomes(passed=2)
    first = rig.files()
    rig.run().assert_outcomes(passed=2)
    rig.run("--snapshot-update").assert_outcomes(passed=2)

    assert rig.files() == first  # deterministic: same bytes on every run
    raw = first["tests/test_hostile/test_hostile.json"]
    assert_clean(raw.decode("utf-8"))  # strict UTF-8, no memory address
    doc = json.loads(raw.decode("utf-8"))
    a = _attributes(doc)
    assert a["doc"] == "<Doc>"
    assert a["bad_str"] == "<BadStr>"
    assert a["func"] == "<function helper>"
    assert a["lambda"] == "<function hostile.<locals>.<lambda>>"
    assert a["cls"] == "<class Doc>"
    assert a["exc"] == "<ValueError: bad input>"
    assert a["set"] == [1, 2, 3] and a["frozen"] == ["a", "b"]
    assert (a["nan"], a["inf"], a["ninf"]) == ("<nan>", "<inf>", "<-inf>")
    assert a["bytes"] == "<bytes len=3>"
    assert a["bytearray"] == "<bytearray len=2>"
    assert a["memoryview"] == "<memoryview len=4>"
    assert a["big_int"] == str(2**100) and a["neg_big_int"] == str(-(2**70))
    assert a["complex"] == "<complex>"
    assert a["decimal"] == 0.1
    assert a["path"] == "/a/b"
    assert a["color"] == "Color.RED"
    assert a["point"] == {"x": 1, "y": "<cycle>"}
    assert a["when"] == "<timestamp>"
    assert a["uuid"] == "<uuid:1>"
    assert a["surrogate"] == "a\ufffdb\ufffdc"
    assert a["cycle"] == {"name": "loop", "self": "<cycle>"}
    assert a["ring"] == [1, 2, "<cycle>"]
    assert "<max depth>" in json.dumps(a["deep_dict"])
    assert "<max depth>" in json.dumps(a["deep_list"])
    assert a["keys"] == {
        "1": "int",
        "1#2": "str",  # 1 and "1" both become "1": both are kept
        "None": "none",
        "(1, 2)": "tuple",
        "2.5": "float",
        "Color.RED": "enum",
        "<BadStr>": "bad",
        "k\ufffd": "surrogate key",
    }
    text = raw.decode("utf-8")
    assert "\\ud800" not in text and "\\udc80" not in text


def test_a_10_mb_string_is_kept_whole_and_stable(rig: Rig) -> None:
    rig.write("tests/test_hostile.py", HOSTILE_MODULE)

    rig.run("--snapshot-update", "-k", "big_string").assert_outcomes(passed=1)
    raw = rig.snapshot("tests/test_hostile/test_big_string.json").read_bytes()
    rig.run("-k", "big_string").assert_outcomes(passed=1)

    doc = json.loads(raw)
    assert doc["timeline"][0]["attributes"]["text"] == "é" * (5 * 1024 * 1024)
    assert rig.snapshot("tests/test_hostile/test_big_string.json").read_bytes() == raw


def test_comparing_something_that_is_not_a_recording_says_what_to_compare(rig: Rig) -> None:
    rig.write(
        "tests/test_misuse.py",
        """
class Doc:
    pass

def test_object(agent_snapshot):
    assert Doc() == agent_snapshot

def test_number(agent_snapshot):
    assert 42 == agent_snapshot
""",
    )

    result = rig.run("--snapshot-update")

    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*agent_snapshot compares agentrig recordings: use "
            "`assert agent_recording == agent_snapshot`*not a Doc",
            "*agent_snapshot compares agentrig recordings*not a int",
        ]
    )
    assert not rig.snapshots.exists() or rig.files() == {}


# -- raw exports: the values that JSON cannot hold give a clear error ---------------------------


def _cycle() -> dict[str, Any]:
    d: dict[str, Any] = {"a": 1}
    d["self"] = d
    return d


def _deep(levels: int) -> Any:
    v: Any = 0
    for _ in range(levels):
        v = {"d": v}
    return v


class Doc:
    pass


@pytest.mark.parametrize(
    ("value", "why"),
    [(_cycle(), "Recursion limit"), (_deep(10_000), "Recursion limit"), ("a\ud800", "surrogat")],
)
def test_a_file_backed_decision_log_refuses_what_json_cannot_hold_by_name(
    tmp_path: Path, value: object, why: str
) -> None:
    log = DecisionLog(path=tmp_path / "decisions.jsonl")
    with pytest.raises(DecisionLogError, match=why) as info:
        log.record(decision="route", payload=value)
    message = str(info.value)
    assert "DecisionLog 'decisions.jsonl' cannot serialize decision 'route'" in message
    assert "pass plain values" in message
    assert_clean(message)
    log.record(decision="next", ok=True)  # the log is still usable
    assert [e["decision"] for e in log.read().entries] == ["next"]


def test_a_file_backed_decision_log_writes_placeholders_for_other_objects(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    with DecisionLog(path=path) as log:
        log.record(decision="route", doc=Doc(), nan=math.nan, raw=b"xyz", keys={1: "a"})
    text = path.read_text(encoding="utf-8")
    assert_clean(text)
    entry = json.loads(text)
    assert entry["doc"] == "<Doc>" and entry["raw"] == "<bytes len=3>" and entry["nan"] is None


def test_a_file_exporting_tracer_names_the_span_it_cannot_serialize(tmp_path: Path) -> None:
    tracer = Tracer(export_path=tmp_path / "trace.jsonl")
    with (
        pytest.raises(AgentRigError, match="cannot serialize span 'loop'") as info,
        tracer.span("loop") as span,
    ):
        span.set_attribute("value", _cycle())
    assert "plain values" in str(info.value)
    assert_clean(str(info.value))


def test_raw_recording_json_of_a_cycle_is_a_clear_agentrig_error() -> None:
    rec = Recording("tests/x.py::test_cycle")
    with rec.activate(), Tracer().span("s") as span:
        span.set_attribute("loop", _cycle())
    with pytest.raises(AgentRigError, match=r"recording 'tests/x.py::test_cycle' cannot be"):
        rec.to_json()
    with pytest.raises(AgentRigError, match="normalization bounds and replaces such values"):
        rec.model()
    data = dumps(normalize(rec))  # the snapshot path is unaffected
    assert b"<cycle>" in data


@pytest.mark.parametrize(
    "bad", [Doc(), 12, None, "", b"bytes"], ids=["object", "int", "none", "empty", "bytes"]
)
def test_bad_names_are_refused_by_name_without_a_memory_address(bad: object) -> None:
    with pytest.raises(AgentRigError, match="span name must be a non-empty str") as span_error:
        Tracer().span(bad).__enter__()  # type: ignore[arg-type]
    with pytest.raises(AgentRigError, match="`decision` must be a non-empty str") as log_error:
        DecisionLog().record(decision=bad)  # type: ignore[arg-type]
    assert_clean(str(span_error.value))
    assert_clean(str(log_error.value))


def test_an_error_quoting_a_huge_value_is_cut_to_a_readable_length() -> None:
    with pytest.raises(AgentRigError, match="`usd` must be an amount of US dollars") as info:
        BudgetPool(usd="x" * 1_000_000)
    message = str(info.value)
    assert len(message) < 5000
    assert "characters cut" in message
    assert message.endswith("write it like '0.04'")
