"""DecisionLog and read_decision_log, from a user's point of view."""

from __future__ import annotations

import asyncio
import gc
import threading
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from agentrig import ConfigurationError, DecisionLogError
from agentrig.clock import run
from agentrig.decisions import DecisionLog, DecisionLogContents, read_decision_log
from agentrig.recording import Recording

# The seed's module-level log, created at import time, long before any recording starts.
log = DecisionLog(path="pipeline_decisions.jsonl")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@dataclass
class Out:
    text: str
    tokens: int


# -- the seed usage -------------------------------------------------------------------------


def test_seed_snippet_appends_one_json_object_with_seq_and_time(tmp_path: Path) -> None:
    out = Out(text="notes", tokens=812)
    log = DecisionLog(path="pipeline_decisions.jsonl")
    entry = log.record(decision="stage_complete", stage="research", tokens=out.tokens)

    assert entry["seq"] == 1
    assert isinstance(entry["t"], float)
    raw = (tmp_path / "pipeline_decisions.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    assert raw.count(b"\n") == 1
    assert (
        orjson.loads(raw)
        == entry
        == {
            "seq": 1,
            "t": entry["t"],
            "decision": "stage_complete",
            "stage": "research",
            "tokens": 812,
        }
    )
    assert raw.index(b'"decision"') < raw.index(b'"seq"') < raw.index(b'"stage"')  # sorted
    log.close()


def test_the_module_level_log_reports_into_the_recording_and_writes_under_its_export_dir(
    tmp_path: Path,
) -> None:
    rec = Recording("test", export_dir=tmp_path / "export")
    with rec.activate():
        log.record(decision="stage_complete", stage="research", tokens=812)

    assert not (tmp_path / "pipeline_decisions.jsonl").exists()  # not in the working tree
    written = read_decision_log(tmp_path / "export" / "pipeline_decisions.jsonl")
    assert [(e["seq"], e["decision"]) for e in written.entries] == [(1, "stage_complete")]
    (entry,) = rec.entries
    assert entry.kind == "decision"
    assert entry.data == {
        "decision": "stage_complete",
        "stage": "research",
        "tokens": 812,
        "log": "pipeline_decisions.jsonl",
    }


def test_each_recording_gets_its_own_file_numbered_from_one(tmp_path: Path) -> None:
    shared = DecisionLog(path="d.jsonl", name="pipeline")
    for name in ("first", "second"):
        with Recording(name, export_dir=tmp_path / name).activate():
            shared.record(decision="a")
            shared.record(decision="b")
    for name in ("first", "second"):
        contents = read_decision_log(tmp_path / name / "d.jsonl")
        assert [(e["seq"], e["decision"]) for e in contents] == [(1, "a"), (2, "b")]
    assert len(shared.entries) == 4
    shared.close()


def test_log_read_reads_back_where_the_log_writes_now(tmp_path: Path) -> None:
    with DecisionLog(path="logs/d.jsonl") as dlog:
        rec = Recording("t", export_dir=tmp_path / "export")
        with rec.activate():
            dlog.record(decision="halt", reason="budget")
            assert dlog.current_path == tmp_path / "export" / "logs" / "d.jsonl"
            assert dlog.read().decisions == ["halt"]
        assert dlog.current_path == tmp_path / "logs" / "d.jsonl"
        assert dlog.read().entries == ()  # nothing written outside the recording


def test_t_is_the_virtual_loop_time() -> None:
    mem = DecisionLog()

    async def main() -> None:
        mem.record(decision="start")
        await asyncio.sleep(30)
        mem.record(decision="after_30s")

    run(main())
    assert [(e["decision"], e["t"]) for e in mem.entries] == [("start", 0.0), ("after_30s", 30.0)]


def test_a_memory_only_log_writes_no_file_and_reads_back_its_entries(tmp_path: Path) -> None:
    mem = DecisionLog()
    mem.record(decision="a", n=1)
    mem.record(decision="b")
    assert list(tmp_path.iterdir()) == []
    assert mem.current_path is None
    assert mem.read().entries == mem.entries
    assert [e["seq"] for e in mem.entries] == [1, 2]
    assert mem.name == "decisions"


def test_values_that_are_not_json_are_written_as_stable_placeholders(tmp_path: Path) -> None:
    class Doc:
        pass

    with DecisionLog(path="d.jsonl") as dlog:
        dlog.record(decision="x", doc=Doc(), where=Path("a/b"), tags={"b", "a"})
    text = (tmp_path / "d.jsonl").read_text()
    assert "0x" not in text
    (entry,) = read_decision_log("d.jsonl").entries
    assert entry["where"] == "a/b"
    assert entry["tags"] == ["a", "b"]
    assert entry["doc"].endswith("Doc>")


def test_records_from_many_threads_are_numbered_in_file_order(tmp_path: Path) -> None:
    with DecisionLog(path="d.jsonl") as dlog:

        def work(i: int) -> None:
            for j in range(50):
                dlog.record(decision="step", worker=i, j=j)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert [e["seq"] for e in read_decision_log("d.jsonl")] == list(range(1, 401))


# -- crashes and corruption -----------------------------------------------------------------


def _write(path: Path, *lines: bytes) -> None:
    path.write_bytes(b"".join(lines))


def test_a_torn_last_line_is_reported_not_fatal(tmp_path: Path) -> None:
    _write(
        tmp_path / "d.jsonl",
        b'{"decision":"a","seq":1,"t":0.0}\n',
        b'{"decision":"b","seq":2,"t":1.0}\n',
        b'{"decision":"c","se',  # the process died mid-write
    )
    contents = read_decision_log(tmp_path / "d.jsonl")
    assert contents.decisions == ["a", "b"]
    assert contents.torn_line == '{"decision":"c","se'
    assert len(contents.problems) == 1
    assert "line 3 is torn" in contents.problems[0]


def test_a_complete_last_record_without_newline_is_kept_and_noted(tmp_path: Path) -> None:
    _write(tmp_path / "d.jsonl", b'{"decision":"a","seq":1}\n{"decision":"b","seq":2}')
    contents = read_decision_log(tmp_path / "d.jsonl")
    assert contents.decisions == ["a", "b"]
    assert contents.torn_line is None
    assert "no trailing newline" in contents.problems[0]


def test_a_clean_file_has_no_problems_and_blank_lines_are_ignored(tmp_path: Path) -> None:
    _write(tmp_path / "d.jsonl", b'{"decision":"a"}\n\n{"decision":"b"}\n')
    contents = read_decision_log(tmp_path / "d.jsonl")
    assert contents == DecisionLogContents(
        entries=({"decision": "a"}, {"decision": "b"}), path=tmp_path / "d.jsonl"
    )


def test_a_corrupt_line_in_the_middle_raises_naming_file_and_line(tmp_path: Path) -> None:
    _write(
        tmp_path / "d.jsonl",
        b'{"decision":"a","seq":1}\n',
        b'{"decision":"b",\n',
        b'{"decision":"c","seq":3}\n',
    )
    with pytest.raises(DecisionLogError, match=r"d\.jsonl', line 2: not valid JSON.*repair"):
        read_decision_log(tmp_path / "d.jsonl")


def test_a_line_that_is_not_an_object_raises(tmp_path: Path) -> None:
    _write(tmp_path / "d.jsonl", b"[1, 2]\n")
    with pytest.raises(DecisionLogError, match="line 1: a JSON list, not an object"):
        read_decision_log(tmp_path / "d.jsonl")


def test_reading_a_missing_file_says_where_to_look(tmp_path: Path) -> None:
    with pytest.raises(DecisionLogError, match=r"no decision log at .*log\.read\(\)"):
        read_decision_log(tmp_path / "nope.jsonl")


def test_reopening_after_a_crash_cuts_the_torn_line_and_continues_the_numbering(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path / "d.jsonl",
        b'{"decision":"a","seq":1,"t":0.0}\n',
        b'{"decision":"b","seq":2,"t":1.0}\n',
        b'{"decision":"c","se',
    )
    with DecisionLog(path="d.jsonl") as restarted:
        entry = restarted.record(decision="resumed")
        assert restarted.recovered_torn_lines == ('{"decision":"c","se',)
    assert entry["seq"] == 3
    contents = read_decision_log(tmp_path / "d.jsonl")
    assert contents.decisions == ["a", "b", "resumed"]
    assert (contents.torn_line, contents.problems) == (None, ())


def test_reopening_keeps_a_complete_last_record_that_lacked_its_newline(tmp_path: Path) -> None:
    _write(tmp_path / "d.jsonl", b'{"decision":"a","seq":7}')
    with DecisionLog(path="d.jsonl") as restarted:
        assert restarted.record(decision="b")["seq"] == 8
        assert restarted.recovered_torn_lines == ()
    assert read_decision_log("d.jsonl").decisions == ["a", "b"]


def test_numbering_continues_across_restarts(tmp_path: Path) -> None:
    for _ in range(3):
        with DecisionLog(path="d.jsonl") as dlog:
            dlog.record(decision="run")
    assert [e["seq"] for e in read_decision_log("d.jsonl")] == [1, 2, 3]


def test_numbering_continues_after_a_file_written_by_something_else(tmp_path: Path) -> None:
    _write(tmp_path / "d.jsonl", b'{"note":"x"}\n{"note":"y"}\n')
    with DecisionLog(path="d.jsonl") as dlog:
        assert dlog.record(decision="mine")["seq"] == 3


# -- errors and configuration ---------------------------------------------------------------


def test_an_unwritable_destination_raises_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    dlog = DecisionLog(path="blocker/d.jsonl")
    with pytest.raises(DecisionLogError, match=r"cannot create the folder .*blocker.*writable"):
        dlog.record(decision="x")
    assert dlog.entries == ()


def test_a_directory_in_place_of_the_file_raises_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").mkdir()
    dlog = DecisionLog(path="d.jsonl")
    with pytest.raises(DecisionLogError, match=r"cannot open .*d\.jsonl.* for appending"):
        dlog.record(decision="x")


def test_reserved_and_invalid_fields_are_refused() -> None:
    mem = DecisionLog()
    with pytest.raises(ConfigurationError, match=r"\['seq'\] are reserved"):
        mem.record(decision="x", seq=3)
    with pytest.raises(ConfigurationError, match="`decision` must be a non-empty str"):
        mem.record(decision="")
    assert mem.entries == ()


def test_constructor_arguments_are_validated() -> None:
    with pytest.raises(ConfigurationError, match="`path` must not be empty"):
        DecisionLog(path="")
    with pytest.raises(ConfigurationError, match="`name`"):
        DecisionLog(name="")
    with pytest.raises(ConfigurationError, match="`keep`"):
        DecisionLog(keep=-1)


def test_keep_bounds_the_entries_kept_in_memory_not_the_file(tmp_path: Path) -> None:
    with DecisionLog(path="d.jsonl", keep=2) as dlog:
        for d in "abc":
            dlog.record(decision=d)
        assert [e["decision"] for e in dlog.entries] == ["b", "c"]
    assert read_decision_log("d.jsonl").decisions == ["a", "b", "c"]


def test_a_dropped_log_closes_its_file_without_resource_warning(tmp_path: Path) -> None:
    dlog = DecisionLog(path="d.jsonl")
    dlog.record(decision="x")
    del dlog
    gc.collect()  # filterwarnings=error turns an unclosed-file ResourceWarning into a failure


def test_repr_shows_name_path_and_count() -> None:
    mem = DecisionLog(name="pipeline")
    mem.record(decision="x")
    assert repr(mem) == "<DecisionLog 'pipeline' path=memory records=1>"
