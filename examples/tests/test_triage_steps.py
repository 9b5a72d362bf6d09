"""The three steps of a ticket, one agent pattern each, tested on their own.

Each test scripts the agents on the plugin's ``fake_model``, runs one step of the app on the
virtual clock, checks what the app decided, and compares everything the run did (spans, model
calls, budget, decisions) with its snapshot under ``snapshots/examples/tests/``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support_triage import gather_context, parse_classification, triage, write_reply
from triage_scripts import CONTEXT, TICKET, TRIAGED, AgentFactory

from agentrig import BudgetPool, Deadline, Recording, VirtualEventLoop
from agentrig.fake import FakeModel
from agentrig.snapshot import AgentrigSnapshotAssertion

PoolFactory = Callable[..., BudgetPool]
DeadlineFactory = Callable[..., Deadline]


def decisions(recording: Recording) -> list[str]:
    return [d["decision"] for d in recording.decisions]


async def test_triage_pipeline_classifies_a_billing_ticket(
    make_agents: AgentFactory,
    fake_model: FakeModel,
    budget_pool: PoolFactory,
    virtual_clock: VirtualEventLoop,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    pool = budget_pool(usd=0.10, name="ticket T-1042")

    found = await triage(TICKET, make_agents(), pool=pool)

    assert found == TRIAGED
    assert virtual_clock.time() == 1.5 + 1  # extract, then classify
    assert decisions(agent_recording) == ["stage_complete", "stage_complete", "pipeline_complete"]
    assert [call.agent for call in fake_model.calls] == ["extractor", "classifier"]
    assert pool.spent_usd == fake_model.total_usd  # each stage charged the ticket's pool
    assert agent_recording == agent_snapshot


async def test_context_broadcast_notes_a_failing_lookup_and_merges_the_others(
    make_agents: AgentFactory,
    budget_pool: PoolFactory,
    virtual_clock: VirtualEventLoop,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    agents = make_agents(orders={"error": "rate_limit"})  # the orders API answers 429

    context = await gather_context(
        TICKET, TRIAGED, agents, pool=budget_pool(usd=0.10, name="ticket T-1042")
    )

    assert (context.succeeded, context.failed) == (("kb", "status"), ("orders",))
    assert context.output is not None and context.output.startswith("Context from 2 sources")
    (span,) = agent_recording.spans_named("invoke_workflow context")
    assert [(e.name, e.attributes["agent"]) for e in span.events] == [("agent_failed", "orders")]
    (failed,) = [d for d in agent_recording.decisions if d["decision"] == "agent_failed"]
    assert failed["error_type"] == "FakeRateLimitError"
    # The lookups run in parallel (kb is the slowest survivor, a 429 takes no time), then the
    # synthesizer merges what they found.
    assert virtual_clock.time() == 2 + 2
    assert agent_recording == agent_snapshot


async def test_a_lookup_slower_than_its_timeout_is_dropped(
    make_agents: AgentFactory,
    budget_pool: PoolFactory,
    virtual_clock: VirtualEventLoop,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    agents = make_agents(orders={"latency": 45})  # the app gives each lookup 20 s

    context = await gather_context(
        TICKET, TRIAGED, agents, pool=budget_pool(usd=0.10, name="ticket T-1042")
    )

    assert context.succeeded == ("kb", "status")
    (expired,) = agent_recording.entries_of("deadline.expired")
    assert expired.data["deadline"] == "orders timeout"
    assert virtual_clock.time() == 20 + 2  # the timeout, then the synthesis
    assert agent_recording == agent_snapshot  # what kb and status said, and the merge


async def test_reply_is_approved_on_the_second_review(
    make_agents: AgentFactory,
    fake_model: FakeModel,
    budget_pool: PoolFactory,
    deadline: DeadlineFactory,
    virtual_clock: VirtualEventLoop,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    pool = budget_pool(usd=0.10, name="ticket T-1042")

    reply = await write_reply(
        TICKET, TRIAGED, CONTEXT, make_agents(), pool=pool, sla=deadline(120, name="reply SLA")
    )

    assert (reply.outcome, reply.revisions) == ("approved", 1)
    assert reply.output is not None and "refunded $49.00" in reply.output
    reviews = [d for d in agent_recording.decisions if d["decision"] == "draft_reviewed"]
    assert [d["approved"] for d in reviews] == [False, True]
    assert reviews[0]["feedback"] == "Say what we did and when the money arrives."
    assert [call.agent for call in fake_model.calls] == ["writer", "reviewer"] * 2
    assert virtual_clock.time() == (8 + 3) * 2  # two drafts, each reviewed, well within the SLA
    assert pool.spent_usd == fake_model.total_usd
    assert agent_recording == agent_snapshot


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
