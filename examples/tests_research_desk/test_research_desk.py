"""The research desk's suite: real openai-SDK code, the fake model, virtual time, snapshots."""

from __future__ import annotations

import pytest
from research_desk import ResearchDesk, Review

from agentrig import FakeModel, FakeRateLimitError, Recording, VirtualEventLoop
from agentrig.fake import rate_limit

QUESTION = "How are teams testing LLM agents in 2026?"


async def test_a_question_is_answered_after_one_critique(
    script_desk, fake_model, budget_pool, deadline, virtual_clock, agent_recording, agent_snapshot
):
    script_desk()
    pool = budget_pool(usd="0.02", name="desk")

    result = await ResearchDesk().run(QUESTION, pool=pool, deadline=deadline(120))

    assert (result.outcome, result.revisions, result.failed) == ("approved", 1, [])
    assert result.brief is not None and result.brief.startswith("Brief (revised)")
    assert sorted(result.searches) == [  # in completion order: concurrent researchers
        "market: market overview",
        "regulation: regulation overview",
        "technology: technology overview",
    ]
    assert result.notes["regulation"].startswith("regulation notes: The EU AI Act")
    # researchers in parallel (2 s per model turn, two turns), writer 5, review 3, rewrite 5,
    # review 3: all virtual
    assert virtual_clock.time() == 2 * 2 + 5 + 3 + 5 + 3
    assert pool.spent_usd == fake_model.total_usd > 0  # every SDK call charged to its stage
    assert {e.stage for e in pool.ledger} == {"research", "write", "review 1", "review 2"}
    assert agent_recording == agent_snapshot


async def test_a_rate_limited_researcher_is_retried_by_the_sdk(
    script_desk,
    fake_model: FakeModel,
    budget_pool,
    deadline,
    virtual_clock,
    agent_recording,
    agent_snapshot,
):
    script_desk(market={"error": rate_limit(retry_after=7), "fail_times": 2})

    result = await ResearchDesk().run(
        QUESTION, pool=budget_pool(usd="0.02"), deadline=deadline(120)
    )

    assert result.outcome == "approved" and result.failed == []
    market = fake_model.agents["researcher-market"].calls
    assert [type(c.error) for c in market] == [
        FakeRateLimitError,
        FakeRateLimitError,
        type(None),
        type(None),
    ]
    assert virtual_clock.time() == 7 + 7 + 2 * 2 + 5 + 3 + 5 + 3  # the SDK's waits, virtual
    # and the rest of the desk did what it does without the retries: same notes, same brief
    assert agent_recording == agent_snapshot


async def test_a_researcher_that_keeps_failing_is_left_out(
    script_desk, budget_pool, deadline, agent_recording: Recording, agent_snapshot
):
    script_desk(technology={"error": "server_error"})

    result = await ResearchDesk().run(
        QUESTION, pool=budget_pool(usd="0.02"), deadline=deadline(120)
    )

    assert result.outcome == "approved"
    assert result.failed == ["technology"]
    assert sorted(result.notes) == ["market", "regulation"]
    assert agent_recording.decisions[0] == {
        **agent_recording.decisions[0],
        "decision": "researcher_failed",
        "angle": "technology",
        "error": "InternalServerError",
    }
    assert agent_recording == agent_snapshot


async def test_the_deadline_stops_the_review_loop(
    script_desk,
    budget_pool,
    deadline,
    virtual_clock: VirtualEventLoop,
    agent_recording: Recording,
    agent_snapshot,
):
    never = [Review(approved=False, critique="Again.")] * 5
    script_desk(reviewer={"replies": never, "latency": 20.0})

    result = await ResearchDesk(max_revisions=5).run(
        QUESTION, pool=budget_pool(usd="0.05"), deadline=deadline(40)
    )

    assert (result.outcome, result.revisions) == ("deadline", 2)
    # research 4, write 5, review 20, rewrite 5 (34 s: still in time), review 20, rewrite 5
    assert virtual_clock.time() == 2 * 2 + 5 + 20 + 5 + 20 + 5
    assert agent_recording.decisions[-1]["decision"] == "deadline"
    assert agent_recording == agent_snapshot  # the brief it stopped with, the reviews it had


async def test_a_writer_stage_that_cannot_afford_the_call_stops_the_desk(
    script_desk, fake_model, budget_pool, deadline, virtual_clock, agent_recording, agent_snapshot
):
    script_desk()

    result = await ResearchDesk(write_usd="0.00005").run(
        QUESTION, pool=budget_pool(usd="0.02"), deadline=deadline(120)
    )

    assert result.outcome == "over_budget"
    (refused,) = [c for c in fake_model.calls if not c.ok]
    assert (refused.agent, type(refused.error).__name__) == ("writer", "BudgetExceeded")
    assert refused.usd == 0  # refused before it was made: nothing spent, no time taken
    assert virtual_clock.time() == 2 * 2
    (stop,) = [d for d in agent_recording.decisions if d["decision"] == "over_budget"]
    assert stop["error"] == "BudgetExceeded"
    assert agent_recording == agent_snapshot  # the research it had paid for when it stopped


@pytest.mark.agentrig(max_usd=0.01)
async def test_the_whole_desk_stays_under_a_cent(script_desk, budget_pool, deadline, fake_model):
    script_desk()
    pool = budget_pool(usd="0.02")
    await ResearchDesk().run(QUESTION, pool=pool, deadline=deadline(120))
    assert len(fake_model.calls) == 3 * 2 + 4
    # Where the tokens go, stage by stage: a prompt or a reply that grows shows here long
    # before the whole desk breaks its cent.
    tokens: dict[str, int] = {}
    for entry in pool.ledger:
        tokens[entry.stage] = tokens.get(entry.stage, 0) + entry.tokens
    # (the rewrite after the first critique is charged to the stage of that review)
    assert tokens == {"research": 933, "write": 98, "review 1": 158, "review 2": 43}
