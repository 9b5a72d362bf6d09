"""The triage app's flows, end to end, on scripted fake agents and virtual time."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from support_triage import (
    ChatAgent,
    Completion,
    Resolution,
    TriageAgents,
    handle_ticket,
    parse_classification,
)
from triage_scripts import TICKET, AgentFactory, build_agents, fake_model_for_triage

import agentrig
from agentrig.budget import BudgetPool
from agentrig.decisions import read_decision_log
from agentrig.fake import FakeModel
from agentrig.recording import Recording
from agentrig.tracing import Tracer

EXAMPLES = Path(__file__).parents[1]


def handle(agents: TriageAgents, **kwargs: Any) -> tuple[Resolution, float]:
    """Handle the ticket on agentrig's virtual loop; return the resolution and the end time."""

    async def main() -> tuple[Resolution, float]:
        resolution = await handle_ticket(TICKET, agents, **kwargs)
        return resolution, asyncio.get_running_loop().time()

    return agentrig.run(main())


def decisions(rec: Recording) -> list[str]:
    return [d["decision"] for d in rec.decisions]


def test_billing_ticket_is_answered_after_one_revision(
    triage_recording: Recording, make_agents: AgentFactory, model: FakeModel
) -> None:
    resolution, t = handle(make_agents())

    assert resolution.status == "answered"
    assert (resolution.category, resolution.priority) == ("billing", "high")
    assert resolution.reply is not None and "refunded $49.00" in resolution.reply
    assert resolution.sources == ("kb", "orders", "status")
    assert resolution.usd == model.total_usd  # every model call was charged to the ticket
    assert resolution.usd <= Decimal("0.10")
    # extract 1.5 + classify 1 + lookups 4 (in parallel) + synthesize 2 + 2 drafts and reviews
    assert t == 1.5 + 1 + 4 + 2 + (8 + 3) * 2
    assert decisions(triage_recording) == [
        "stage_complete",
        "stage_complete",
        "pipeline_complete",
        "ticket_triaged",
        "broadcast_complete",
        "draft_reviewed",
        "draft_reviewed",
        "supervisor_finished",
        "ticket_answered",
    ]


def test_a_failing_lookup_is_noted_and_the_ticket_is_still_answered(
    triage_recording: Recording, make_agents: AgentFactory
) -> None:
    resolution, _ = handle(make_agents(orders={"error": "rate_limit"}))

    assert resolution.status == "answered"
    assert resolution.sources == ("kb", "status")
    (context,) = triage_recording.spans_named("context")
    assert [(e.name, e.attributes["agent"]) for e in context.events] == [("agent_failed", "orders")]
    failed = [d for d in triage_recording.decisions if d["decision"] == "agent_failed"]
    assert failed[0]["error_type"] == "FakeRateLimitError"


def test_a_lookup_slower_than_its_timeout_is_dropped(
    triage_recording: Recording, make_agents: AgentFactory
) -> None:
    resolution, _ = handle(make_agents(orders={"latency": 45}))

    assert resolution.status == "answered"
    assert resolution.sources == ("kb", "status")
    (expired,) = triage_recording.entries_of("deadline.expired")
    assert expired.data["deadline"] == "orders timeout"


def test_no_lookup_answering_escalates_to_the_category_queue(
    triage_recording: Recording, make_agents: AgentFactory
) -> None:
    down = {"error": ConnectionError("backend down")}
    resolution, _ = handle(make_agents(kb=down, orders=down, status={"error": "timeout"}))

    assert resolution.status == "escalated"
    assert (resolution.reason, resolution.queue) == ("no_context", "finance-desk")
    assert decisions(triage_recording)[-3:] == [
        "broadcast_failed",
        "ticket_routed",
        "ticket_escalated",
    ]
    (emit,) = triage_recording.entries_of("bus.emit")
    assert emit.data["topic"] == "ticket:escalated"


def test_qa_that_never_approves_escalates_when_the_sla_runs_out(
    triage_recording: Recording, make_agents: AgentFactory
) -> None:
    agents = make_agents(
        writer={"replies": None, "reply": "Hi Dana, we are on it.", "latency": 30},
        reviewer={"replies": None, "reply": "Too vague.", "latency": 50},
    )
    wall = time.perf_counter()
    resolution, t = handle(agents, sla_seconds=120)

    assert time.perf_counter() - wall < 2.0  # two virtual minutes, no real waiting
    started = 1.5 + 1 + 4 + 2  # the reply loop starts after triage and context
    assert t == started + 120
    assert resolution.status == "escalated"
    assert resolution.reason == "deadline"
    assert resolution.reply == "Hi Dana, we are on it."  # the last completed draft
    finished = [d for d in triage_recording.decisions if d["decision"] == "supervisor_finished"]
    assert finished[0]["outcome"] == "deadline"


def test_qa_rejecting_every_revision_escalates_after_max_revisions(
    triage_recording: Recording, make_agents: AgentFactory
) -> None:
    agents = make_agents(
        writer={"replies": ["v1", "v2", "v3"]},
        reviewer={"replies": None, "reply": "No."},
    )
    resolution, _ = handle(agents)

    assert (resolution.status, resolution.reason, resolution.reply) == (
        "escalated",
        "max_revisions",
        "v3",
    )


def test_a_model_too_expensive_for_the_ticket_escalates_at_triage(
    triage_recording: Recording,
) -> None:
    pricey = FakeModel(model="pricey", strict=True, prices={"pricey": ("0.5", "1.5")})
    resolution, _ = handle(build_agents(pricey))

    assert (resolution.status, resolution.reason, resolution.queue) == (
        "escalated",
        "budget",
        "tier-2",
    )
    assert resolution.usd == 0  # the call that would break the stage cap was never made
    halted = [d for d in triage_recording.decisions if d["decision"] == "pipeline_halted"]
    assert (halted[0]["stage"], halted[0]["reason"]) == ("extract", "budget_exceeded")


def test_running_out_of_budget_while_revising_escalates_with_the_last_draft(
    triage_recording: Recording,
) -> None:
    premium = FakeModel(model="premium", strict=True, prices={"premium": ("0.05", "0.15")})
    resolution, _ = handle(build_agents(premium), usd="0.04")

    assert (resolution.status, resolution.reason) == ("escalated", "budget")
    assert resolution.reply is not None and "looking into it" in resolution.reply
    assert resolution.usd <= Decimal("0.04")  # never overspent
    finished = [d for d in triage_recording.decisions if d["decision"] == "supervisor_finished"]
    assert finished[0]["outcome"] == "budget"


def test_an_unreadable_classification_falls_back_to_general(
    triage_recording: Recording, make_agents: AgentFactory
) -> None:
    resolution, _ = handle(make_agents(classifier={"reply": "I think it is about money?"}))

    assert (resolution.category, resolution.priority) == ("general", "normal")
    assert "classification_unreadable" in decisions(triage_recording)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("category: billing; priority: high", ("billing", "high")),
        ("Category: BUG\nPriority: Urgent", ("bug", "urgent")),
        ("category: refunds; priority: high", None),
        ("no idea", None),
    ],
)
def test_parse_classification(text: str, parsed: tuple[str, str] | None) -> None:
    assert parse_classification(text) == parsed


def test_exports_go_to_the_tests_tmp_dir_and_never_into_the_repo(
    triage_recording: Recording, make_agents: AgentFactory, tmp_path: Path
) -> None:
    handle(make_agents())

    exports = tmp_path / "exports"
    written = read_decision_log(exports / "triage_decisions.jsonl")
    assert written.decisions[-1] == "ticket_answered"
    spans = (exports / "traces" / "triage.jsonl").read_bytes().splitlines()
    assert orjson.loads(spans[-1])["name"] == "ticket"
    assert not (EXAMPLES / "triage_decisions.jsonl").exists()
    assert not (EXAMPLES / "traces").exists()


def test_the_same_ticket_records_the_same_run_twice(triage_recording: Recording) -> None:
    def once() -> bytes:
        rec = Recording("twice", export_dir=Path.cwd())
        with rec.activate():
            handle(build_agents(fake_model_for_triage()))  # fresh scripts each run
        doc = orjson.loads(rec.to_json())
        for item in doc["spans"] + doc["entries"]:
            for key in ("wall", "wall_start", "wall_end"):
                item.pop(key, None)
            for event in item.get("events", []):
                event.pop("wall", None)
        return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)

    assert once() == once()


def test_the_chat_agent_adapter_charges_and_traces_a_real_style_call() -> None:
    async def complete(model: str, system: str, prompt: str) -> Completion:
        return Completion(text=f"{model} says hi", input_tokens=100, output_tokens=20)

    tracer = Tracer()
    agent = ChatAgent(
        "writer",
        model="gpt-4o",
        system="You write support replies.",
        complete=complete,
        usd_per_1k=("0.0025", "0.01"),
        tracer=tracer,
    )

    async def main() -> BudgetPool:
        pool = BudgetPool(usd="0.01")
        async with pool.acquire(max_usd="0.005", name="reply") as stage:
            out = await agent.run("Write a reply", budget=stage)
            assert (out.text, out.tokens, out.usd) == ("gpt-4o says hi", 120, Decimal("0.00045"))
        return pool

    pool = agentrig.run(main())
    assert pool.spent_usd == Decimal("0.00045")
    (span,) = tracer.finished_spans
    assert span.attributes["gen_ai.usage.input_tokens"] == 100
