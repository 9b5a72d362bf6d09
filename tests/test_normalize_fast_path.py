"""The normalization fast path (``agentrig.normalize.scrub.FAST_PATH``) changes no byte.

Dicts of plain scalars take a tight loop (``Scrubber.flat``) and text a single C search that
returns clean text untouched; the plain walk stays callable (``FAST_PATH = False``) so that
these properties can compare the two on generated recordings: strings with and without UUIDs,
timestamps, secrets, temp paths and addresses, every kind of float and int, nested containers,
keys that classify, keys that are not strings, and values JSON cannot hold.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentrig import RecordingError
from agentrig._secrets import _TOKEN_MARKERS, TOKEN_MARKER_RE, user_patterns
from agentrig.normalize import NormalizeRules, dumps, normalize
from agentrig.normalize import scrub as scrub_module
from agentrig.normalize.rules import DEFAULT_RULES
from agentrig.normalize.scrub import Scrubber
from agentrig.recording import SpanEvent, SpanRecord


@contextmanager
def plain_walk() -> Iterator[None]:
    """Normalization without its fast paths, for the block."""
    scrub_module.FAST_PATH = False
    try:
        yield
    finally:
        scrub_module.FAST_PATH = True


def outcome(recording: Any, rules: NormalizeRules | None) -> bytes | str:
    """The document's bytes, or the error a user would read."""
    try:
        return dumps(normalize(recording, rules=rules))
    except RecordingError as exc:
        return f"{type(exc).__name__}: {exc}"


def both(recording: Any, rules: NormalizeRules | None = None) -> tuple[bytes | str, bytes | str]:
    fast = outcome(recording, rules)
    with plain_walk():
        plain = outcome(recording, rules)
    return fast, plain


# --- values ---------------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    ONE = 1


class Word(str):
    """A str subclass: keys and values of it are not plain ``str``."""


class Number(int):
    pass


@dataclasses.dataclass
class Doc:
    title: str
    pages: int


class Opaque:
    """An object JSON cannot hold; its default repr carries an address."""


class Broken:
    """A dataclass-like object whose field raises when read."""

    @property
    def model_dump(self) -> Any:
        raise RuntimeError("cannot read sk-abcdefgh12345678")


_FRAGMENTS = [
    "agent_00002",
    "What changed this year?",
    " found 3 sources",
    "sk-abcdefgh12345678",
    "ghp_" + "A" * 20,
    "AKIA" + "B" * 16,
    "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.sig",
    "Bearer abc.def-123",
    "the bearer of bad news",
    "password=hunter2",
    "api_key: 'abc'",
    "Authorization: Basic dXNlcjpw",
    "postgres://app:s3cr3t@db/app",
    "max_tokens=100",
    "key points: a, b",
    "123e4567-e89b-12d3-a456-426614174000",
    "123E4567-E89B-12D3-A456-426614174000",
    "<uuid:3>",
    "2026-12-01T16:00:00Z",
    "2026-12-01 16:00",
    "/tmp/pytest-of-root/pytest-7/test_x0/out.json",
    "C:\\Users\\me\\pytest-of-me\\pytest-current\\x",
    "<Doc object at 0x7f3a12345678>",
    "paid at 0x5290 today",
    "café ☕",
    "\ud800",
    "line one\nline two",
    "a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q-r-s",
    "acct-123456",
    ":",
    "=",
    "-",
    "",
]
TEXT = st.one_of(
    st.lists(st.sampled_from(_FRAGMENTS), max_size=4).map("".join),
    st.lists(st.sampled_from(_FRAGMENTS), max_size=3).map(" ".join),
    st.text(max_size=40),
    st.text(alphabet="abcdef0123456789-:=_ ", max_size=60),
)
_KEYS = [
    "tool.name",
    "tool.query",
    "tool.score",
    "hits",
    "gen_ai.agent.name",
    "gen_ai.usage.input_tokens",
    "gen_ai.system",
    "access_token",
    "tokenizer",
    "password",
    "api_key",
    "Authorization",
    "created_at",
    "updated",
    "ts",
    "wall",
    "wall_start",
    "exception.stacktrace",
    "request_id",
    "session",
    "note",
    "123e4567-e89b-12d3-a456-426614174000",
    "<uuid:1>",
    "sk-abcdefgh12345678",
]
KEY = st.one_of(st.sampled_from(_KEYS), st.text(max_size=12))
FLOAT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 0.125, 8.25e-05, 1 / 3, 12345.67, 1.7e9, 1.7e12, 9e8, 1e16]),
)
INT = st.one_of(
    st.integers(-1000, 1000),
    st.sampled_from([946_684_800, 1_700_000_000, 1_700_000_000_000, 1_700_000_000_000_000]),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30]),
    st.integers(),
)
SCALAR = st.one_of(TEXT, INT, FLOAT, st.booleans(), st.none())
ODD = st.one_of(
    st.binary(max_size=4),
    st.sampled_from(
        [
            Color.RED,
            Color.ONE,
            uuid.UUID(int=7),
            datetime.datetime(2026, 1, 1, 12, 0),
            datetime.date(2026, 1, 1),
            Doc("t", 3),
            Opaque(),
            Broken(),
            frozenset({"b", "a"}),
            ValueError("boom sk-abcdefgh12345678"),
            Word("a word"),
            Number(5),
            len,
        ]
    ),
)
ODD_KEY = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([1.5, None, True, Color.RED, ("a", 1), Word("tool.name"), Word("password")]),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(KEY, children, max_size=3),
        st.dictionaries(ODD_KEY, children, max_size=2),
    )


VALUE = st.recursive(st.one_of(SCALAR, ODD), _containers, max_leaves=8)
#: Attribute dicts: mostly flat dicts of scalars (what the fast path takes), some not.
ATTRS = st.one_of(
    st.dictionaries(KEY, SCALAR, max_size=6),
    st.dictionaries(KEY, VALUE, max_size=4),
    st.dictionaries(st.one_of(KEY, ODD_KEY), st.one_of(SCALAR, ODD), max_size=4),
)
RULES = st.sampled_from(
    [
        None,
        NormalizeRules(drop=["request_id"], mask=["session", "note"]),
        NormalizeRules(redact=[r"acct-\d{6}"]),
        NormalizeRules(drop=["spans.*.attributes.tool.query"], mask=["spans.*.events.*.*"]),
        NormalizeRules(keep=["uuids", "timestamps", "epoch_numbers"], float_digits=3),
    ]
)


@st.composite
def recordings(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 6))
    spans = []
    for i in range(n):
        start = draw(
            st.sampled_from([0.0, 0.5, 1.0, None, -0.0, 1, float("nan"), float("inf"), 1e10])
        )
        spans.append(
            {
                "span_id": i + 1,
                "parent_id": draw(st.sampled_from([None, *range(1, i + 1)])) if i else None,
                "name": draw(st.sampled_from(["tool.call", "chat fake-model", "invoke_agent a"])),
                "seq": i,
                "end_seq": i + draw(st.integers(0, 4)),
                "start": start,
                "end": None if start is None else start + draw(st.sampled_from([0.0, 0.5, 1e-7])),
                "attributes": draw(ATTRS),
                "events": [
                    {"name": draw(TEXT), "t": start, "attributes": draw(ATTRS)}
                    for _ in range(draw(st.integers(0, 2)))
                ],
                "status": draw(st.sampled_from(["unset", "ok", "error"])),
                "status_message": draw(st.one_of(st.none(), TEXT)),
                "error": draw(st.one_of(st.none(), ATTRS)),
            }
        )
    entries = [
        {"seq": 10 + j, "t": 0.0, "kind": "decision", "span_id": 1, "data": draw(ATTRS)}
        for j in range(draw(st.integers(0, 2)))
    ]
    return {"name": "fast-path", "spans": spans, "entries": entries}


_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Whole recordings cost more per example (two normalizations each).
_RECORDING_SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@_RECORDING_SETTINGS
@given(recording=recordings(), rules=RULES)
def test_property_fast_path_and_plain_walk_give_identical_bytes(
    recording: dict[str, Any], rules: NormalizeRules | None
) -> None:
    fast, plain = both(recording, rules)
    assert fast == plain


@_RECORDING_SETTINGS
@given(recording=recordings())
def test_property_fast_path_matches_under_session_secret_patterns(
    recording: dict[str, Any],
) -> None:
    # A session's agentrig_secret_patterns may match any text: clean-looking text included.
    with user_patterns((re.compile("found"), re.compile(r"agent_\d+"))):
        fast, plain = both(recording)
    assert fast == plain


@_SETTINGS
@given(attributes=st.dictionaries(KEY, SCALAR, max_size=8), rules=RULES)
def test_property_flat_gives_what_the_full_walk_gives(
    attributes: dict[str, Any], rules: NormalizeRules | None
) -> None:
    fast = Scrubber(rules or DEFAULT_RULES)
    with plain_walk():
        plain = Scrubber(rules or DEFAULT_RULES)
    assert plain.flat is None
    walked = plain.top(attributes, None)
    if fast.flat is None:  # path rules: the full walk only
        assert rules is not None and rules.drop[0].startswith("spans.")
        return
    done = fast.flat(attributes)
    if done is not None:  # None: a key that classifies; top() walks it in full
        assert done == walked
        assert list(done) == list(walked)
        assert [type(v) for v in done.values()] == [type(v) for v in walked.values()]
    assert fast.top(attributes, None) == walked


@_SETTINGS
@given(text=TEXT)
def test_property_clean_text_scan_changes_nothing_the_full_scan_would_change(text: str) -> None:
    fast = Scrubber(DEFAULT_RULES)
    with plain_walk():
        plain = Scrubber(DEFAULT_RULES)
    assert fast.text(text) == plain.text(text)
    assert fast.string(text) == plain.string(text)


@settings(max_examples=500, deadline=None)
@given(
    text=st.lists(st.one_of(st.sampled_from(_TOKEN_MARKERS), st.text(max_size=6)), max_size=5).map(
        "".join
    )
)
def test_property_the_marker_trie_finds_exactly_the_markers(text: str) -> None:
    assert bool(TOKEN_MARKER_RE.search(text)) == any(m in text for m in _TOKEN_MARKERS)


# --- the fast path is really taken (so the properties above compare two paths) ---------------


def test_a_dict_of_scalars_is_not_walked_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    def full_walk(*args: object) -> object:
        raise AssertionError("the full walk ran")  # (top() reports it as a RecordingError)

    scrubber = Scrubber(DEFAULT_RULES)
    monkeypatch.setattr(Scrubber, "mapping", full_walk)
    attributes = {"tool.name": "search_0", "tool.score": 0.125, "hits": 3, "ok": True}
    assert scrubber.top(attributes, None) == attributes
    with pytest.raises(RecordingError, match="the full walk ran"):
        scrubber.top({"password": "hunter2"}, None)  # a key that classifies
    with pytest.raises(RecordingError, match="the full walk ran"):
        scrubber.top({"nested": {"a": 1}}, None)
    with plain_walk(), pytest.raises(RecordingError, match="the full walk ran"):
        Scrubber(DEFAULT_RULES).top(attributes, None)


def test_clean_text_skips_the_pattern_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    def full_scan(*args: object) -> str:
        raise AssertionError("the full scan ran")

    monkeypatch.setattr(scrub_module, "_normalize_text", full_scan)
    assert Scrubber(DEFAULT_RULES).text("agent_00002 found 2 sources") == (
        "agent_00002 found 2 sources"
    )
    for needs_work in ("status: ok, ready", "sk-abcdefgh12345678 x", "123e4567-e89b-12d3-a456-"):
        with pytest.raises(AssertionError, match="the full scan ran"):
            Scrubber(DEFAULT_RULES).text(needs_work + "426614174000")
    with pytest.raises(AssertionError, match="the full scan ran"):  # user rules: always
        Scrubber(NormalizeRules(redact=["found"])).text("agent_00002 found 2 sources")
    with user_patterns(()):  # a session without agentrig_secret_patterns
        assert Scrubber(DEFAULT_RULES).text("agent_00003 found 3 sources")
    with (
        user_patterns((re.compile("found"),)),
        pytest.raises(AssertionError, match="the full scan ran"),
    ):
        Scrubber(DEFAULT_RULES).text("agent_00004 found 4 sources")


def test_recording_objects_take_the_fast_path_and_match_the_plain_walk() -> None:
    spans = [
        SpanRecord(
            span_id=i + 1,
            parent_id=None if i == 0 else 1,
            name="invoke_workflow broadcast" if i == 0 else "tool.call",
            seq=i,
            start=0.0 if i == 0 else 0.5 * (i - 1),
            end=5.0 if i == 0 else 0.5 * i,
            end_seq=100 + i,
            attributes={"tool.name": f"search_{i}", "tool.score": i / 8, "tool.results": 3 * i},
            events=[SpanEvent("tool.result", 0.5 * i, {"hits": i, "source": "index-0"})],
            task=1,
        )
        for i in range(12)
    ]
    recording = {"name": "objects", "spans": spans, "entries": []}
    fast, plain = both(recording)
    assert isinstance(fast, bytes) and fast == plain
    assert b'"search_3"' in fast and b'"tool.score": 0.375' in fast
