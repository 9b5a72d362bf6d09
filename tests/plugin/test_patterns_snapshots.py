"""agentrig's own snapshots: the three patterns, run under the plugin (``snapshots/`` at the
repository root holds what they recorded).

Re-record after an intended change with ``pytest tests/plugin/test_patterns_snapshots.py
--snapshot-update`` and review the diff of ``snapshots/`` before committing it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from agentrig import BudgetPool, Deadline, DecisionLog, Recording, Tracer
from agentrig.fake import FakeModel
from agentrig.patterns import run_broadcast, run_pipeline, run_supervisor
from agentrig.snapshot import AgentrigSnapshotAssertion


@pytest.mark.agentrig(max_usd=0.01)
async def test_pipeline_research_draft_review(
    fake_model: FakeModel,
    budget_pool: Callable[..., BudgetPool],
    decision_log: DecisionLog,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    research = fake_model.agent("research", reply="notes: batteries are recycled", latency=2.0)
    draft = fake_model.agent("draft", reply=lambda p: f"report on {p[:24]}", latency=3.0)
    review = fake_model.agent("review", reply="1. tighten the intro", latency=1.0)

    result = await run_pipeline(
        [("research", research, 0.04), ("draft", draft, 0.04), ("review", review, 0.02)],
        "battery recycling",
        pool=budget_pool(usd=0.10),
        log=decision_log,
    )

    assert result.output == "1. tighten the intro"
    assert asyncio.get_running_loop().time() == 6.0
    assert agent_recording == agent_snapshot


async def test_broadcast_with_a_failing_agent(
    fake_model: FakeModel,
    tracer: Tracer,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    agents = {
        "web": fake_model.agent("web", error=TimeoutError("search timed out"), latency=5.0),
        "papers": fake_model.agent("papers", reply="three papers agree", latency=2.0),
        "forums": fake_model.agent("forums", reply="users disagree", latency=1.0),
    }
    aggregator = fake_model.agent("synthesis", reply="mostly agreed", latency=1.0)

    result = await run_broadcast(agents, "is it safe?", aggregator=aggregator, tracer=tracer)

    assert [r.name for r in result.responses if r.ok] == ["papers", "forums"]
    assert agent_recording == agent_snapshot


async def test_supervisor_revises_until_approved_within_its_deadline(
    fake_model: FakeModel,
    deadline: Callable[..., Deadline],
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    worker = fake_model.agent("writer", replies=["draft 1", "draft 2"], latency=20.0)
    boss = fake_model.agent("editor", replies=["too long", "APPROVED"], latency=10.0)

    result = await run_supervisor(worker, boss, "write it", deadline=deadline(seconds=120))

    assert result.approved
    assert agent_recording == agent_snapshot(name="approved")
