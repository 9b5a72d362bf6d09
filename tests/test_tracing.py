"""Tracer and spans, from a user's point of view."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from agentrig import AgentRigError, ConfigurationError
from agentrig.clock import run
from agentrig.decisions import DecisionLog
from agentrig.recording import Recording, current_span_id
from agentrig.tracing import (
    AGENTRIG_COST_USD,
    GEN_AI_AGENT_NAME,
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_SYSTEM,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    Span,
    Tracer,
    current_span,
    default_tracer,
)

# Created at import time, long before any recording: it must still report into recordings.
MODULE_TRACER = Tracer(export_path="traces/module.jsonl")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _lines(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [orjson.loads(line) for line in data.splitlines()]


# -- the seed usage -------------------------------------------------------------------------


def test_seed_snippet_exports_one_jsonl_line_per_span(tmp_path: Path) -> None:
    tracer = Tracer(export_path="traces/broadcast.jsonl")
    with tracer.span("broadcast") as span:
        span.add_event("agent_1_failed", error="boom")
        span.set_attribute("agents_succeeded", 2)

    (line,) = _lines(tmp_path / "traces" / "broadcast.jsonl")
    assert line["name"] == "broadcast"
    assert line["attributes"] == {"agents_succeeded": 2}
    assert [(e["name"], e["attributes"]) for e in line["events"]] == [
        ("agent_1_failed", {"error": "boom"})
    ]
    assert line["status"] == "unset"
    assert line["parent_id"] is None
    assert line["end"] >= line["start"]
    assert tracer.finished_spans[0].attributes["agents_succeeded"] == 2


async def test_seed_snippet_inside_async_code() -> None:
    tracer = Tracer()
    with tracer.span("broadcast") as span:
        await asyncio.sleep(0)
        span.add_event("agent_1_failed", error="boom")
        span.set_attribute("agents_succeeded", 2)
    assert span.is_ended
    assert [e.name for e in span.events] == ["agent_1_failed"]


def test_export_lines_have_sorted_keys_and_children_before_parents(tmp_path: Path) -> None:
    tracer = Tracer(export_path="out/trace.jsonl")
    with tracer.span("outer"), tracer.span("inner", attributes={"b": 1, "a": 2}):
        pass
    raw = (tmp_path / "out" / "trace.jsonl").read_bytes().splitlines()
    assert [orjson.loads(r)["name"] for r in raw] == ["inner", "outer"]
    assert raw[0] == orjson.dumps(orjson.loads(raw[0]), option=orjson.OPT_SORT_KEYS)


def test_export_appends_to_an_existing_file(tmp_path: Path) -> None:
    for _ in range(2):
        with Tracer(export_path="t.jsonl").span("run"):
            pass
    assert [line["name"] for line in _lines(tmp_path / "t.jsonl")] == ["run", "run"]


def test_non_json_attribute_values_export_as_stable_placeholders(tmp_path: Path) -> None:
    class Doc:
        pass

    tracer = Tracer(export_path="t.jsonl")
    with tracer.span("s") as span:
        span.set_attribute("doc", Doc())
    (line,) = _lines(tmp_path / "t.jsonl")
    assert (
        line["attributes"]["doc"]
        == "<test_non_json_attribute_values_export_as_stable_placeholders.<locals>.Doc>"
    )
    assert "0x" not in (tmp_path / "t.jsonl").read_text()


# -- nesting --------------------------------------------------------------------------------


def test_spans_opened_in_gathered_tasks_nest_under_the_span_that_spawned_them() -> None:
    tracer = Tracer()

    async def agent(i: int) -> None:
        await asyncio.sleep(3 - i)  # finish in reverse order
        with tracer.span(f"agent_{i}"), tracer.span("model.call"):
            await asyncio.sleep(1)

    async def main() -> None:
        with tracer.span("broadcast"):
            await asyncio.gather(*(agent(i) for i in range(3)))
        with tracer.span("synthesize"):
            pass

    run(main())
    by_name = {s.name: s for s in tracer.finished_spans if s.name != "model.call"}
    broadcast = by_name["broadcast"]
    assert broadcast.parent_id is None
    assert by_name["synthesize"].parent_id is None
    for i in range(3):
        assert by_name[f"agent_{i}"].parent_id == broadcast.span_id
    calls = [s for s in tracer.finished_spans if s.name == "model.call"]
    assert {c.parent_id for c in calls} == {by_name[f"agent_{i}"].span_id for i in range(3)}


def test_gathered_spans_nest_in_the_recording_with_virtual_times(tmp_path: Path) -> None:
    tracer = Tracer()
    rec = Recording("t", export_dir=tmp_path / "export")

    async def agent(i: int) -> None:
        with tracer.span(f"agent_{i}"):
            await asyncio.sleep(10 * (i + 1))

    async def main() -> None:
        with tracer.span("broadcast"):
            await asyncio.gather(*(agent(i) for i in range(3)))

    with rec.activate():
        run(main())

    (broadcast,) = rec.spans_named("broadcast")
    children = rec.children(broadcast.span_id)
    assert [c.name for c in children] == ["agent_0", "agent_1", "agent_2"]
    assert [(c.start, c.end) for c in children] == [(0.0, 10.0), (0.0, 20.0), (0.0, 30.0)]
    assert (broadcast.start, broadcast.end) == (0.0, 30.0)


def test_current_span_follows_the_with_block() -> None:
    tracer = Tracer()
    assert current_span() is None
    with tracer.span("outer") as outer:
        assert current_span() is outer
        with tracer.span("inner") as inner:
            assert current_span() is inner
            assert inner.parent_id == outer.span_id
        assert current_span() is outer
    assert current_span() is None


async def test_current_span_is_none_in_a_task_that_outlived_its_span() -> None:
    tracer = Tracer()
    release = asyncio.Event()

    async def orphan() -> Span | None:
        await release.wait()
        return current_span()

    with tracer.span("short"):
        task = asyncio.create_task(orphan())
    release.set()
    assert await task is None


def test_spans_of_different_tracers_nest_and_never_share_ids() -> None:
    a, b = Tracer(name="a"), Tracer(name="b")
    with a.span("outer") as outer, b.span("inner") as inner:
        assert inner.parent_id == outer.span_id
        assert inner.span_id != outer.span_id
    assert b.finished_spans == (inner,)


def test_nested_spans_in_threads_keep_their_own_parents() -> None:
    tracer = Tracer()
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            with tracer.span(f"t{i}") as parent:
                for _ in range(20):
                    with tracer.span("child") as child:
                        assert child.parent_id == parent.span_id
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(tracer.finished_spans) == 8 * 21
    assert len({s.span_id for s in tracer.finished_spans}) == 8 * 21


# -- recording ------------------------------------------------------------------------------


def test_a_module_level_tracer_reports_into_the_recording_and_exports_under_it(
    tmp_path: Path,
) -> None:
    rec = Recording("t", export_dir=tmp_path / "export")
    with rec.activate(), MODULE_TRACER.span("pipeline") as span:
        assert current_span_id.get() == span.span_id
    assert current_span_id.get() is None
    (recorded,) = rec.spans
    assert recorded is span.record
    assert recorded.span_id == span.span_id == 1
    assert recorded.end_seq is not None
    assert not (tmp_path / "traces").exists()
    (line,) = _lines(tmp_path / "export" / "traces" / "module.jsonl")
    assert line["name"] == "pipeline"


def test_entries_made_inside_a_span_are_attributed_to_it(tmp_path: Path) -> None:
    tracer = Tracer()
    log = DecisionLog()
    rec = Recording("t")
    with rec.activate():
        with tracer.span("research") as span:
            log.record(decision="stage_complete")
        log.record(decision="done")
    assert [(e.data["decision"], e.span_id) for e in rec.entries] == [
        ("stage_complete", span.span_id),
        ("done", None),
    ]


def test_the_export_follows_the_recording_that_is_active_at_each_span_end(
    tmp_path: Path,
) -> None:
    tracer = Tracer(export_path="trace.jsonl")
    for name in ("one", "two"):
        with Recording(name, export_dir=tmp_path / name).activate(), tracer.span(name):
            pass
    with tracer.span("none"):
        pass
    assert [x["name"] for x in _lines(tmp_path / "one" / "trace.jsonl")] == ["one"]
    assert [x["name"] for x in _lines(tmp_path / "two" / "trace.jsonl")] == ["two"]
    assert [x["name"] for x in _lines(tmp_path / "trace.jsonl")] == ["none"]


# -- status and exceptions ------------------------------------------------------------------


def test_an_escaping_exception_is_recorded_and_reraised() -> None:
    tracer = Tracer()
    with pytest.raises(TimeoutError, match="search timed out"), tracer.span("web") as span:
        raise TimeoutError("search timed out")
    assert span.status == "error"
    assert span.status_message == "TimeoutError: search timed out"
    assert span.record.error == {"type": "TimeoutError", "message": "search timed out"}
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes == {
        "exception.type": "TimeoutError",
        "exception.message": "search timed out",
    }


def test_recording_an_exception_by_hand_then_reraising_adds_one_event() -> None:
    tracer = Tracer()
    with pytest.raises(ValueError), tracer.span("s") as span:
        try:
            raise ValueError("bad")
        except ValueError as exc:
            span.record_exception(exc)
            raise
    assert [e.name for e in span.events] == ["exception"]


def test_a_handled_exception_recorded_by_hand_marks_the_span_failed() -> None:
    tracer = Tracer()
    with tracer.span("broadcast") as span:
        span.record_exception(KeyError("agent_1"))
    assert span.status == "error"
    assert span.record.error == {"type": "KeyError", "message": "'agent_1'"}


async def test_cancellation_inside_a_span_is_recorded_as_an_error() -> None:
    tracer = Tracer()

    async def slow() -> None:
        with tracer.span("slow"):
            await asyncio.sleep(3600)

    task = asyncio.create_task(slow())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (span,) = tracer.finished_spans
    assert span.status == "error"
    assert span.record.error is not None
    assert span.record.error["type"] == "CancelledError"


def test_a_clean_exit_leaves_the_status_unset_as_in_opentelemetry() -> None:
    tracer = Tracer()
    with tracer.span("a") as a:
        pass
    with tracer.span("b") as b:
        b.set_status("ok", "ignored unless error")
    assert (a.status, b.status, b.status_message) == ("unset", "ok", None)


def test_set_status_error_keeps_its_message_and_rejects_unknown_statuses() -> None:
    tracer = Tracer()
    with tracer.span("s") as span:
        span.set_status("error", "2 of 3 agents failed")
        with pytest.raises(ConfigurationError, match="'unset', 'ok', 'error'"):
            span.set_status("failed")  # type: ignore[arg-type]
    assert (span.status, span.status_message) == ("error", "2 of 3 agents failed")


def test_an_ended_span_refuses_changes_with_a_clear_message() -> None:
    tracer = Tracer()
    with tracer.span("broadcast") as span:
        pass
    with pytest.raises(AgentRigError, match=r"'broadcast': it has already ended.*inside"):
        span.set_attribute("late", 1)
    with pytest.raises(AgentRigError, match="already ended"):
        span.add_event("late")


def test_attribute_names_must_be_non_empty_strings() -> None:
    tracer = Tracer()
    with pytest.raises(ConfigurationError, match="span name"):
        tracer.span("")
    with tracer.span("s") as span:
        with pytest.raises(ConfigurationError, match="attribute name"):
            span.set_attributes({"ok": 1, 2: "x"})  # type: ignore[dict-item]
        assert dict(span.attributes) == {}
        span.set_attributes({"a": 1, "b": [1, 2]})
    assert dict(span.attributes) == {"a": 1, "b": [1, 2]}


# -- export errors --------------------------------------------------------------------------


def test_an_unwritable_export_path_raises_naming_the_path(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder")
    tracer = Tracer(export_path="blocker/trace.jsonl")
    with (
        pytest.raises(AgentRigError, match=r"cannot create the folder .*blocker"),
        tracer.span("s"),
    ):
        pass


def test_an_export_failure_never_hides_the_exception_already_propagating(
    tmp_path: Path,
) -> None:
    (tmp_path / "blocker").write_text("")
    tracer = Tracer(export_path="blocker/trace.jsonl")
    with pytest.raises(ValueError, match="the real problem") as info, tracer.span("s"):
        raise ValueError("the real problem")
    assert any("cannot create the folder" in note for note in info.value.__notes__)


# -- configuration --------------------------------------------------------------------------


def test_genai_attribute_names_follow_the_opentelemetry_conventions() -> None:
    assert GEN_AI_AGENT_NAME == "gen_ai.agent.name"
    assert GEN_AI_REQUEST_MODEL == "gen_ai.request.model"
    assert GEN_AI_RESPONSE_MODEL == "gen_ai.response.model"
    assert GEN_AI_USAGE_INPUT_TOKENS == "gen_ai.usage.input_tokens"
    assert GEN_AI_USAGE_OUTPUT_TOKENS == "gen_ai.usage.output_tokens"
    assert GEN_AI_OPERATION_NAME == "gen_ai.operation.name"
    assert GEN_AI_PROVIDER_NAME == "gen_ai.provider.name"
    assert GEN_AI_SYSTEM == "gen_ai.system"
    assert AGENTRIG_COST_USD == "agentrig.cost_usd"


def test_keep_bounds_the_finished_spans_kept_in_memory() -> None:
    tracer = Tracer(keep=2)
    for name in "abc":
        with tracer.span(name):
            pass
    assert [s.name for s in tracer.finished_spans] == ["b", "c"]
    with pytest.raises(ConfigurationError, match="`keep`"):
        Tracer(keep=-1)


def test_default_tracer_is_one_process_wide_tracer_without_export() -> None:
    assert default_tracer() is default_tracer()
    assert default_tracer().export_path is None


def test_repr_shows_live_state() -> None:
    tracer = Tracer(export_path="x/trace.jsonl")
    assert repr(tracer) == "<Tracer 'trace.jsonl' export_path='x/trace.jsonl' finished=0>"
    with tracer.span("s", attributes={"a": 1}) as span:
        assert "<Span 's' id=" in repr(span)
        assert "attributes=1 events=0 open>" in repr(span)
