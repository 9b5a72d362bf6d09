"""OTLP/JSON export of a normalized run, checked against opentelemetry-proto's own schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as PbStatus
from otlp_check import parse

from agentrig import BudgetPool, DecisionLog, FakeModel, Recording, Tracer, run, tool
from agentrig.cli import main
from agentrig.normalize import dumps, loads, normalize
from agentrig.otlp import dumps_otlp, to_otlp
from agentrig.patterns import run_pipeline
from agentrig.tracing import SEMCONV_SCHEMA_URL


def _run() -> dict[str, Any]:
    fake = FakeModel()
    research = fake.agent("research", reply="notes", latency=2.0)
    draft = fake.agent("draft", reply="report", latency=3.0)
    log = DecisionLog()

    @tool(content=True)
    def cite(url: str) -> str:
        return f"[{url}]"

    async def main_() -> None:
        await run_pipeline(
            [("research", research, 0.04), ("draft", draft, 0.04)],
            "batteries",
            pool=BudgetPool(usd=0.10),
            log=log,
        )
        cite("https://example.org")
        with Tracer().span("odd", attributes={"mixed": [1, "a", None], "nested": {"k": [1.5]}}):
            pass

    rec = Recording("tests/test_app.py::test_pipeline")
    with rec.activate():
        run(main_())
        rec.start_span("left open")
    return normalize(rec)


def _spans(message: ExportTraceServiceRequest) -> dict[str, PbSpan]:
    return {s.name: s for rs in message.resource_spans for ss in rs.scope_spans for s in ss.spans}


def test_the_export_parses_as_an_export_trace_service_request() -> None:
    doc = _run()
    message = parse(dumps_otlp(doc))
    (resource_spans,) = message.resource_spans
    assert resource_spans.schema_url == SEMCONV_SCHEMA_URL
    spans = _spans(message)
    root = spans["tests/test_app.py::test_pipeline"]
    assert root.parent_span_id == b""
    assert len({s.trace_id for s in spans.values()}) == 1
    workflow = spans["invoke_workflow pipeline"]
    stage = spans["invoke_agent draft"]
    call = next(
        s
        for s in spans.values()
        if s.name == "chat fake-model" and s.parent_span_id == stage.span_id
    )
    assert workflow.parent_span_id == root.span_id
    assert stage.parent_span_id == workflow.span_id
    # virtual seconds as Unix nanoseconds from epoch 0
    assert (stage.start_time_unix_nano, stage.end_time_unix_nano) == (2_000_000_000, 5_000_000_000)
    assert call.kind == PbSpan.SPAN_KIND_CLIENT and stage.kind == PbSpan.SPAN_KIND_INTERNAL
    attrs = {kv.key: kv.value for kv in call.attributes}
    assert attrs["gen_ai.usage.output_tokens"].int_value == 1
    assert attrs["agentrig.reply"].string_value == "report"
    assert attrs["agentrig.cost_usd"].HasField("double_value")
    # entries become events of their span: the budget charge inside the call
    assert [e.name for e in call.events] == ["budget.charge"]
    charge = {kv.key: kv.value for kv in call.events[0].attributes}
    assert charge["accepted"].bool_value is True
    decisions = [e.name for e in stage.events]
    assert "decision" in decisions
    odd = {kv.key: kv.value for kv in spans["odd"].attributes}
    mixed = odd["mixed"].array_value.values
    assert (mixed[0].int_value, mixed[1].string_value, mixed[2].WhichOneof("value")) == (
        1,
        "a",
        None,
    )
    assert odd["nested"].kvlist_value.values[0].value.array_value.values[0].double_value == 1.5
    tool_span = spans["execute_tool cite"]
    tool_attrs = {kv.key: kv.value for kv in tool_span.attributes}
    assert tool_attrs["gen_ai.tool.call.result"].string_value == "[https://example.org]"
    left = {kv.key: kv.value for kv in spans["left open"].attributes}
    assert left["agentrig.unfinished"].bool_value is True
    assert spans["left open"].status.code == PbStatus.STATUS_CODE_UNSET


def test_the_export_is_byte_stable_and_keeps_ids_across_runs() -> None:
    assert dumps_otlp(_run()) == dumps_otlp(_run())
    a = to_otlp(_run())
    spans = a["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert all(len(s["spanId"]) == 16 and len(s["traceId"]) == 32 for s in spans)
    assert all(isinstance(s["startTimeUnixNano"], str) for s in spans)


def test_captured_spans_get_their_kind_and_scope_back() -> None:
    doc = {
        "agentrig": {"format": 1, "semconv": "1.44.0"},
        "name": "t",
        "timeline": [
            {
                "span": "chat gpt-4o",
                "id": 1,
                "parent": None,
                "status": "error",
                "status_message": "boom",
                "start": 1.0,
                "duration": 0.5,
                "attributes": {"span.kind": "server", "otel.scope.name": "pydantic-ai", "a": 1},
                "events": [{"name": "exception", "attributes": {"exception.type": "E"}}],
            }
        ],
    }
    message = parse(dumps_otlp(doc, epoch_ns=10**18))
    scopes = {ss.scope.name: ss for ss in message.resource_spans[0].scope_spans}
    assert set(scopes) == {"agentrig", "pydantic-ai"}
    (span,) = scopes["pydantic-ai"].spans
    assert span.kind == PbSpan.SPAN_KIND_SERVER
    assert [kv.key for kv in span.attributes] == ["a"]
    assert (span.status.code, span.status.message) == (PbStatus.STATUS_CODE_ERROR, "boom")
    assert span.start_time_unix_nano == 10**18 + 1_000_000_000
    assert span.events[0].time_unix_nano == span.start_time_unix_nano


def test_agentrig_show_otlp_prints_the_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "test_pipeline.json"
    path.write_bytes(dumps(_run()))
    assert main(["show", str(path), "--otlp"]) == 0
    out = capsys.readouterr().out
    assert out.encode() == dumps_otlp(loads(path.read_bytes()))
    assert len(_spans(parse(out))) > 5
    assert main(["show", str(path), "--otlp", "--json"]) == 2
    assert "not both" in capsys.readouterr().err
