"""Broken snapshot files: every one gives a clear agentrig error naming the file and the fix.

Truncated, empty, not JSON, JSON of the wrong shape, a future or past format version, UTF-16,
bytes that are not UTF-8, a folder where the file should be, and a 50 MB file: reading one
never crashes pytest, never prints a memory address, and says what to do. A byte-order mark
and CRLF line endings (a Windows checkout) are read as the same snapshot.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from reliability_kit import Rig, assert_clean

from agentrig import SnapshotError, SnapshotFormatError
from agentrig.cli import main
from agentrig.drift import compare
from agentrig.normalize import dumps, loads, normalize

GOOD = dumps(
    normalize(
        {
            "name": "t",
            "spans": [{"span_id": 1, "name": "pipeline", "seq": 1, "end_seq": 3, "start": 0.0}],
            "entries": [{"seq": 2, "t": 0.0, "kind": "decision", "data": {"decision": "go"}}],
        }
    )
)


def _with_header(fmt: object) -> bytes:
    doc = json.loads(GOOD)
    doc["agentrig"] = {"format": fmt}
    return json.dumps(doc).encode()


#: name -> (how to break a good file, the error it must give)
BROKEN: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "truncated": (lambda b: b[: len(b) // 2], "is not valid JSON"),
    "empty": (lambda b: b"", "is not valid JSON"),
    "not_json": (lambda b: b"hello, I am not JSON\n", "is not valid JSON"),
    "binary": (lambda b: b"\x80\x81\xfe\x00garbage", "is not valid JSON"),
    "top_list": (lambda b: b"[1, 2, 3]", "the top level is a list"),
    "no_header": (lambda b: b'{"timeline": []}', 'no {"agentrig": {"format": ...}} header'),
    "no_timeline": (lambda b: b'{"agentrig": {"format": 1}}', "has no 'timeline' list"),
    "bad_item": (
        lambda b: b'{"agentrig": {"format": 1}, "timeline": [42]}',
        "timeline[0] is a int, not a span or an entry",
    ),
    "bad_attributes": (
        lambda b: b'{"agentrig": {"format": 1}, "timeline": [{"span": "s", "attributes": []}]}',
        "timeline[0].attributes is not a dict",
    ),
    "future": (lambda b: _with_header(99), "has snapshot format 99, this agentrig reads format 1"),
    "past": (lambda b: _with_header(0), "written by an older agentrig"),
    "version_text": (lambda b: _with_header("1"), "unreadable format version '1'"),
    "utf16": (lambda b: b.decode().encode("utf-16"), "is UTF-16 encoded"),
}

#: name -> how to re-encode a good file; each reads as the very same snapshot.
EQUIVALENT: dict[str, Callable[[bytes], bytes]] = {
    "bom": lambda b: b"\xef\xbb\xbf" + b,
    "crlf": lambda b: b.replace(b"\n", b"\r\n"),
    "bom_crlf": lambda b: b"\xef\xbb\xbf" + b.replace(b"\n", b"\r\n"),
}


# -- loads(): the one reader of snapshot files ------------------------------------------------


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_loads_names_the_file_and_the_fix_for_each_broken_file(case: str) -> None:
    breaker, message = BROKEN[case]
    with pytest.raises(SnapshotError, match=r"snapshots/t\.json") as info:
        loads(breaker(GOOD), source="snapshots/t.json")
    text = str(info.value)
    assert message in text
    assert "agentrig update" in text
    assert_clean(text)


def test_a_snapshot_of_another_format_version_is_a_snapshot_format_error() -> None:
    for fmt, hint in ((99, "upgrade agentrig"), (0, "re-record with `agentrig update`")):
        with pytest.raises(SnapshotFormatError, match=hint):
            loads(_with_header(fmt), source="x.json")


@pytest.mark.parametrize("case", sorted(EQUIVALENT))
def test_a_byte_order_mark_and_crlf_endings_read_as_the_same_snapshot(case: str) -> None:
    doc = loads(EQUIVALENT[case](GOOD), source="x.json")
    assert dumps(doc) == GOOD
    assert not compare(doc, loads(GOOD)).changes


def _big_document(megabytes: int) -> bytes:
    doc = json.loads(GOOD)
    doc["timeline"][0]["attributes"] = {"payload": "x" * (megabytes * 1024 * 1024)}
    return dumps(doc)


def test_a_50_mb_snapshot_is_compared_in_bounded_time_with_a_bounded_report() -> None:
    data = _big_document(50)
    assert len(data) > 50 * 1024 * 1024
    started = time.perf_counter()
    report = compare(loads(data, source="big.json"), loads(GOOD))
    text = report.render()
    elapsed = time.perf_counter() - started
    assert [(c.drift_class, c.field) for c in report.changes] == [("text", "payload")]
    assert len(text) < 20_000  # a 50 MB value is quoted, not dumped
    assert elapsed < 10


def test_50_mb_of_garbage_is_refused_quickly_without_quoting_it() -> None:
    data = b"{" + b"x" * (50 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(SnapshotError, match="is not valid JSON") as info:
        loads(data, source="garbage.json")
    assert time.perf_counter() - started < 5
    assert len(str(info.value)) < 500


# -- the plugin: a session with one broken snapshot per test ----------------------------------

CASES = sorted(BROKEN) + sorted(EQUIVALENT) + ["folder"]

MODULE = f"""
import pytest

@pytest.mark.parametrize("case", {CASES!r})
def test_case(agent_recording, agent_snapshot, decision_log, case):
    decision_log.record(decision="route", to="billing")
    assert agent_recording == agent_snapshot
"""


def _snapshot_of(rig: Rig, case: str) -> Path:
    return rig.snapshot(f"tests/test_snaps/test_case[{case}].json")


def test_each_broken_snapshot_fails_its_test_with_the_file_and_the_command_that_repairs_it(
    rig: Rig,
) -> None:
    rig.write("tests/test_snaps.py", MODULE)
    rig.run("--snapshot-update").assert_outcomes(passed=len(CASES))
    for case, (breaker, _) in BROKEN.items():
        path = _snapshot_of(rig, case)
        path.write_bytes(breaker(path.read_bytes()))
    for case, encoder in EQUIVALENT.items():
        path = _snapshot_of(rig, case)
        path.write_bytes(encoder(path.read_bytes()))
    folder = _snapshot_of(rig, "folder")
    folder.unlink()
    (folder / "keep.txt").parent.mkdir()
    (folder / "keep.txt").write_text("a folder where a snapshot file should be")

    result = rig.run("--agentrig-report=report.json")

    result.assert_outcomes(passed=len(EQUIVALENT), failed=len(BROKEN) + 1)
    report = json.loads((rig.path / "report.json").read_text())
    errors = {
        t["nodeid"].rsplit("[", 1)[1].rstrip("]"): t["snapshots"][0]["error"]
        for t in report["tests"]
    }
    expected = {case: message for case, (_, message) in BROKEN.items()}
    expected["folder"] = "it is a folder, not a file; move the folder away"
    assert set(errors) == set(expected)
    for case, message in expected.items():
        assert message in errors[case], (case, errors[case])
        assert f"snapshots/tests/test_snaps/test_case[{case}].json" in errors[case]
    out = result.stdout.str()
    for case in expected:
        assert f"pytest 'tests/test_snaps.py::test_case[{case}]' --snapshot-update" in out, case
    assert "agentrig cannot compare with snapshot" in out
    assert out.count("Traceback") == 0


def test_snapshot_update_repairs_every_broken_file_and_leaves_a_folder_alone(rig: Rig) -> None:
    rig.write("tests/test_snaps.py", MODULE)
    rig.run("--snapshot-update").assert_outcomes(passed=len(CASES))
    good = rig.files()
    for case, (breaker, _) in BROKEN.items():
        path = _snapshot_of(rig, case)
        path.write_bytes(breaker(path.read_bytes()))
    folder = _snapshot_of(rig, "folder")
    folder.unlink()
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")

    result = rig.run("--snapshot-update")

    result.assert_outcomes(passed=len(CASES) - 1, failed=1)
    result.stdout.fnmatch_lines(["*test_case[[]folder[]].json: it is a folder, not a file*"])
    assert (folder / "keep.txt").read_text() == "mine"
    repaired = rig.files()
    for case in BROKEN:
        key = f"tests/test_snaps/test_case[{case}].json"
        assert repaired[key] == good[key], case
    rig.run().assert_outcomes(passed=len(CASES) - 1, failed=1)


def test_a_50_mb_snapshot_drifts_with_a_short_report_in_the_terminal(rig: Rig) -> None:
    rig.write(
        "tests/test_big.py",
        """
def test_big(agent_recording, agent_snapshot, tracer):
    with tracer.span("pipeline") as span:
        span.set_attribute("payload", "y" * 1000)
    assert agent_recording == agent_snapshot
""",
    )
    rig.run("--snapshot-update").assert_outcomes(passed=1)
    path = rig.snapshot("tests/test_big/test_big.json")
    doc = json.loads(path.read_bytes())
    doc["timeline"][0]["attributes"]["payload"] = "x" * (50 * 1024 * 1024)
    path.write_bytes(dumps(doc))

    result = rig.run()

    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["*[[]text[]] pipeline * payload: 'xxxx*…' → 'yyyy*…'"])
    assert len(out) < 30_000
    assert len(rig.snapshot("tests/test_big/test_big.received.json").read_bytes()) < 10_000


# -- the command line: exit status 2 and one line on stderr ------------------------------------


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_cli_show_diff_and_accept_report_a_broken_file_in_one_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    breaker, message = BROKEN[case]
    (tmp_path / "good.json").write_bytes(GOOD)
    (tmp_path / "bad.json").write_bytes(breaker(GOOD))
    (tmp_path / "x.json").write_bytes(GOOD)
    (tmp_path / "x.received.json").write_bytes(breaker(GOOD))

    for argv in (["show", "bad.json"], ["diff", "good.json", "bad.json"], ["accept", "."]):
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert err.count("\n") == 0, err
        assert err.startswith(f"agentrig {argv[0]}: error: ")
        assert message in err
        assert_clean(captured.out + err)
    assert (tmp_path / "x.json").read_bytes() == GOOD  # accept moved nothing
