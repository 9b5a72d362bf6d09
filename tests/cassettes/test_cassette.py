"""The cassette format and matching (agentrig.cassette), without pytest sessions or SDKs."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from agentrig import CassetteError, CassetteFormatError, CassetteMiss, ConfigurationError
from agentrig.cassette import (
    CASSETTE_FORMAT,
    CassetteRules,
    Interaction,
    Player,
    Request,
    Response,
    SseEvent,
    dumps_cassette,
    load_cassette,
    parse_sse,
    read_cassette,
    request_diff,
    write_cassette,
)

KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8"


def _chat(*contents: str, **extra: object) -> bytes:
    messages = [{"role": "user", "content": c} for c in contents]
    return orjson.dumps({"model": "gpt-4o-mini", "messages": messages, **extra})


def _req(rules: CassetteRules, body: bytes) -> Request:
    return rules.request(provider="openai", method="post", path="/v1/chat/completions", body=body)


def _reply(text: str) -> Response:
    return Response(
        status=200,
        headers={"content-type": "application/json"},
        body={
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5},
        },
    )


def test_volatile_fields_leave_the_key_but_streaming_stays_part_of_it() -> None:
    rules = CassetteRules()
    plain = _req(rules, _chat("hi"))
    noisy = _req(rules, _chat("hi", user="u-123", metadata={"run": "42"}, stream=False))
    streamed = _req(rules, _chat("hi", stream=True, stream_options={"include_usage": True}))
    assert plain.key() == noisy.key()
    assert streamed.stream and not plain.stream
    assert streamed.key() != plain.key()
    assert "stream" not in streamed.body and "user" not in noisy.body
    assert plain.method == "POST"


def test_ini_ignore_paths_drop_fields_at_any_depth() -> None:
    rules = CassetteRules(ignore=("temperature", "messages[*].name"))
    a = _req(rules, orjson.dumps({"temperature": 0.2, "messages": [{"content": "x", "name": "a"}]}))
    b = _req(rules, orjson.dumps({"temperature": 0.9, "messages": [{"content": "x", "name": "b"}]}))
    assert a.key() == b.key()
    assert a.body == {"messages": [{"content": "x"}]}


@pytest.mark.parametrize("bad", ["", "messages[", "a..b"])
def test_a_malformed_ignore_path_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="agentrig_cassette_ignore"):
        CassetteRules(ignore=(bad,))


def test_secrets_are_redacted_before_matching_so_a_redacted_cassette_still_replays() -> None:
    rules = CassetteRules(patterns=(re.compile(r"acct-\d{6}"),))
    body = _chat(f"use {KEY} for acct-123456", api_key="hunter2")
    live = _req(rules, body)
    text = orjson.dumps(live.body).decode()
    assert KEY not in text and "acct-123456" not in text and "hunter2" not in text
    assert "<redacted>" in text
    stored = load_cassette(dumps_cassette("t", [Interaction(live, _reply("ok"))]), rules=rules)
    assert Player(stored.interactions, source="c", rerecord="r").answer(_req(rules, body))


def test_files_are_byte_stable_sorted_and_versioned(tmp_path: Path) -> None:
    rules = CassetteRules()
    inter = Interaction(_req(rules, _chat("b", zeta=1, alpha=2)), _reply("ok"), latency=0.3)
    data = dumps_cassette("tests/test_x.py::test_y", [inter])
    assert data == dumps_cassette("tests/test_x.py::test_y", [inter])
    assert data.endswith(b"}\n") and b'\n  "agentrig": {\n    "cassette": 1\n  },' in data
    body = orjson.loads(data)["interactions"][0]["request"]["body"]
    assert list(body) == sorted(body)
    path = tmp_path / "deep" / "x.cassette.json"
    write_cassette(path, "tests/test_x.py::test_y", [inter])
    assert path.read_bytes() == data
    assert read_cassette(path).interactions == (inter,)
    assert [p.name for p in path.parent.iterdir()] == ["x.cassette.json"]  # no temp file left


def test_identical_requests_are_answered_in_recorded_order() -> None:
    rules = CassetteRules()
    same = _req(rules, _chat("again"))
    player = Player(
        [Interaction(same, _reply("first")), Interaction(same, _reply("second"))],
        source="c.cassette.json",
        rerecord="pytest t.py::t --agentrig-record",
    )
    got = [player.answer(same), player.answer(same), player.answer(same)]
    assert [g[1].response.body["choices"][0]["message"]["content"] for g in got[:2] if g] == [
        "first",
        "second",
    ]
    assert got[2] is None
    message = str(player.miss(same, call=3))
    assert "every answer is used up" in message and "answers this exact request 2 times" in message


def test_a_miss_names_the_nearest_request_and_the_changed_fields() -> None:
    rules = CassetteRules()
    recorded = [
        Interaction(_req(rules, orjson.dumps({"model": "m", "input": "other"})), _reply("x")),
        Interaction(_req(rules, _chat("system says", "a", temperature=0.2)), _reply("y")),
    ]
    player = Player(recorded, source="snapshots/t/test_a.cassette.json", rerecord="RERECORD")
    live = _req(rules, _chat("system says", "b"))
    assert player.answer(live) is None
    message = str(player.miss(live, call=1))
    assert message.startswith("snapshots/t/test_a.cassette.json: model call #1 (openai, POST")
    assert "nearest recorded request: interaction #1" in message
    assert "  messages[1].content: 'a' -> 'b'" in message
    assert "  - temperature: 0.2" in message
    assert "never calls the real model" in message and message.endswith("RERECORD")
    assert isinstance(player.miss(live, call=1), CassetteMiss)


def test_request_diff_reports_added_items_and_the_stream_flag() -> None:
    rules = CassetteRules()
    a = _req(rules, _chat("a"))
    b = _req(rules, _chat("a", "more", stream=True))
    assert request_diff(a, b) == [
        "stream: False -> True",
        "+ messages[1]: {'role': 'user', 'content': 'more'}",
    ]


def _doc(interactions: list[object], version: object = CASSETTE_FORMAT) -> bytes:
    return orjson.dumps(
        {"agentrig": {"cassette": version}, "name": "t", "interactions": interactions}
    )


GOOD = orjson.loads(
    dumps_cassette("t", [Interaction(_req(CassetteRules(), _chat("a")), _reply("ok"))])
)["interactions"][0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"agentrig": {"cassette": 1}, "name": "t", "interac', "is not valid JSON"),
        (b"[]", "is not an agentrig cassette"),
        (orjson.dumps({"agentrig": {"format": 1}}), "is not an agentrig cassette"),
        (_doc([GOOD, {**GOOD, "latency": -1}]), "interaction #1: latency must be a non-negative"),
        (
            _doc([{**GOOD, "response": {**GOOD["response"], "status": "200"}}]),
            "#0: response.status",
        ),
        (_doc([{**GOOD, "request": {**GOOD["request"], "stream": "yes"}}]), "#0: request.stream"),
        (_doc([GOOD, GOOD, "x"]), "interaction #2: must be an object"),
    ],
)
def test_a_corrupt_or_hand_broken_cassette_is_refused_naming_file_and_interaction(
    data: bytes, message: str
) -> None:
    with pytest.raises(CassetteError, match=re.escape(message)) as info:
        load_cassette(data, source="snapshots/t/test_a.cassette.json")
    assert str(info.value).startswith("snapshots/t/test_a.cassette.json")
    assert "re-record" in str(info.value) or "delete it" in str(info.value)


def test_a_cassette_from_a_future_version_says_so() -> None:
    with pytest.raises(
        CassetteFormatError,
        match="cassette format 7, this agentrig reads format 1;"
        " it was written by a newer agentrig: upgrade agentrig",
    ):
        load_cassette(_doc([], version=7), source="c.json")


def test_a_hand_edited_secret_is_refused_naming_the_field() -> None:
    edited = orjson.loads(orjson.dumps(GOOD))
    edited["response"]["body"]["choices"][0]["message"]["content"] = f"here: {KEY}"
    with pytest.raises(CassetteError) as info:
        load_cassette(_doc([GOOD, edited]), source="c.cassette.json")
    text = str(info.value)
    assert (
        "interaction #1: response.body.choices[0].message.content holds what looks like a secret"
        in text
    )
    assert KEY not in text
    headers = orjson.loads(orjson.dumps(GOOD))
    headers["response"]["headers"]["authorization"] = "Bearer abcdefghijklmnopqrstuvwxyz"
    with pytest.raises(CassetteError, match=r"response\.headers\.authorization"):
        load_cassette(_doc([headers]), source="c.cassette.json")


def test_latency_is_quantized_half_up() -> None:
    assert CassetteRules().quantize(1.23) == 1.2
    assert CassetteRules().quantize(1.25) == 1.3
    assert CassetteRules().quantize(0.04) == 0.0
    assert CassetteRules(latency_quantum=0.5).quantize(1.3) == 1.5
    assert CassetteRules(latency_quantum=0).quantize(1.23456) == 1.235
    with pytest.raises(ConfigurationError, match="non-negative number of seconds"):
        CassetteRules(latency_quantum=-1)


def test_sse_streams_round_trip_through_their_events() -> None:
    wire = (
        b'event: message_start\ndata: {"type":"message_start",'
        b'"message":{"model":"claude-sonnet-4-5",'
        b'"usage":{"input_tokens":25,"output_tokens":1}}}\n\n'
        b": a comment\n\n"
        b'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":15}}\n\n'
        b"data: [DONE]\n\n"
    )
    events = parse_sse(wire)
    assert [e.event for e in events] == ["message_start", "message_delta", None]
    assert events[2].data == "[DONE]"
    assert parse_sse(b"".join(e.encode() for e in events)) == events
    inter = Interaction(
        Request("anthropic", "POST", "/v1/messages", True, {"model": "claude-sonnet-4-5"}),
        Response(200, {"content-type": "text/event-stream"}, events=events),
    )
    usage = inter.usage()
    assert (usage.model, usage.input_tokens, usage.output_tokens) == ("claude-sonnet-4-5", 25, 15)
    assert usage.usd == Decimal("0.003") * 25 / 1000 + Decimal("0.015") * 15 / 1000
    assert SseEvent(data={"a": 1}).encode() == b'data: {"a":1}\n\n'


def test_usage_of_a_plain_reply_is_priced_by_the_longest_known_model_prefix() -> None:
    usage = Interaction(_req(CassetteRules(), _chat("a")), _reply("ok")).usage()
    assert usage.model == "gpt-4o-mini-2024-07-18"
    assert usage.usd == (Decimal("0.00015") * 10 + Decimal("0.0006") * 5) / 1000
    unknown = Interaction(
        Request("openai", "POST", "/v1/chat/completions", False, {"model": "my-own"}),
        Response(200, body={"usage": {"prompt_tokens": 3, "completion_tokens": 4}}),
    ).usage()
    assert (unknown.model, unknown.usd) == ("my-own", None)
