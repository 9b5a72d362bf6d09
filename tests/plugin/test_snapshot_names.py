"""How snapshot files are named: safe, unambiguous, stable, and related back to their test."""

from __future__ import annotations

import pytest

from agentrig.snapshot_files import (
    RECEIVED_SUFFIX,
    base_candidates,
    file_stem,
    is_snapshot_file,
    nodeid_parts,
    received_path,
    safe_component,
)


@pytest.mark.parametrize("text", ["gpt-4o", "a_b", "ok-1.5", "x=1,y=2", "f(x)", "a+b@c", "..."])
def test_safe_text_is_kept_as_is(text: str) -> None:
    assert safe_component(text) == text


@pytest.mark.parametrize(
    "text",
    ["a/b", "a\\b", "../../etc", "nul\x00", "tab\there", "Ünï", "[x]", "a~b", "a b", "." * 81],
)
def test_unsafe_text_is_replaced_and_hashed(text: str) -> None:
    safe = safe_component(text)
    assert safe != text
    assert "~" in safe and len(safe.rsplit("~", 1)[1]) == 10
    assert not any(ch in safe for ch in "/\\\x00\t []")
    assert len(safe) <= 80


def test_sanitizing_never_makes_two_ids_collide() -> None:
    ids = ["a/b", "a_b", "a\\b", "a:b", "a b", "a_b~0", "x" * 300, "x" * 301]
    assert len({safe_component(i) for i in ids}) == len(ids)


def test_names_are_stable_across_processes() -> None:
    assert safe_component("a/b") == "a_b~c14cddc033"


def test_node_ids_split_into_file_head_and_parametrize_id() -> None:
    assert nodeid_parts("tests/t.py::test_x") == ("tests/t.py", "test_x", None)
    assert nodeid_parts("tests/t.py::TestA::TestB::test_x[1-a]") == (
        "tests/t.py",
        "TestA.TestB.test_x",
        "1-a",
    )
    assert nodeid_parts("t.py::test_p[a::b]") == ("t.py", "test_p", "a::b")


def test_stems_follow_syrupys_naming_convention() -> None:
    assert file_stem("test_x", None, 0) == "test_x"
    assert file_stem("test_x", None, 2) == "test_x.2"
    assert file_stem("test_x", None, "draft") == "test_x[draft]"
    assert file_stem("TestA.test_x", "1", "draft") == "TestA.test_x[1][draft]"
    assert file_stem("test_x", "a/b", 0) == "test_x[a_b~c14cddc033]"


@pytest.mark.parametrize(
    ("stem", "bases"),
    [
        ("test_x", ("test_x",)),
        ("test_x.3", ("test_x",)),
        ("TestA.test_x.1", ("TestA.test_x",)),
        ("test_x[draft]", ("test_x", "test_x[draft]")),
        ("test_p[1][draft]", ("test_p", "test_p[1]")),
        ("test_p[0.5].2", ("test_p", "test_p[0.5]")),
    ],
)
def test_a_stem_relates_back_to_the_tests_that_can_own_it(stem: str, bases: tuple[str]) -> None:
    assert base_candidates(stem) == bases


def test_received_files_are_not_snapshots() -> None:
    assert is_snapshot_file("test_x.json")
    assert not is_snapshot_file("test_x" + RECEIVED_SUFFIX)
    assert not is_snapshot_file(".test_x.json.123.abcd.tmp")
    assert not is_snapshot_file(".hidden.json")
    assert received_path("/s/test_x[1].json") == "/s/test_x[1].received.json"
