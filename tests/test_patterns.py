"""The pipeline, broadcast and supervisor patterns, on fake agents and on a hand-written one."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import orjson
import pytest

from agentrig import (
    AllAgentsFailed,
    BudgetExceeded,
    BudgetExhausted,
    ConfigurationError,
    DeadlineExceeded,
    FakeTimeoutError,
)
from agentrig._types import Budget
from agentrig.budget import BudgetPool
from agentrig.clock import run
from agentrig.deadline import Deadline
from agentrig.decisions import DecisionLog
from agentrig.fake import FakeModel
from agentrig.patterns import (
    Stage,
    default_synthesis_prompt,
    run_broadcast,
    run_pipeline,
    run_supervisor,
)
from agentrig.recording import Recording, SpanRecord

D = Decimal
T = TypeVar("T")


def recorded(main: Any) -> tuple[Any, Recording]:
    """Run the coroutine ``main`` on the virtual loop under a fresh recording."""
    rec = Recording("test")
    with rec.activate():
        result = run(main)
    return result, rec


def tree(rec: Recording, parent: int | None = None, depth: int = 0) -> list[str]:
    """The span tree as indented names (children in start order)."""
    lines: list[str] = []
    for span in rec.children(parent):
        lines.append("  " * depth + span.name)
        lines += tree(rec, span.span_id, depth + 1)
    return lines


def step(rec: Recording, name: str) -> SpanRecord:
    """The one span of a supervisor step (its agent's span carries ``agentrig.step``)."""
    (span,) = [s for s in rec.spans if s.attributes.get("agentrig.step") == name]
    return span


def decisions(rec: Recording) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for data in rec.decisions:
        fields = {k: v for k, v in data.items() if k not in {"decision", "log", "message"}}
        out.append((data["decision"], fields))
    return out


def only(rec: Recording, name: str) -> SpanRecord:
    (span,) = rec.spans_named(name)
    return span


@dataclass
class PlainReply:
    text: str
    tokens: int


class EchoAgent:
    """A hand-written agent (not a FakeModel one): the patterns accept any agent."""

    def __init__(self, name: str, usd: str = "0") -> None:
        self.name = name
        self.usd = usd
        self.prompts: list[str] = []

    async def run(self, prompt: str, *, budget: Budget | None = None) -> PlainReply:
        self.prompts.append(prompt)
        if budget is not None:
            budget.charge(self.usd, tokens=1, label=self.name)
        return PlainReply(f"{self.name}({prompt})", 1)


# Prices of $1 per 1k tokens make costs easy to read: one token is $0.001.
PRICES: dict[str, Any] = {"fake-model": (1, 1)}


# -- pipeline ----------------------------------------------------------------------------------


def test_pipeline_runs_stages_in_order_each_on_the_previous_output() -> None:
    fake = FakeModel(prices=PRICES, latency=2.0)
    research = fake.agent("research", reply=lambda p: f"notes on {p}")
    draft = fake.agent("draft", reply=lambda p: f"draft from {p}")
    review = fake.agent("review", reply="final")

    async def main() -> Any:
        pool = BudgetPool(usd=0.10)
        result = await run_pipeline(
            [("research", research, 0.04), Stage("draft", draft, max_usd=0.04), ("review", review)],
            "batteries",
            pool=pool,
        )
        return result, pool

    (result, pool), rec = recorded(main())
    assert result.completed and result.halted_at is None and result.error is None
    assert [s.name for s in result.stages] == ["research", "draft", "review"]
    assert [s.prompt for s in result.stages] == [
        "batteries",
        "notes on batteries",
        "draft from notes on batteries",
    ]
    assert result.output == "final"
    assert result["draft"].text == "draft from notes on batteries"
    assert result.usd == pool.spent_usd == sum(c.usd for c in fake.calls)
    assert result.tokens == sum(c.tokens for c in fake.calls)
    assert tree(rec) == [
        "invoke_workflow pipeline",
        "  invoke_agent research",
        "    chat fake-model",
        "  invoke_agent draft",
        "    chat fake-model",
        "  invoke_agent review",
        "    chat fake-model",
    ]
    assert [d for d, _ in decisions(rec)] == [
        "stage_complete",
        "stage_complete",
        "stage_complete",
        "pipeline_complete",
    ]
    assert decisions(rec)[0] == ("stage_complete", {"stage": "research", "tokens": 6, "usd": 0.006})
    assert only(rec, "invoke_workflow pipeline").end == 6.0
    assert only(rec, "invoke_agent research").attributes["gen_ai.agent.name"] == "research"


def test_pipeline_prompts_from_templates_callables_and_a_default() -> None:
    first, second, third = EchoAgent("a"), EchoAgent("b"), EchoAgent("c")

    async def main() -> Any:
        return await run_pipeline(
            [
                Stage("a", first, prompt="Research: {input}"),
                Stage("b", second, prompt=lambda prev: prev.upper()),
                Stage("c", third),
            ],
            "x",
            pool=BudgetPool(usd=1),
            prompt=lambda stage, prev: f"[{stage.name}] {prev} (was {{input}})",
        )

    result = run(main())
    assert first.prompts == ["Research: x"]
    assert second.prompts == ["A(RESEARCH: X)"]
    assert third.prompts == ["[c] b(A(RESEARCH: X)) (was {input})"]
    assert result.output == "c([c] b(A(RESEARCH: X)) (was {input}))"


def test_pipeline_halts_cleanly_when_the_pool_is_exhausted_mid_pipeline() -> None:
    fake = FakeModel(prices=PRICES)
    research = fake.agent("research", reply="n " * 10)  # 1 + 10 tokens: $0.011
    draft = fake.agent("draft", reply="d " * 10)  # 10 + 10 tokens: $0.020
    review = fake.agent("review", reply="never called")
    log = DecisionLog()

    async def main() -> Any:
        pool = BudgetPool(usd="0.031")
        stages = [("research", research, 0.02), ("draft", draft, 0.02), ("review", review, 0.02)]
        return await run_pipeline(stages, "q", pool=pool, log=log), pool

    (result, pool), rec = recorded(main())
    assert not result.completed
    assert [s.name for s in result.stages] == ["research", "draft"]  # the partial results
    assert result.output == result.stages[-1].text
    assert (result.halted_at, result.halted_reason) == ("review", "budget_exhausted")
    assert isinstance(result.error, BudgetExhausted)
    assert review.call_count == 0
    # No overspend: every charge was accepted and the pool's cap holds.
    assert pool.spent_usd == D("0.031") <= pool.cap_usd
    assert all(entry.accepted for entry in pool.ledger)
    halted = [d for d in log.entries if d["decision"] == "pipeline_halted"]
    assert len(halted) == 1
    assert halted[0]["stage"] == "review" and halted[0]["reason"] == "budget_exhausted"
    assert "nothing" in halted[0]["message"]
    assert [d for d, _ in decisions(rec)] == ["stage_complete", "stage_complete", "pipeline_halted"]
    assert only(rec, "invoke_agent review").status == "error"
    assert only(rec, "invoke_workflow pipeline").attributes["agentrig.halted_at"] == "review"


def test_pipeline_halts_when_a_call_would_break_its_stage_cap() -> None:
    fake = FakeModel(prices=PRICES)
    research = fake.agent("research", reply="n " * 10)  # $0.011
    draft = fake.agent("draft", reply="d " * 30)  # $0.040, more than its stage may spend

    async def main() -> Any:
        pool = BudgetPool(usd=0.10)
        return await run_pipeline(
            [("research", research, 0.02), ("draft", draft, 0.02)], "q", pool=pool
        ), pool

    (result, pool), rec = recorded(main())
    assert (result.completed, result.halted_at) == (False, "draft")
    assert result.halted_reason == "budget_exceeded"
    assert isinstance(result.error, BudgetExceeded)
    assert pool.spent_usd == D("0.011")  # the refused call spent nothing
    assert [d for d, _ in decisions(rec)][-1] == "pipeline_halted"


def test_pipeline_halts_before_the_first_stage_when_nothing_is_left() -> None:
    async def main() -> Any:
        pool = BudgetPool(usd=0)
        return await run_pipeline([("a", EchoAgent("a"), None)], "q", pool=pool)

    result, _ = recorded(main())
    assert result.stages == () and result.output is None and result.halted_at == "a"


def test_pipeline_records_and_propagates_other_failures() -> None:
    fake = FakeModel()
    broken = fake.agent("draft", error=FakeTimeoutError("model down"))
    log = DecisionLog()

    async def main() -> Any:
        return await run_pipeline(
            [("research", EchoAgent("r"), None), ("draft", broken, None)],
            "q",
            pool=BudgetPool(usd=1),
            log=log,
        )

    with pytest.raises(FakeTimeoutError, match="model down"):
        run(main())
    assert [d["decision"] for d in log.entries] == ["stage_complete", "pipeline_failed"]
    assert log.entries[-1]["error_type"] == "FakeTimeoutError"


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ([], "non-empty sequence"),
        ([("a", EchoAgent("a")), ("a", EchoAgent("b"))], "'a' is used by #1 and #2"),
        ([("a", object())], "must be an agent"),
        ([Stage("a", EchoAgent("a"), prompt="{nope}")], "cannot be filled"),
        (["a"], "must be a Stage or a"),
    ],
)
def test_pipeline_refuses_bad_stages_before_spending(stages: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        run(run_pipeline(stages, "q", pool=BudgetPool(usd=1)))


# -- broadcast ---------------------------------------------------------------------------------


def broadcast_agents(fake: FakeModel, latencies: tuple[float, float, float]) -> dict[str, Any]:
    return {
        "forums": fake.agent("forums", reply="forum posts", latency=latencies[0]),
        "papers": fake.agent("papers", error=TimeoutError("search timed out"), latency=1),
        "news": fake.agent("news", reply="headlines", latency=latencies[1]),
        "blogs": fake.agent("blogs", error="rate_limit", latency=latencies[2]),
    }


def test_broadcast_synthesizes_the_survivors_and_records_the_failures() -> None:
    fake = FakeModel(latency=1.0)
    agents = broadcast_agents(fake, (3.0, 2.0, 1.0))
    editor = fake.agent("editor", reply=lambda p: f"summary of {p.count('[')} sources")

    async def main() -> Any:
        return await run_broadcast(list(agents.values()), "topic", aggregator=editor)

    result, rec = recorded(main())
    assert result.succeeded == ("forums", "news")
    assert result.failed == ("papers", "blogs")
    assert result.output == "summary of 2 sources"
    assert result["papers"].error is not None and not result["papers"].ok
    assert editor.calls[0].prompt == default_synthesis_prompt("topic", result.survivors)
    assert editor.calls[0].prompt.endswith("[forums] forum posts\n[news] headlines")
    span = only(rec, "invoke_workflow broadcast")
    assert [(e.name, e.attributes["agent"], e.attributes["error_type"]) for e in span.events] == [
        ("agent_failed", "papers", "TimeoutError"),
        ("agent_failed", "blogs", "FakeRateLimitError"),
    ]
    assert span.attributes["agents_succeeded"] == 2 and span.attributes["agents_failed"] == 2
    assert decisions(rec) == [
        ("agent_failed", {"agent": "papers", "error_type": "TimeoutError"}),
        ("agent_failed", {"agent": "blogs", "error_type": "FakeRateLimitError"}),
        (
            "broadcast_complete",
            {"succeeded": ["forums", "news"], "failed": ["papers", "blogs"], "synthesized": True},
        ),
    ]
    assert tree(rec) == [
        "invoke_workflow broadcast",
        "  invoke_agent forums",
        "    chat fake-model",
        "  invoke_agent papers",
        "    chat fake-model",
        "  invoke_agent news",
        "    chat fake-model",
        "  invoke_agent blogs",
        "    chat fake-model",
        "  invoke_agent editor",
        "    chat fake-model",
    ]
    assert only(rec, "invoke_agent papers").status == "error"
    assert only(rec, "invoke_agent editor").start == 3.0  # after the slowest agent


def test_broadcast_result_does_not_depend_on_completion_order() -> None:
    def once(latencies: tuple[float, float, float]) -> tuple[Any, ...]:
        fake = FakeModel()
        agents = broadcast_agents(fake, latencies)
        editor = fake.agent("editor", reply="summary")

        async def main() -> Any:
            return await run_broadcast(agents, "topic", aggregator=editor)

        result, rec = recorded(main())
        events = [e.attributes for e in only(rec, "invoke_workflow broadcast").events]
        return result.succeeded, result.failed, editor.calls[0].prompt, decisions(rec), events

    assert once((1.0, 2.0, 3.0)) == once((3.0, 2.0, 1.0))


def test_broadcast_where_every_agent_fails_raises_all_agents_failed() -> None:
    fake = FakeModel()
    agents = [
        fake.agent("forums", error=TimeoutError("search timed out")),
        fake.agent("papers", error="rate_limit"),
    ]
    editor = fake.agent("editor", reply="never")
    log = DecisionLog()

    async def main() -> Any:
        return await run_broadcast(agents, "topic", aggregator=editor, log=log)

    rec = Recording()
    with rec.activate(), pytest.raises(AllAgentsFailed) as info:
        run(main())
    message = str(info.value)
    assert "all 2 agents of broadcast 'broadcast' failed" in message
    assert "forums: TimeoutError: search timed out" in message
    assert "papers: FakeRateLimitError:" in message
    cause = info.value.__cause__
    assert isinstance(cause, ExceptionGroup) and len(cause.exceptions) == 2
    assert editor.call_count == 0
    assert [d["decision"] for d in log.entries] == [
        "agent_failed",
        "agent_failed",
        "broadcast_failed",
    ]
    assert only(rec, "invoke_workflow broadcast").status == "error"


def test_broadcast_records_a_failing_aggregator_and_propagates_its_error() -> None:
    fake = FakeModel()
    editor = fake.agent("editor", error=RuntimeError("editor down"))
    log = DecisionLog()
    with pytest.raises(RuntimeError, match="editor down"):
        run(run_broadcast([EchoAgent("a")], "q", aggregator=editor, log=log))
    assert log.entries[-1]["decision"] == "aggregate_failed"
    assert log.entries[-1]["agent"] == "editor"


def test_broadcast_timeout_counts_late_agents_as_failed() -> None:
    fake = FakeModel()
    fast = fake.agent("fast", reply="quick", latency=5)
    late = fake.agent("late", reply="too late", latency=100)

    async def main() -> Any:
        result = await run_broadcast([fast, late], "q", aggregator=None, timeout=30)
        return result, asyncio.get_running_loop().time()

    wall = time.perf_counter()
    (result, t), rec = recorded(main())
    assert time.perf_counter() - wall < 2.0
    assert t == 30.0
    assert result.succeeded == ("fast",) and result.output is None
    assert isinstance(result["late"].error, DeadlineExceeded)
    assert late.calls[0].error is not None  # the call was cancelled, and logged as such
    assert rec.entries_of("deadline.expired")[0].data["deadline"] == "late timeout"


def test_broadcast_gives_each_call_its_own_stage_of_the_pool() -> None:
    fake = FakeModel(prices=PRICES)
    agents = [fake.agent("a", reply="x"), fake.agent("b", reply="y")]
    editor = fake.agent("editor", reply="z")

    async def main() -> Any:
        pool = BudgetPool(usd=1)
        await run_broadcast(agents, "q", aggregator=editor, pool=pool, max_usd=0.05)
        return pool

    pool, rec = recorded(main())
    assert [e.stage for e in pool.ledger] == ["a", "b", "editor"]
    assert [e.data["granted_usd"] for e in rec.entries_of("budget.acquire")] == [0.05] * 3


def test_broadcast_with_a_pool_needs_a_per_call_cap() -> None:
    with pytest.raises(ConfigurationError, match="need max_usd="):
        run(run_broadcast([EchoAgent("a")], "q", aggregator=None, pool=BudgetPool(usd=1)))


def test_broadcast_accepts_any_agent_and_names_unnamed_ones() -> None:
    class Anonymous:
        async def run(self, prompt: str, *, budget: Budget | None = None) -> PlainReply:
            return PlainReply("anon", 1)

    result = run(run_broadcast([Anonymous(), EchoAgent("echo")], "q", aggregator=EchoAgent("agg")))
    assert result.succeeded == ("agent_1", "echo")
    assert result.output is not None and result.output.startswith("agg(q")


# -- supervisor --------------------------------------------------------------------------------


def test_supervisor_approves_on_the_second_review() -> None:
    fake = FakeModel(latency=1.0)
    worker = fake.agent("writer", replies=["draft v1", "draft v2"])
    supervisor = fake.agent("editor", replies=["1. tighten intro", "APPROVED"])

    async def main() -> Any:
        return await run_supervisor(worker, supervisor, "Write release notes", max_revisions=3)

    result, rec = recorded(main())
    assert (result.outcome, result.approved, result.revisions) == ("approved", True, 1)
    assert result.output == "draft v2"
    assert [(r.revision, r.draft, r.review, r.approved) for r in result.rounds] == [
        (0, "draft v1", "1. tighten intro", False),
        (1, "draft v2", "APPROVED", True),
    ]
    assert "Critique:\n1. tighten intro" in worker.calls[1].prompt  # critique fed back
    assert decisions(rec) == [
        ("draft_reviewed", {"revision": 0, "approved": False, "feedback": "1. tighten intro"}),
        ("draft_reviewed", {"revision": 1, "approved": True, "feedback": "APPROVED"}),
        ("supervisor_finished", {"outcome": "approved", "revisions": 1, "reviews": 2}),
    ]
    assert tree(rec) == [
        "invoke_workflow supervisor",
        "  invoke_agent writer",
        "    chat fake-model",
        "  invoke_agent editor",
        "    chat fake-model",
        "  invoke_agent writer",
        "    chat fake-model",
        "  invoke_agent editor",
        "    chat fake-model",
    ]
    assert [
        s.attributes.get("agentrig.step") for s in rec.spans if "agentrig.step" in s.attributes
    ] == [
        "draft",
        "review",
        "revise",
        "review",
    ]
    assert only(rec, "invoke_workflow supervisor").attributes["agentrig.outcome"] == "approved"


def test_supervisor_stops_at_max_revisions() -> None:
    fake = FakeModel()
    worker = fake.agent("writer", reply=lambda p: f"draft {p.count('Critique')}")
    supervisor = fake.agent("editor", reply="still weak")

    result = run(run_supervisor(worker, supervisor, "task", max_revisions=2))
    assert (result.outcome, result.revisions, len(result.rounds)) == ("max_revisions", 2, 3)
    assert worker.call_count == 3 and supervisor.call_count == 3


def test_supervisor_hits_the_hard_deadline_in_virtual_time() -> None:
    fake = FakeModel()
    worker = fake.agent("writer", reply="a draft", latency=50)
    supervisor = fake.agent("editor", reply="not yet", latency=30)

    async def main() -> Any:
        result = await run_supervisor(worker, supervisor, "task", max_revisions=10, deadline=120)
        return result, asyncio.get_running_loop().time()

    wall = time.perf_counter()
    (result, t), rec = recorded(main())
    assert time.perf_counter() - wall < 2.0  # 120 virtual seconds, no real waiting
    assert t >= 120.0
    assert result.outcome == "deadline"
    assert isinstance(result.error, DeadlineExceeded)
    # draft 0-50, review 50-80, revise 80-130 is cut at 120: the last completed draft stays.
    assert result.output == "a draft" and result.revisions == 0 and len(result.rounds) == 1
    finished = decisions(rec)[-1]
    assert finished == (
        "supervisor_finished",
        {"outcome": "deadline", "revisions": 0, "reviews": 1, "error_type": "DeadlineExceeded"},
    )
    assert rec.entries_of("deadline.expired")[0].data["at"] == 120.0
    assert step(rec, "revise").status == "error"


def test_supervisor_accepts_a_deadline_object_and_a_custom_approval_test() -> None:
    fake = FakeModel()
    worker = fake.agent("writer", reply="draft")
    supervisor = fake.agent("editor", replies=["score: 3/10", "score: 9/10"])

    async def main() -> Any:
        return await run_supervisor(
            worker,
            supervisor,
            "task",
            deadline=Deadline(60, name="review loop"),
            approve=lambda review: review.endswith("9/10"),
        )

    result = run(main())
    assert result.outcome == "approved" and result.revisions == 1


def test_supervisor_with_a_deadline_that_never_fires_approves_normally() -> None:
    fake = FakeModel(latency=1)
    worker = fake.agent("writer", reply="draft")
    supervisor = fake.agent("editor", reply="APPROVED")
    result = run(run_supervisor(worker, supervisor, "task", deadline=120))
    assert result.outcome == "approved" and result.revisions == 0


def test_supervisor_stops_when_the_budget_runs_out() -> None:
    fake = FakeModel(prices=PRICES)
    worker = fake.agent("writer", reply="word " * 5)
    supervisor = fake.agent("editor", reply="no")

    async def main() -> Any:
        pool = BudgetPool(usd="0.02")
        result = await run_supervisor(worker, supervisor, "task", pool=pool, max_usd="0.01")
        return result, pool

    (result, pool), rec = recorded(main())
    assert result.outcome == "budget"
    assert isinstance(result.error, (BudgetExceeded, BudgetExhausted))
    assert pool.spent_usd <= pool.cap_usd
    assert decisions(rec)[-1][1]["outcome"] == "budget"


def test_supervisor_propagates_other_errors_after_recording_them() -> None:
    fake = FakeModel()
    worker = fake.agent("writer", error=RuntimeError("writer crashed"))
    log = DecisionLog()
    with pytest.raises(RuntimeError, match="writer crashed"):
        run(run_supervisor(worker, fake.agent("editor"), "task", log=log))
    assert log.entries[-1]["decision"] == "supervisor_finished"
    assert log.entries[-1]["outcome"] == "error"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_revisions": -1}, "`max_revisions` must be a non-negative int"),
        ({"deadline": -5}, "must be non-negative"),
        ({"approve": "APPROVED"}, "`approve` must be a callable"),
        ({"max_usd": 1}, "give pool= too"),
        ({"pool": BudgetPool(usd=1), "budget": object()}, "not both"),
    ],
)
def test_supervisor_refuses_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        run(run_supervisor(EchoAgent("w"), EchoAgent("s"), "task", **kwargs))


# -- determinism across processes --------------------------------------------------------------

SCENARIO = textwrap.dedent(
    """
    import asyncio, re, sys
    import orjson
    from agentrig.budget import BudgetPool
    from agentrig.clock import run
    from agentrig.fake import FakeModel
    from agentrig.patterns import run_broadcast, run_pipeline, run_supervisor
    from agentrig.recording import Recording

    WALL = {"wall", "wall_start", "wall_end"}

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in WALL}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    async def main():
        fake = FakeModel(prices={"fake-model": (1, 1)}, latency=lambda n: 0.5 + n / 4)
        agents = {
            name: fake.agent(name, reply=lambda p, name=name: f"{name} on {p}")
            for name in ["zeta", "alpha", "mu", "beta", "omega"]
        }
        agents["mu"].on(re.compile("topic"), error="timeout", latency=3)
        tags = {"x", "y", "z", "w"}  # set order depends on the hash seed; must not leak
        editor = fake.agent("editor", reply=lambda p: " ".join(sorted(tags)) + str(len(p)))
        pool = BudgetPool(usd=1)
        b = await run_broadcast(agents, "topic", aggregator=editor, pool=pool, max_usd=0.1)
        p = await run_pipeline(
            [(n, fake.agent("p-" + n, reply=lambda s: s[::-1]), 0.2) for n in ["r", "d", "v"]],
            b.output,
            pool=pool,
        )
        s = await run_supervisor(
            fake.agent("writer", replies=["v1", "v2"]),
            fake.agent("boss", replies=["again", "APPROVED"]),
            p.output,
            deadline=120,
        )
        return s.outcome

    rec = Recording("determinism")
    with rec.activate():
        assert run(main()) == "approved"
    doc = strip(orjson.loads(rec.to_json()))
    sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
    """
)


def _run_scenario(hash_seed: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run(
        [sys.executable, "-c", SCENARIO], capture_output=True, env=env, check=False, timeout=60
    )
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout


def test_recordings_are_byte_identical_across_processes_and_hash_seeds() -> None:
    first = _run_scenario("0")
    second = _run_scenario("4242")
    assert first == second
    doc = orjson.loads(first)
    assert len(doc["spans"]) > 20 and len(doc["entries"]) > 20
    assert all(span["start"] is not None for span in doc["spans"])  # virtual times, all set
