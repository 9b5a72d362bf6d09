"""A ticket end to end: triage, context, reply, or an escalation to a human queue.

The happy path carries a cost gate: ``@pytest.mark.agentrig(max_usd=...)`` fails the test if
the run's model calls cost more than what a ticket may cost us, whatever the snapshot says.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from support_triage import handle_ticket
from triage_scripts import TICKET, AgentFactory

from agentrig import BudgetExceeded, BudgetPool, Deadline, Recording, VirtualEventLoop
from agentrig.decisions import read_decision_log
from agentrig.fake import FakeModel
from agentrig.snapshot import AgentrigSnapshotAssertion

PoolFactory = Callable[..., BudgetPool]
DeadlineFactory = Callable[..., Deadline]

ROOT = Path(__file__).parents[2]  # the repository: tests must never write here


def decisions(recording: Recording) -> list[str]:
    return [d["decision"] for d in recording.decisions]


# A ticket on gpt-4o-mini costs about $0.00017; the gate leaves room for honest growth and
# catches a prompt or a loop that multiplies it.
@pytest.mark.agentrig(max_usd=0.0005, max_tokens=2000)
async def test_a_billing_ticket_is_answered_after_one_revision(
    make_agents: AgentFactory,
    fake_model: FakeModel,
    budget_pool: PoolFactory,
    virtual_clock: VirtualEventLoop,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    pool = budget_pool(usd=0.10, name="ticket T-1042")

    resolution = await handle_ticket(TICKET, make_agents(), pool=pool)

    assert resolution.status == "answered"
    assert (resolution.category, resolution.priority) == ("billing", "high")
    assert resolution.reply is not None and "refunded $49.00" in resolution.reply
    assert resolution.sources == ("kb", "orders", "status")
    assert resolution.usd == pool.spent_usd == fake_model.total_usd  # every call was charged
    # extract 1.5 + classify 1 + lookups 4 (in parallel) + synthesize 2 + 2 drafts and reviews
    assert virtual_clock.time() == 1.5 + 1 + 4 + 2 + (8 + 3) * 2
    assert decisions(agent_recording) == [
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
    assert agent_recording == agent_snapshot


async def test_a_ticket_qa_never_approves_is_escalated_when_its_sla_runs_out(
    make_agents: AgentFactory,
    deadline: DeadlineFactory,
    virtual_clock: VirtualEventLoop,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    agents = make_agents(
        writer={"replies": None, "reply": "Hi Dana, we are on it.", "latency": 30},
        reviewer={"replies": None, "reply": "Too vague.", "latency": 50},
    )
    sla = deadline(120, name="ticket SLA")  # starts now, as the ticket arrives

    resolution = await handle_ticket(TICKET, agents, sla=sla)

    assert (resolution.status, resolution.reason) == ("escalated", "deadline")
    assert resolution.queue == "finance-desk"
    assert resolution.reply == "Hi Dana, we are on it."  # the last completed draft goes along
    assert virtual_clock.time() == 120  # two virtual minutes, cut exactly at the SLA
    assert sla.expired()
    (finished,) = [d for d in agent_recording.decisions if d["decision"] == "supervisor_finished"]
    assert finished["outcome"] == "deadline"
    assert decisions(agent_recording)[-2:] == ["ticket_routed", "ticket_escalated"]
    assert agent_recording == agent_snapshot


async def test_running_out_of_budget_while_revising_escalates_with_the_last_draft(
    make_agents: AgentFactory,
    fake_model: FakeModel,
    budget_pool: PoolFactory,
    virtual_clock: VirtualEventLoop,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    # The premium tier: claude-opus-4 prices, two cents per ticket, and a picky QA.
    agents = make_agents(
        llm="claude-opus-4",
        writer={
            "replies": [
                "Hi Dana, sorry about the double charge. We are looking into it.",
                "Hi Dana, we refunded the duplicate $49.00 charge on order 1042 today.",
                "Hi Dana, we refunded the duplicate $49.00 charge (ref R-77) today.",
            ]
        },
        reviewer={
            "replies": [
                "Say what we did and when the money arrives.",
                "Add the refund reference.",
                "APPROVED",
            ]
        },
    )
    pool = budget_pool(usd=0.02, name="ticket T-1042")

    resolution = await handle_ticket(TICKET, agents, pool=pool)

    assert (resolution.status, resolution.reason) == ("escalated", "budget")
    assert resolution.reply is not None and "refunded the duplicate" in resolution.reply
    assert "ref R-77" not in resolution.reply  # the second revision was never paid for
    assert resolution.usd == pool.spent_usd == fake_model.total_usd
    assert resolution.usd <= Decimal("0.02")  # never overspent
    (finished,) = [d for d in agent_recording.decisions if d["decision"] == "supervisor_finished"]
    assert (finished["outcome"], finished["revisions"]) == ("budget", 1)
    refused = fake_model.calls[-1]  # refused before it was made: it would break the pool
    assert (refused.agent, refused.usd, type(refused.error)) == ("writer", 0, BudgetExceeded)
    assert virtual_clock.time() == 1.5 + 1 + 4 + 2 + (8 + 3) * 2  # a refused call takes no time
    assert agent_recording == agent_snapshot


async def test_no_lookup_answering_escalates_to_the_category_queue(
    make_agents: AgentFactory,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    down = {"error": ConnectionError("backend down")}
    agents = make_agents(kb=down, orders=down, status={"error": "timeout"})

    resolution = await handle_ticket(TICKET, agents)

    assert resolution.status == "escalated"
    assert (resolution.reason, resolution.queue) == ("no_context", "finance-desk")
    assert decisions(agent_recording)[-3:] == [
        "broadcast_failed",
        "ticket_routed",
        "ticket_escalated",
    ]
    (emit,) = agent_recording.entries_of("bus.emit")
    assert emit.data["topic"] == "ticket:escalated"
    (handled,) = agent_recording.entries_of("bus.handler")
    assert handled.data["result"] == "finance-desk"
    assert agent_recording == agent_snapshot  # and everything else the run did


async def test_qa_rejecting_every_revision_escalates_after_max_revisions(
    make_agents: AgentFactory,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    agents = make_agents(
        writer={"replies": ["v1", "v2", "v3"]}, reviewer={"replies": None, "reply": "No."}
    )

    resolution = await handle_ticket(TICKET, agents)

    assert (resolution.status, resolution.reason, resolution.reply) == (
        "escalated",
        "max_revisions",
        "v3",
    )
    reviews = [d for d in agent_recording.decisions if d["decision"] == "draft_reviewed"]
    assert len(reviews) == 3  # the first draft and both revisions were reviewed
    assert agent_recording == agent_snapshot  # and everything else the run did


async def test_a_ticket_too_long_to_triage_within_its_cap_is_escalated_unread(
    make_agents: AgentFactory,
    fake_model: FakeModel,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    pasted_log = "\n".join(
        f"2025-03-02 10:{i:02d}:00 payment.capture order=1042 amount=49.00 status=ok"
        for i in range(60)
    )
    ticket = dataclasses.replace(TICKET, body=f"{TICKET.body}\n\nMy bank's log:\n{pasted_log}")

    resolution = await handle_ticket(ticket, make_agents(llm="claude-opus-4"))

    assert (resolution.status, resolution.reason, resolution.queue) == (
        "escalated",
        "budget",
        "tier-2",
    )
    assert resolution.usd == 0  # the call that would break the stage cap was never made
    (call,) = fake_model.calls
    assert (call.agent, call.usd, type(call.error)) == ("extractor", 0, BudgetExceeded)
    (halted,) = [d for d in agent_recording.decisions if d["decision"] == "pipeline_halted"]
    assert (halted["stage"], halted["reason"]) == ("extract", "budget_exceeded")
    assert agent_recording == agent_snapshot  # and everything else the run did


async def test_an_unreadable_classification_falls_back_to_general(
    make_agents: AgentFactory,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    agents = make_agents(classifier={"reply": "I think it is about money?"})

    resolution = await handle_ticket(TICKET, agents)

    assert (resolution.status, resolution.category, resolution.priority) == (
        "answered",
        "general",
        "normal",
    )
    assert "classification_unreadable" in decisions(agent_recording)
    assert agent_recording == agent_snapshot  # and everything else the run did


async def test_exports_land_in_the_tests_tmp_dir_and_never_in_the_repo(
    make_agents: AgentFactory, agent_recording: Recording, tmp_path: Path
) -> None:
    await handle_ticket(TICKET, make_agents())

    # The app's module-level DecisionLog("triage_decisions.jsonl") and
    # Tracer(export_path="traces/triage.jsonl") write under tmp_path / "agentrig" in a test.
    exports = tmp_path / "agentrig"
    written = read_decision_log(exports / "triage_decisions.jsonl")
    assert written.decisions[-1] == "ticket_answered"
    assert written.decisions == decisions(agent_recording)
    spans = (exports / "traces" / "triage.jsonl").read_bytes().splitlines()
    assert orjson.loads(spans[-1])["name"] == "ticket"
    for folder in (ROOT, ROOT / "examples", Path.cwd()):
        assert not (folder / "triage_decisions.jsonl").exists()
        assert not (folder / "traces").exists()
