"""Hostile test names and parametrize ids: no path escapes the snapshot root, no two collide.

Ids and snapshot names with ``/``, ``\\``, ``..``, NUL, brackets, a leading dot, unicode,
hundreds of characters or an API key; test functions with 250-character or unicode names;
test files in folders with brackets and spaces. Every snapshot lands in its own file under
``snapshots/``, every file name fits in 255 bytes, re-running and re-recording change nothing,
subset runs report nothing unused, and a skipped test keeps its snapshots.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reliability_kit import Rig, assert_nothing_unused

from agentrig.snapshot_files import base_candidates, file_stem, nodeid_parts, safe_component

LONG = "test_" + "long" * 62  # 253 characters: cut to 200 bytes and hashed
MIDDLE = "test_" + "middle" * 25  # 155 characters: kept, its id and name get shorter budgets
SECRET = "sk-live0123456789abcdefXYZ"

IDS = [
    "a/b",
    "a_b",
    "a\\b",
    "..",
    "../../../../etc/passwd",
    "/abs/path",
    "nul\x00byte",
    "[x]",
    "][",
    ".hidden",
    "Ünïcødé 日本語",
    "emoji 🤖",
    "x" * 300,
    "x" * 301,
    "",
    " ",
    "CON",
    SECRET,
    "password=hunter2",
]

NAMES = ["../../escape", "/etc/passwd", "a/b\x00", "日本", "n" * 100, "draft"]

MODULE = f"""
import os

import pytest

SKIP = os.environ.get("AGENTRIG_TEST_SKIP") == "1"
IDS = {IDS!r}
NAMES = {NAMES!r}


def _record(decision_log, value):
    decision_log.record(decision="d", value=value)


@pytest.mark.parametrize("value", IDS, ids=IDS)
def test_ids(agent_recording, agent_snapshot, decision_log, value):
    _record(decision_log, value)
    assert agent_recording == agent_snapshot


def test_names(agent_recording, agent_snapshot, decision_log):
    for name in NAMES:
        _record(decision_log, name)
        assert agent_recording == agent_snapshot(name=name)


def test_ünïcode_日本(agent_recording, agent_snapshot, decision_log):
    _record(decision_log, "unicode")
    assert agent_recording == agent_snapshot


@pytest.mark.skipif(SKIP, reason="skipped on purpose")
def {LONG}(agent_recording, agent_snapshot, decision_log):
    _record(decision_log, "long")
    assert agent_recording == agent_snapshot
    assert agent_recording == agent_snapshot(name="x" * 50)


@pytest.mark.skipif(SKIP, reason="skipped on purpose")
@pytest.mark.parametrize("value", ["p" * 120])
def {MIDDLE}(agent_recording, agent_snapshot, decision_log, value):
    _record(decision_log, value)
    assert agent_recording == agent_snapshot
    assert agent_recording == agent_snapshot(name="n" * 60)


class TestNested:
    @pytest.mark.parametrize("value", ["a/b"])
    def test_ids(self, agent_recording, agent_snapshot, decision_log, value):
        _record(decision_log, "nested " + value)
        assert agent_recording == agent_snapshot
"""

ODD = """
def test_odd(agent_recording, agent_snapshot, decision_log):
    decision_log.record(decision="odd")
    assert agent_recording == agent_snapshot
"""

#: snapshot assertions in MODULE and ODD
ASSERTIONS = len(IDS) + len(NAMES) + 1 + 2 + 2 + 1 + 1
TESTS = len(IDS) + 1 + 1 + 1 + 1 + 1 + 1


def _project(rig: Rig) -> None:
    rig.configure(
        # Give ids to agentrig unescaped (pytest escapes NUL and non-ASCII by default).
        "disable_test_id_escaping_and_forfeit_all_rights_to_community_support = true"
    )
    rig.write("tests/test_names.py", MODULE)
    rig.write("tests/[odd] dir/test_odd[1].py", ODD)


def _all_files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_hostile_names_each_get_their_own_file_inside_the_snapshot_root(rig: Rig) -> None:
    _project(rig)
    before = _all_files(rig.path)

    rig.run("--snapshot-update").assert_outcomes(passed=TESTS)

    created = _all_files(rig.path) - before
    assert all(path.startswith("snapshots/") for path in created), created
    files = rig.files()
    assert len(files) == ASSERTIONS  # one file per assertion: nothing collided
    for rel in files:
        name = rel.rsplit("/", 1)[1]
        received = name[: -len(".json")] + ".received.json"
        assert len(os.fsencode(received)) <= 255, name
        assert "\x00" not in rel and "\\" not in rel
        assert SECRET not in rel and "hunter2" not in rel
    for data in files.values():
        assert SECRET.encode() not in data and b"hunter2" not in data
    assert "tests/[odd] dir/test_odd[1]/test_odd.json" in files
    assert "tests/test_names/test_ids[a_b].json" in files
    assert "tests/test_names/test_ids[..].json" in files
    assert any(name.startswith(f"tests/test_names/{MIDDLE}[") for name in files)
    assert any(name.startswith(f"tests/test_names/{LONG[:150]}") for name in files)


def test_hostile_names_rerun_and_rerecord_without_change_or_unused_snapshots(rig: Rig) -> None:
    _project(rig)
    rig.run("--snapshot-update").assert_outcomes(passed=TESTS)
    first = rig.files()

    result = rig.run()
    result.assert_outcomes(passed=TESTS)
    assert result.ret == 0
    assert_nothing_unused(result)
    again = rig.run("--snapshot-update")
    again.assert_outcomes(passed=TESTS)
    assert_nothing_unused(again)

    assert rig.files() == first


def test_a_subset_run_of_one_hostile_id_reports_nothing_unused(rig: Rig) -> None:
    _project(rig)
    rig.run("--snapshot-update").assert_outcomes(passed=TESTS)
    first = rig.files()

    one = rig.run("tests/test_names.py::test_ids[a/b]")
    keyword = rig.run("-k", "test_ids and not Nested")
    updated = rig.run("--snapshot-update", "tests/test_names.py::test_ids[..]")

    one.assert_outcomes(passed=1)
    keyword.assert_outcomes(passed=len(IDS))
    updated.assert_outcomes(passed=1)
    for result in (one, keyword, updated):
        assert result.ret == 0
        assert_nothing_unused(result)
    assert rig.files() == first


def test_skipped_tests_with_very_long_names_keep_their_snapshots(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(rig)
    rig.run("--snapshot-update").assert_outcomes(passed=TESTS)
    first = rig.files()
    monkeypatch.setenv("AGENTRIG_TEST_SKIP", "1")

    plain = rig.run()
    updated = rig.run("--snapshot-update")

    plain.assert_outcomes(passed=TESTS - 2, skipped=2)
    updated.assert_outcomes(passed=TESTS - 2, skipped=2)
    assert plain.ret == 0
    assert_nothing_unused(plain)
    assert_nothing_unused(updated)
    assert rig.files() == first


# -- the naming functions, for any text -------------------------------------------------------

_SAFE = set(string.ascii_letters + string.digits + "_-.,=+@()~")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_id_becomes_a_safe_bounded_component(text: str) -> None:
    safe = safe_component(text)
    assert set(safe) <= _SAFE
    assert 0 < len(safe) <= 80 or (text == "" and safe == "")
    assert safe_component(text) == safe


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120), st.text(max_size=120))
def test_two_different_ids_never_share_a_component(a: str, b: str) -> None:
    if a != b:
        assert safe_component(a) != safe_component(b)


_IDENT = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,300}", fullmatch=True) | st.from_regex(
    r"[a-zé日_][a-zé日0-9_]{0,150}", fullmatch=True
)


@settings(max_examples=300, deadline=None)
@given(
    head=st.lists(_IDENT, min_size=1, max_size=3).map(".".join),
    param=st.none() | st.text(max_size=300),
    index=st.integers(0, 9999) | st.text(max_size=300),
)
def test_every_stem_fits_a_file_name_and_relates_back_to_its_test(
    head: str, param: str | None, index: int | str
) -> None:
    stem = file_stem(head, param, index)
    base = file_stem(head, param, 0)
    assert len((stem + ".received.json").encode("utf-8")) <= 255
    assert "/" not in stem and "\\" not in stem and "\x00" not in stem
    assert base in base_candidates(stem)


def test_node_ids_with_brackets_in_the_path_split_at_the_first_double_colon() -> None:
    assert nodeid_parts("tests/[odd] dir/test_odd[1].py::test_odd") == (
        "tests/[odd] dir/test_odd[1].py",
        "test_odd",
        None,
    )
    assert nodeid_parts("t[1].py::TestA::test_x[a::b]") == ("t[1].py", "TestA.test_x", "a::b")
