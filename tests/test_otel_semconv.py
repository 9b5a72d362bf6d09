"""Both generations of GenAI attribute names read as one form, so upgrading an instrumentation is
no drift; agentrig writes the current names and says which version in the header."""

from __future__ import annotations

from typing import Any

import pytest

from agentrig import FakeModel, Recording, run
from agentrig.drift import compare
from agentrig.normalize import dumps, loads, normalize
from agentrig.tracing import (
    SEMCONV_VERSION,
    Tracer,
    agent_span_name,
    model_call_span_name,
    tool_span_name,
    workflow_span_name,
)

OLD = {
    "gen_ai.system": "az.ai.openai",
    "gen_ai.usage.prompt_tokens": 12,
    "gen_ai.usage.completion_tokens": 7,
    "gen_ai.openai.request.seed": 42,
    "gen_ai.request.model": "gpt-4o",
}
NEW = {
    "gen_ai.provider.name": "azure.ai.openai",
    "gen_ai.usage.input_tokens": 12,
    "gen_ai.usage.output_tokens": 7,
    "gen_ai.request.seed": 42,
    "gen_ai.request.model": "gpt-4o",
}


def _recorded(attributes: dict[str, Any]) -> Recording:
    rec = Recording("t")
    with rec.activate(), Tracer().span("chat gpt-4o", attributes=attributes):
        pass
    return rec


def test_older_and_current_names_normalize_to_the_same_bytes() -> None:
    old, new = normalize(_recorded(OLD)), normalize(_recorded(NEW))
    assert dumps(old) == dumps(new)
    assert old["timeline"][0]["attributes"] == NEW


def test_a_snapshot_recorded_with_older_names_does_not_drift_from_an_upgraded_run() -> None:
    # A snapshot file written before the upgrade: older names, no semconv in the header.
    stored = normalize(_recorded(NEW))
    stored["timeline"][0]["attributes"] = dict(OLD)
    del stored["agentrig"]["semconv"]
    expected = loads(dumps(stored))
    report = compare(expected, normalize(_recorded(NEW)))
    assert report.changes == ()
    # ...while a real change of value still drifts.
    changed = dict(NEW, **{"gen_ai.usage.output_tokens": 8})
    report = compare(expected, normalize(_recorded(changed)))
    assert [c.path for c in report.changes] == ["chat gpt-4o"]


def test_when_both_names_are_present_the_current_one_wins() -> None:
    doc = normalize(_recorded({"gen_ai.system": "openai", "gen_ai.provider.name": "anthropic"}))
    assert doc["timeline"][0]["attributes"] == {"gen_ai.provider.name": "anthropic"}


def test_the_header_names_the_semconv_version() -> None:
    assert normalize(_recorded(NEW))["agentrig"] == {"format": 1, "semconv": SEMCONV_VERSION}


def test_span_names_follow_operation_then_name() -> None:
    assert model_call_span_name("gpt-4o") == "chat gpt-4o"
    assert model_call_span_name(None) == "chat"
    assert agent_span_name("research") == "invoke_agent research"
    assert workflow_span_name("pipeline") == "invoke_workflow pipeline"
    assert tool_span_name("search") == "execute_tool search"


def test_fake_calls_carry_the_current_names_only() -> None:
    fake = FakeModel()
    agent = fake.agent("research", reply="notes", model="fake-model")
    rec = Recording()
    with rec.activate():
        run(agent.run("query"))
    (span,) = rec.spans
    assert span.name == "chat fake-model"
    assert span.attributes["gen_ai.provider.name"] == "agentrig"
    assert "gen_ai.system" not in span.attributes


@pytest.mark.parametrize("old", ["vertex_ai", "gemini", "az.ai.inference"])
def test_older_provider_values_map_to_their_provider_name(old: str) -> None:
    doc = normalize(_recorded({"gen_ai.system": old}))
    value = doc["timeline"][0]["attributes"]["gen_ai.provider.name"]
    assert value in {"gcp.vertex_ai", "gcp.gemini", "azure.ai.inference"}
    assert value != old
