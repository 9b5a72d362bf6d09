"""OpenTelemetry spans emitted during an agentrig test land in its recording (real SDK, real
pytest sessions in subprocesses: the global tracer provider is per process)."""

from __future__ import annotations

import json

from agentrig_project import Project

CAPTURE = """
import asyncio

import pytest
from opentelemetry import trace

tracer = trace.get_tracer("my-app")


async def work():
    with tracer.start_as_current_span("plan", kind=trace.SpanKind.CLIENT) as span:
        span.set_attribute("gen_ai.system", "openai")
        span.set_attribute("blob", b"\\x00\\x01\\x02")
        span.set_attribute("mixed", [1, "a", True])
        await asyncio.sleep(2)
        span.add_event("thought", {"text": "go"})
    try:
        with tracer.start_as_current_span("act"):
            await asyncio.sleep(1)
            raise ValueError("boom")
    except ValueError:
        pass


async def test_spans_land_in_the_recording(agent_recording, agent_snapshot, tracer):
    with tracer.span("outer"):
        await work()
    assert agent_recording == agent_snapshot


def test_not_an_agentrig_test():
    with tracer.start_as_current_span("ignored"):
        pass
"""


def _snapshot(project: Project, name: str, module: str = "test_app") -> dict:
    path = project.snapshot(f"tests/{module}/{name}.json")
    return json.loads(path.read_text(encoding="utf-8"))


def test_spans_of_the_global_api_are_captured_nested_and_on_virtual_time(
    project: Project,
) -> None:
    project.write("tests/test_app.py", CAPTURE)
    result = project.run_subprocess("--snapshot-update")
    result.assert_outcomes(passed=2)
    doc = _snapshot(project, "test_spans_land_in_the_recording")
    assert doc["agentrig"]["semconv"]
    [outer] = doc["timeline"]
    assert outer["span"] == "outer"
    plan, act = outer["timeline"]
    assert (plan["span"], plan["start"], plan["duration"]) == ("plan", 0.0, 2.0)
    assert (act["span"], act["start"], act["duration"]) == ("act", 2.0, 1.0)
    attrs = plan["attributes"]
    assert attrs["span.kind"] == "client"
    assert attrs["otel.scope.name"] == "my-app"
    # the older name is read as the current one; values JSON cannot hold get placeholders
    assert attrs["gen_ai.provider.name"] == "openai" and "gen_ai.system" not in attrs
    assert attrs["blob"] == "<bytes len=3>"
    assert attrs["mixed"] == [1, "a", True]
    assert plan["events"] == [{"name": "thought", "attributes": {"text": "go"}}]
    assert act["status"] == "error"
    assert act["error"] == {"type": "ValueError", "message": "boom"}
    assert act["status_message"] == "ValueError: boom"
    # byte-identical on a second run: ids renumbered, wall clock gone
    again = project.run_subprocess()
    again.assert_outcomes(passed=2)


NESTING = """
import asyncio

from opentelemetry import trace

otel = trace.get_tracer("framework")


async def test_agentrig_spans_and_entries_nest_inside_otel_spans(
    agent_recording, tracer, fake_model, decision_log
):
    agent = fake_model.agent("writer", reply="ok", latency=1.0)
    with tracer.span("workflow"):
        with otel.start_as_current_span("invoke_agent writer"):
            decision_log.record(decision="start")
            await agent.run("hi")
            with tracer.span("inner"):
                with otel.start_as_current_span("leaf"):
                    pass

    by_name = {s.name: s for s in agent_recording.spans}
    assert by_name["invoke_agent writer"].parent_id == by_name["workflow"].span_id
    call = next(s for s in agent_recording.spans if s.attributes.get("gen_ai.agent.name"))
    assert call.parent_id == by_name["invoke_agent writer"].span_id
    assert by_name["inner"].parent_id == by_name["invoke_agent writer"].span_id
    assert by_name["leaf"].parent_id == by_name["inner"].span_id
    [decision] = agent_recording.entries_of("decision")
    assert decision.span_id == by_name["invoke_agent writer"].span_id


async def test_gathered_otel_spans_nest_under_the_span_that_spawned_them(agent_recording):
    async def child(i):
        with otel.start_as_current_span(f"child {i}"):
            await asyncio.sleep(3 - i)

    with otel.start_as_current_span("parent"):
        await asyncio.gather(*(child(i) for i in range(3)))
    parent = agent_recording.spans_named("parent")[0]
    kids = [s for s in agent_recording.spans if s.name.startswith("child")]
    assert {s.parent_id for s in kids} == {parent.span_id}
    assert sorted(s.end for s in kids) == [1.0, 2.0, 3.0]
    assert parent.end == 3.0
"""


def test_nesting_goes_both_ways_between_agentrig_and_otel_spans(project: Project) -> None:
    project.write("tests/test_app.py", NESTING)
    project.run_subprocess().assert_outcomes(passed=2)


PROVIDERS = """
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

EXPORTER = InMemorySpanExporter()
{setup}


def test_a_plain_test_first():
    {before}


def test_captured(agent_recording):
    with trace.get_tracer("t").start_as_current_span("captured"):
        pass
    assert [s.name for s in agent_recording.spans] == ["captured"]


def test_after_the_agentrig_test():
    {after}
"""

USER_PROVIDER = PROVIDERS.format(
    setup=(
        "provider = TracerProvider()\n"
        "provider.add_span_processor(SimpleSpanProcessor(EXPORTER))\n"
        "trace.set_tracer_provider(provider)"
    ),
    before="assert trace.get_tracer_provider() is provider",
    after=(
        "assert trace.get_tracer_provider() is provider\n"
        "    with trace.get_tracer('t').start_as_current_span('after'):\n"
        "        pass\n"
        "    # the user's exporter saw every span; ours added nothing and kept nothing\n"
        "    assert [s.name for s in EXPORTER.get_finished_spans()] == ['captured', 'after']"
    ),
)

NO_PROVIDER = PROVIDERS.format(
    setup="",
    before="assert type(trace.get_tracer_provider()).__name__ == 'ProxyTracerProvider'",
    after=(
        "assert type(trace.get_tracer_provider()).__name__ == 'ProxyTracerProvider'\n"
        "    # the user can still set a provider of their own: ours was taken out again\n"
        "    provider = TracerProvider()\n"
        "    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))\n"
        "    trace.set_tracer_provider(provider)\n"
        "    assert trace.get_tracer_provider() is provider\n"
        "    with trace.get_tracer('t2').start_as_current_span('theirs'):\n"
        "        pass\n"
        "    assert [s.name for s in EXPORTER.get_finished_spans()] == ['theirs']"
    ),
)


def test_a_user_provider_gets_our_processor_and_keeps_its_exporter(project: Project) -> None:
    project.write("tests/test_app.py", USER_PROVIDER)
    project.run_subprocess("-p", "no:randomly").assert_outcomes(passed=3)


def test_without_a_provider_one_is_installed_for_the_test_and_removed(project: Project) -> None:
    project.write("tests/test_app.py", NO_PROVIDER)
    project.run_subprocess("-p", "no:randomly").assert_outcomes(passed=3)


def test_capture_works_under_xdist(project: Project) -> None:
    project.write("tests/test_app.py", USER_PROVIDER)
    project.write("tests/test_other.py", CAPTURE)
    result = project.run_subprocess("-n", "2", "--dist", "loadfile", "--snapshot-update")
    result.assert_outcomes(passed=5)
    doc = _snapshot(project, "test_spans_land_in_the_recording", "test_other")
    assert [s["span"] for s in doc["timeline"][0]["timeline"]] == ["plan", "act"]


BROKEN = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter


class Broken(SpanExporter):
    def export(self, spans):
        raise RuntimeError("collector down")


class Raising:
    def on_start(self, span, parent_context=None):
        pass

    def _on_ending(self, span):
        pass

    def on_end(self, span):
        if span.name == "seen":
            raise RuntimeError("processor bug")

    def shutdown(self):
        pass

    def force_flush(self, timeout_millis=30000):
        return True


provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(Broken()))
trace.set_tracer_provider(provider)


def test_a_failing_exporter_does_not_break_the_test(agent_recording):
    with trace.get_tracer("t").start_as_current_span("exported"):
        pass
    assert [s.name for s in agent_recording.spans] == ["exported"]
    assert agent_recording.spans[0].end_seq is not None


def test_a_raising_processor_cannot_hide_a_span_from_the_recording(agent_recording):
    provider.add_span_processor(Raising())
    span = trace.get_tracer("t").start_span("seen")
    try:
        span.end()
    except RuntimeError:
        pass  # the user's processor raises into the user's code, as without agentrig
    assert agent_recording.spans[0].end_seq is not None


def test_a_span_that_never_ends_is_unfinished(agent_recording, agent_snapshot):
    trace.get_tracer("t").start_span("left open", attributes={"k": 1})
    with trace.get_tracer("t").start_as_current_span("closed"):
        pass
    assert agent_recording == agent_snapshot
"""


def test_bad_neighbours_and_open_spans(project: Project) -> None:
    project.write("tests/test_app.py", BROKEN)
    result = project.run_subprocess("-p", "no:randomly", "--snapshot-update")
    result.assert_outcomes(passed=3)
    doc = _snapshot(project, "test_a_span_that_never_ends_is_unfinished")
    spans = {s["span"]: s for s in doc["timeline"]}
    assert spans["left open"]["unfinished"] is True
    assert spans["left open"]["attributes"]["k"] == 1
    assert "unfinished" not in spans["closed"]


def test_a_test_without_agentrig_is_untouched(project: Project) -> None:
    project.write(
        "tests/test_app.py",
        """
from opentelemetry import trace

def test_plain():
    assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
    with trace.get_tracer("t").start_as_current_span("x") as span:
        assert not span.is_recording()
""",
    )
    project.run_subprocess().assert_outcomes(passed=1)
