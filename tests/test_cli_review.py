"""``agentrig review``: one drifted snapshot at a time, keys on stdin; --accept / --reject."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from agentrig.cli import main

APP = """
import pytest

REPLY = {reply!r}


@pytest.mark.parametrize("who", ["a", "b", "c"])
async def test_agent(fake_model, agent_recording, agent_snapshot, who):
    await fake_model.agent(who, reply=REPLY + who).run("hi")
    assert agent_recording == agent_snapshot
"""
INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
QUICK = ("-p", "no:randomly", "-p", "no:hypothesispytest")


def snap(who: str) -> Path:
    return Path(f"snapshots/tests/test_review_app/test_agent[{who}].json")


def received(who: str) -> Path:
    return Path(f"snapshots/tests/test_review_app/test_agent[{who}].received.json")


@pytest.fixture
def drifted(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("CI", raising=False)
    pytester.makeini(INI)
    tests = pytester.mkdir("tests")
    (tests / "test_review_app.py").write_text(APP.format(reply="old "), encoding="utf-8")
    pytester.runpytest(*QUICK, "--snapshot-update").assert_outcomes(passed=3)
    (tests / "test_review_app.py").write_text(APP.format(reply="new reply "), encoding="utf-8")
    pytester.runpytest(*QUICK).assert_outcomes(failed=3)
    return pytester


def _keys(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def test_review_walks_each_drift_with_its_roots_and_obeys_the_keys(
    drifted: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {w: snap(w).read_bytes() for w in "abc"}
    _keys(monkeypatch, "a\nx\nr\ns\n")
    assert main(["review"]) == 0
    out = capsys.readouterr().out
    assert "[1/3] snapshots/tests/test_review_app/test_agent[a].json" in out
    assert "(tests/test_review_app.py::test_agent[a])" in out
    assert "agentrig drift: 1 root change (text 1)" in out
    assert "[text] chat fake-model · agentrig.reply: 'old a' → 'new reply a'" in out
    assert "unknown key 'x'" in out
    assert "reviewed 3 of 3: 1 accepted, 1 rejected, 1 left for later" in out
    assert snap("a").read_bytes() != before["a"] and not received("a").exists()
    assert snap("b").read_bytes() == before["b"] and not received("b").exists()
    assert snap("c").read_bytes() == before["c"] and received("c").exists()
    result = drifted.runpytest(*QUICK)
    result.assert_outcomes(passed=1, failed=2)  # a accepted; b rejected; c skipped


def test_quit_and_end_of_input_stop_the_walk(
    drifted: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _keys(monkeypatch, "s\nq\n")
    assert main(["review"]) == 0
    assert "reviewed 1 of 3: 0 accepted, 0 rejected, 3 left for later" in capsys.readouterr().out
    _keys(monkeypatch, "")
    assert main(["review"]) == 0
    assert "reviewed 0 of 3" in capsys.readouterr().out
    assert all(received(w).exists() for w in "abc")


@pytest.mark.parametrize("flag", ["--accept", "--reject"])
def test_accept_or_reject_everything_without_asking(
    drifted: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: str,
) -> None:
    _keys(monkeypatch, "")  # nothing is read
    assert main(["review", flag]) == 0
    out = capsys.readouterr().out
    word = "accepted" if flag == "--accept" else "rejected"
    assert f"3 {word}" in out and "accept (a)" not in out
    assert not any(received(w).exists() for w in "abc")
    outcome = drifted.runpytest(*QUICK)
    if flag == "--accept":
        outcome.assert_outcomes(passed=3)
    else:
        outcome.assert_outcomes(failed=3)


def test_review_skips_stale_received_files_naming_how_to_refresh_them(
    drifted: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = [f"tests/test_review_app.py::test_agent[{w}]" for w in "ab"]
    drifted.runpytest(*QUICK, *ids).assert_outcomes(failed=2)  # c is now stale
    _keys(monkeypatch, "s\ns\n")
    assert main(["review"]) == 0
    out = capsys.readouterr().out
    assert "stale     snapshots/tests/test_review_app/test_agent[c].received.json" in out
    assert "re-run `pytest 'tests/test_review_app.py::test_agent[c]'`" in out
    assert "reviewed 2 of 2" in out


def test_nothing_to_review(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makeini(INI)
    pytester.mkdir("snapshots")
    assert main(["review"]) == 0
    assert "nothing to review" in capsys.readouterr().out
