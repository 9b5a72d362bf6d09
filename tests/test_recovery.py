"""Recovery patterns: what happens when the research agent times out halfway through a pipeline.

Each pattern answers the question once with a committed snapshot (``snapshots/tests/
test_recovery/``) that shows the recovery — the failed attempt, the wait or the switch, the
decision — and then its edges are pinned by behaviour: seeded jitter, ``retry_after``, giving
up, budget and deadline exhaustion, cancellation passing through, bad arguments.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import agentrig
from agentrig import (
    BudgetExceeded,
    BudgetPool,
    ConfigurationError,
    Deadline,
    DecisionLog,
    FakeRateLimitError,
    FakeTimeoutError,
    Recording,
    VirtualEventLoop,
)
from agentrig.fake import FakeModel, rate_limit, timeout
from agentrig.patterns import (
    CachedReply,
    default_retry_on,
    degrade,
    run_broadcast,
    run_pipeline,
    with_fallback,
    with_retry,
)
from agentrig.snapshot import AgentrigSnapshotAssertion

PoolFactory = Callable[..., BudgetPool]


def decisions(recording: Recording) -> list[str]:
    return [d["decision"] for d in recording.decisions]


def the(recording: Recording, decision: str) -> dict[str, object]:
    (found,) = [d for d in recording.decisions if d["decision"] == decision]
    return found


def pipeline_agents(fake_model: FakeModel, **research: object) -> tuple[object, object, object]:
    """research (30 s when it works) -> draft (5 s) -> review (1 s)."""
    spec: dict[str, object] = {"reply": "notes: 95% of lithium is recoverable", "latency": 30.0}
    spec.update(research)
    agent = fake_model.agent("research", **spec)  # type: ignore[arg-type]
    draft = fake_model.agent("draft", reply=lambda p: f"report from {p[:12]}", latency=5.0)
    review = fake_model.agent("review", reply="APPROVED", latency=1.0)
    return agent, draft, review


# -- the seed's question, answered by each pattern (snapshots) ---------------------------------


async def test_retry_recovers_a_research_agent_that_times_out_halfway(
    fake_model: FakeModel,
    budget_pool: PoolFactory,
    virtual_clock: VirtualEventLoop,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    # The first call gives up after 15 of its 30 seconds; the second one works.
    research, draft, review = pipeline_agents(fake_model, error=timeout(after=15), fail_times=1)
    retrying = with_retry(research, attempts=3, backoff=2.0)  # type: ignore[arg-type]

    result = await run_pipeline(
        [("research", retrying, 0.04), ("draft", draft, 0.04), ("review", review, 0.02)],
        "battery recycling",
        pool=budget_pool(usd=0.10),
    )

    assert result.completed and result.output == "APPROVED"
    scheduled = the(agent_recording, "retry_scheduled")
    assert (scheduled["agent"], scheduled["attempt"], scheduled["error_type"]) == (
        "research",
        1,
        "FakeTimeoutError",
    )
    delay = scheduled["delay"]
    assert isinstance(delay, float) and 1.8 <= delay <= 2.2  # 2 s ± 10 % seeded jitter
    assert the(agent_recording, "retry_recovered")["attempts"] == 2
    assert virtual_clock.time() == pytest.approx(15 + delay + 30 + 5 + 1)
    assert [s.attributes["agentrig.attempt"] for s in agent_recording.spans_named("attempt")] == [
        1,
        2,
    ]
    assert agent_recording == agent_snapshot


async def test_fallback_answers_with_a_lighter_agent_when_research_times_out_halfway(
    fake_model: FakeModel,
    budget_pool: PoolFactory,
    virtual_clock: VirtualEventLoop,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    research, draft, review = pipeline_agents(fake_model, error=timeout(after=15))
    lite = fake_model.agent("research-lite", reply="notes: most lithium is recoverable", latency=3)
    research_or_lite = with_fallback(research, lite)  # type: ignore[arg-type]

    result = await run_pipeline(
        [("research", research_or_lite, 0.04), ("draft", draft, 0.04), ("review", review, 0.02)],
        "battery recycling",
        pool=budget_pool(usd=0.10),
    )

    assert result.completed
    assert result["research"].text == "notes: most lithium is recoverable"
    used = the(agent_recording, "fallback_used")
    assert (used["agent"], used["to"], used["error_type"]) == (
        "research",
        "research-lite",
        "FakeTimeoutError",
    )
    assert virtual_clock.time() == 15 + 3 + 5 + 1
    assert agent_recording == agent_snapshot


async def test_degrade_gives_cached_notes_when_research_times_out_halfway(
    fake_model: FakeModel,
    budget_pool: PoolFactory,
    virtual_clock: VirtualEventLoop,
    agent_recording: Recording,
    agent_snapshot: AgentrigSnapshotAssertion,
) -> None:
    research, draft, review = pipeline_agents(fake_model, error=timeout(after=15))
    cached = degrade(research, fallback="notes (cached last week): lithium is recoverable")  # type: ignore[arg-type]

    result = await run_pipeline(
        [("research", cached, 0.04), ("draft", draft, 0.04), ("review", review, 0.02)],
        "battery recycling",
        pool=budget_pool(usd=0.10),
    )

    assert result.completed
    reply = result["research"].reply
    assert isinstance(reply, CachedReply) and reply.degraded and reply.tokens == 0
    assert result["research"].usd == 0  # the cache costs nothing
    degraded = the(agent_recording, "degraded")
    assert (degraded["agent"], degraded["reason"], degraded["to"]) == (
        "research",
        "timeout",
        "cache",
    )
    assert cached.degraded == 1
    assert virtual_clock.time() == 15 + 5 + 1
    assert agent_recording == agent_snapshot


# -- with_retry -------------------------------------------------------------------------------


async def test_retry_waits_at_least_what_a_rate_limit_asks(
    fake_model: FakeModel, virtual_clock: VirtualEventLoop, agent_recording: Recording
) -> None:
    web = fake_model.agent("web", error=rate_limit(retry_after=20), fail_times=2, reply="ok")

    reply = await with_retry(web, attempts=3, backoff=1.0).run("news?")

    assert reply.text == "ok"
    delays = [d["delay"] for d in agent_recording.decisions if d["decision"] == "retry_scheduled"]
    assert delays == [20.0, 20.0]  # backoff 1 s and 2 s, but the provider said 20
    assert virtual_clock.time() == 40.0


def test_the_jitter_is_seeded_the_same_run_after_run_and_differs_by_seed() -> None:
    model = FakeModel()

    def delays(seed: int | None, name: str = "web") -> list[float]:
        agent = model.agents.get(name) or model.agent(name, reply="ok")
        retry = with_retry(agent, backoff=1.0, multiplier=2.0, jitter=0.5, seed=seed)
        return [retry.delay(k) for k in range(1, 6)]

    assert delays(None) == delays(None)  # default seed: derived from the name, stable
    assert delays(7) == delays(7)
    assert delays(7) != delays(8)
    assert delays(None, "web") != delays(None, "papers")
    for k, d in enumerate(delays(3), start=1):
        assert 0.5 * 2 ** (k - 1) <= d <= 1.5 * 2 ** (k - 1)
    no_jitter = with_retry(model.agents["web"], backoff=1.0, jitter=0, max_backoff=5)
    assert [no_jitter.delay(k) for k in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


async def test_retry_gives_up_after_its_attempts_and_raises_the_last_error(
    fake_model: FakeModel, virtual_clock: VirtualEventLoop, agent_recording: Recording
) -> None:
    down = fake_model.agent("down", error=ConnectionError("reset"), latency=1.0)

    with pytest.raises(ConnectionError, match="reset"):
        await with_retry(down, attempts=3, backoff=1.0, jitter=0).run("x")

    assert down.call_count == 3
    assert decisions(agent_recording) == ["retry_scheduled", "retry_scheduled", "retry_gave_up"]
    gave_up = the(agent_recording, "retry_gave_up")
    assert (gave_up["attempts"], gave_up["reason"]) == (3, "attempts")
    assert virtual_clock.time() == 1 + 1 + 1 + 2 + 1


async def test_retry_does_not_retry_what_would_fail_the_same_way(
    fake_model: FakeModel, agent_recording: Recording
) -> None:
    bad = fake_model.agent("bad", error=ValueError("bad request"))

    with pytest.raises(ValueError, match="bad request"):
        await with_retry(bad, attempts=5).run("x")

    assert bad.call_count == 1
    assert the(agent_recording, "retry_gave_up")["reason"] == "not_retryable"
    assert not default_retry_on(BudgetExceeded("too dear"))
    assert not default_retry_on(agentrig.DeadlineExceeded("over"))
    assert default_retry_on(FakeTimeoutError("slow")) and default_retry_on(FakeRateLimitError("x"))


async def test_retry_gives_up_at_once_when_the_next_wait_would_pass_the_deadline(
    fake_model: FakeModel, virtual_clock: VirtualEventLoop, agent_recording: Recording
) -> None:
    web = fake_model.agent("web", error="rate_limit", fail_times=1, reply="ok")
    sla = Deadline(30, name="sla")

    with pytest.raises(FakeRateLimitError):
        await with_retry(web, backoff=60, deadline=sla).run("x")

    assert the(agent_recording, "retry_gave_up")["reason"] == "deadline"
    assert virtual_clock.time() == 0  # it did not sleep in vain


async def test_retry_on_takes_classes_or_a_predicate(fake_model: FakeModel) -> None:
    flaky = fake_model.agent("flaky", error=KeyError("k"), fail_times=1, reply="ok")
    assert (await with_retry(flaky, retry_on=KeyError).run("x")).text == "ok"
    other = fake_model.agent("other", error=KeyError("k"), fail_times=1, reply="ok")
    assert (await with_retry(other, retry_on=lambda e: "k" in str(e)).run("x")).text == "ok"


async def test_a_cancelled_retry_is_not_retried(
    fake_model: FakeModel, virtual_clock: VirtualEventLoop
) -> None:
    slow = fake_model.agent("slow", reply="late", latency=100)
    with pytest.raises(agentrig.DeadlineExceeded):
        async with Deadline(10):
            await with_retry(slow, attempts=5).run("x")
    assert slow.call_count == 1 and virtual_clock.time() == 10


# -- with_fallback ----------------------------------------------------------------------------


async def test_fallback_takes_the_cheaper_agent_when_the_primary_would_break_the_stage_cap(
    budget_pool: PoolFactory, agent_recording: Recording
) -> None:
    model = FakeModel(prices={"big": (100, 100), "small": (0.0001, 0.0001)})
    big = model.agent("big", model="big", reply="a long and expensive answer")
    small = model.agent("small", model="small", reply="short answer")
    pool = budget_pool(usd=0.01)

    result = await run_pipeline([("answer", with_fallback(big, small), 0.01)], "q", pool=pool)

    assert result.completed and result.output == "short answer"
    assert the(agent_recording, "fallback_used")["error_type"] == "BudgetExceeded"
    assert pool.spent_usd == model.total_usd and big.calls[0].usd == 0  # refused, never spent


async def test_fallback_timeout_cuts_a_slow_primary(
    fake_model: FakeModel, virtual_clock: VirtualEventLoop, agent_recording: Recording
) -> None:
    slow = fake_model.agent("slow", reply="late", latency=120)
    quick = fake_model.agent("quick", reply="on time", latency=2)

    reply = await with_fallback(slow, quick, timeout=10).run("x")

    assert reply.text == "on time" and virtual_clock.time() == 12
    assert the(agent_recording, "fallback_used")["error_type"] == "DeadlineExceeded"


async def test_when_every_agent_fails_the_last_error_propagates_and_a_pipeline_halts_cleanly(
    budget_pool: PoolFactory, agent_recording: Recording
) -> None:
    model = FakeModel(prices={"big": (100, 100)})
    first = model.agent("first", error=TimeoutError("slow"))
    second = model.agent("second", model="big", reply="far too expensive")

    result = await run_pipeline(
        [("answer", with_fallback(first, second), 0.01)], "q", pool=budget_pool(usd=0.01)
    )

    assert not result.completed and result.halted_reason == "budget_exceeded"
    exhausted = the(agent_recording, "fallback_exhausted")
    assert exhausted["errors"] == ["first: TimeoutError", "second: BudgetExceeded"]


async def test_fallback_on_limits_which_failures_move_on(fake_model: FakeModel) -> None:
    broken = fake_model.agent("broken", error=ValueError("bug"))
    spare = fake_model.agent("spare", reply="ok")
    with pytest.raises(ValueError, match="bug"):
        await with_fallback(broken, spare, on=TimeoutError).run("x")
    assert spare.call_count == 0


async def test_a_recovering_agent_is_a_broadcast_member_like_any_other(
    fake_model: FakeModel, agent_recording: Recording
) -> None:
    web = fake_model.agent("web", error="timeout", fail_times=1, reply="fresh news", latency=2)
    papers = fake_model.agent("papers", reply="papers", latency=1)
    editor = fake_model.agent("editor", reply="summary")

    result = await run_broadcast(
        [with_retry(web, jitter=0), papers], "news?", aggregator=editor, timeout=30
    )

    assert result.succeeded == ("web", "papers") and result["web"].text == "fresh news"


# -- degrade ------------------------------------------------------------------------------------


async def test_degrade_uses_the_cheaper_agent_when_the_stage_budget_cannot_cover_the_full_path(
    fake_model: FakeModel, budget_pool: PoolFactory, agent_recording: Recording
) -> None:
    full = fake_model.agent("deep-research", reply="everything")
    quick = fake_model.agent("quick-research", reply="the gist")
    pool = budget_pool(usd=0.10)

    result = await run_pipeline(
        [("research", degrade(full, fallback=quick, needs_usd=0.05), 0.02)], "q", pool=pool
    )

    assert result.output == "the gist" and full.call_count == 0  # not even tried
    degraded = the(agent_recording, "degraded")
    assert (degraded["reason"], degraded["to"]) == ("budget", "quick-research")
    assert (degraded["needs_usd"], degraded["left_usd"]) == (0.05, 0.02)


async def test_degrade_checks_the_deadline_before_starting_the_full_path(
    fake_model: FakeModel, virtual_clock: VirtualEventLoop, agent_recording: Recording
) -> None:
    full = fake_model.agent("full", reply="thorough", latency=60)
    sla = Deadline(100, name="sla")
    virtual_clock.advance(50)
    cheap = degrade(full, fallback=lambda p: f"cached: {p}", needs_seconds=60, deadline=sla)

    reply = await cheap.run("status?")

    assert reply.text == "cached: status?" and full.call_count == 0
    degraded = the(agent_recording, "degraded")
    assert (degraded["reason"], degraded["left_seconds"]) == ("deadline", 50.0)
    assert virtual_clock.time() == 50


async def test_degrade_takes_the_full_path_when_it_is_covered_and_lets_other_errors_through(
    fake_model: FakeModel, budget_pool: PoolFactory, agent_recording: Recording
) -> None:
    full = fake_model.agent("full", reply="thorough")
    pool = budget_pool(usd=0.10)
    async with pool.acquire(max_usd=0.05) as stage:
        reply = await degrade(full, fallback="cached", needs_usd=0.01).run("q", budget=stage)
    assert reply.text == "thorough" and "degraded" not in decisions(agent_recording)

    broken = fake_model.agent("broken", error=ValueError("bug"))
    with pytest.raises(ValueError, match="bug"):
        await degrade(broken, fallback="cached").run("q")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda a: with_retry(a, attempts=0), "attempts"),
        (lambda a: with_retry(a, jitter=2), "jitter"),
        (lambda a: with_retry(a, backoff=float("nan")), "backoff"),
        (lambda a: with_retry(a, multiplier=0.5), "multiplier"),
        (lambda a: with_retry(a, retry_on="timeouts"), "retry_on"),
        (lambda a: with_retry(a, seed="1"), "seed"),
        (lambda a: with_fallback(a), "at least one fallback"),
        (lambda a: with_fallback(a, object()), "fallback #1"),
        (lambda a: with_fallback(a, a, timeout=-1), "non-negative"),
        (lambda a: degrade(a, fallback=3), "fallback"),
        (lambda a: degrade(a, fallback="x", needs_seconds=5), "deadline"),
        (lambda a: degrade(a, fallback="x", needs_usd="NaN"), "needs_usd"),
        (lambda a: with_retry(object()), "the agent to retry"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_are_refused_with_a_message_naming_them(
    make: Callable[[object], object], message: str
) -> None:
    agent = FakeModel().agent("a", reply="ok")
    with pytest.raises(ConfigurationError, match=message):
        make(agent)


def test_recovery_decisions_go_to_the_given_log() -> None:
    model = FakeModel()
    log = DecisionLog(name="ops")
    flaky = model.agent("flaky", error="timeout", fail_times=1, reply="ok")

    async def main() -> str:
        return (await with_retry(flaky, log=log, jitter=0).run("x")).text

    assert agentrig.run(main()) == "ok"
    assert [e["decision"] for e in log.entries] == ["retry_scheduled", "retry_recovered"]
