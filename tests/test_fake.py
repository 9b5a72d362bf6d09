"""FakeModel and its agents: replies, rules, failures, latency, tokens, money, spans, calls."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from typing import Any, TypeVar

import hypothesis
import pytest

import agentrig
from agentrig import (
    BudgetExceeded,
    ConfigurationError,
    FakeRateLimitError,
    FakeTimeoutError,
    ScriptExhausted,
    StateError,
    UnscriptedCall,
)
from agentrig.budget import BudgetPool
from agentrig.clock import run
from agentrig.fake import (
    DEFAULT_PRICES,
    FakeAgent,
    FakeModel,
    FakeReply,
    Price,
    count_tokens,
    rate_limit,
    timeout,
)
from agentrig.recording import Recording
from agentrig.tracing import Tracer

D = Decimal
T = TypeVar("T")


def now() -> float:
    return asyncio.get_running_loop().time()


def call(agent: FakeAgent, prompt: str, **kwargs: Any) -> FakeReply:
    """Run one call on a fresh virtual loop."""
    return run(agent.run(prompt, **kwargs))


def run_timed(main: Callable[[], Coroutine[Any, Any, T]]) -> tuple[T, float]:
    """Run ``main()`` on the virtual loop; return its result and the virtual time at the end."""

    async def wrapper() -> tuple[T, float]:
        result = await main()
        return result, now()

    return run(wrapper())


async def outcome(awaitable: Awaitable[FakeReply]) -> str:
    try:
        return (await awaitable).text
    except Exception as exc:
        return f"{type(exc).__name__}"


# -- replies -----------------------------------------------------------------------------------


def test_fixed_reply_is_returned_with_tokens_and_exact_cost() -> None:
    fake = FakeModel()
    research = fake.agent("research", reply="notes about X")
    out = call(research, "query")
    assert out.text == "notes about X"
    assert (out.input_tokens, out.output_tokens, out.tokens) == (1, 3, 4)
    # fake-model: $0.0025 / $0.01 per 1k tokens -> (1 * 0.0025 + 3 * 0.01) / 1000
    assert out.usd == D("0.0000325")
    assert out.model == "fake-model" and out.agent == "research" and out.call == 1
    assert str(out) == "notes about X"


def test_callable_reply_gets_the_prompt() -> None:
    fake = FakeModel()
    draft = fake.agent("draft", reply=lambda prompt: f"report on {prompt[:20]}")
    assert call(draft, "battery recycling in Europe, 2025").text == "report on battery recycling in"


def test_replies_are_used_one_per_call_in_order() -> None:
    fake = FakeModel()
    review = fake.agent("review", replies=["1. tighten intro", "APPROVED"])

    async def main() -> list[str]:
        return [(await review.run("draft")).text, (await review.run("draft v2")).text]

    assert run(main()) == ["1. tighten intro", "APPROVED"]


def test_running_out_of_replies_raises_script_exhausted_naming_agent_call_and_prompt() -> None:
    fake = FakeModel()
    review = fake.agent("review", replies=["1. tighten intro", "APPROVED"])

    async def main() -> None:
        await review.run("a")
        await review.run("b")
        await review.run("Task: write the summary of everything")

    with pytest.raises(
        ScriptExhausted,
        match=r"agent 'review' has no reply left for call #3 \(prompt 'Task: write the summary"
        r".*give more replies=\[\.\.\.\] or a rule with on\(\.\.\.\)",
    ):
        run(main())
    assert review.calls[-1].error is not None
    assert isinstance(review.calls[-1].error, ScriptExhausted)


def test_exhausted_replies_can_repeat_the_last_or_cycle() -> None:
    fake = FakeModel()
    repeat = fake.agent("repeat", replies=["a", "b"], exhausted="repeat_last")
    cycle = fake.agent("cycle", replies=["a", "b"], exhausted="cycle")

    async def main() -> tuple[list[str], list[str]]:
        r = [(await repeat.run("p")).text for _ in range(4)]
        c = [(await cycle.run("p")).text for _ in range(5)]
        return r, c

    assert run(main()) == (["a", "b", "b", "b"], ["a", "b", "a", "b", "a"])


def test_reply_answers_the_calls_after_replies_ran_out() -> None:
    fake = FakeModel()
    agent = fake.agent("a", replies=["first"], reply="after")

    async def main() -> list[str]:
        return [(await agent.run("p")).text for _ in range(3)]

    assert run(main()) == ["first", "after", "after"]


def test_unscripted_call_gets_a_deterministic_default_reply() -> None:
    fake = FakeModel()
    agent = fake.agent("triage")
    out = call(agent, "Customer says:   the app crashes when I open settings on Android 14")
    assert out.text == "[triage] reply to: Customer says: the app crashes when I op…"
    assert agent.calls[0].answered_by == "default"


def test_strict_mode_raises_unscripted_call_listing_the_rules_and_the_prompt() -> None:
    fake = FakeModel(strict=True)
    agent = fake.agent("triage")
    agent.on("refund", reply="billing").on(re.compile(r"^crash"), reply="bug", times=1)
    with pytest.raises(UnscriptedCall) as info:
        call(agent, "where is my parcel?")
    message = str(info.value)
    assert "agent 'triage' (strict) has no script for call #1" in message
    assert "'where is my parcel?'" in message
    assert "rule #1: substring 'refund'" in message
    assert "rule #2: regex '^crash'" in message
    assert "agent.on(" in message


def test_strict_can_be_set_per_agent() -> None:
    fake = FakeModel(strict=True)
    lenient = fake.agent("lenient", strict=False)
    assert call(lenient, "hi").text == "[lenient] reply to: hi"
    strict = FakeModel().agent("strict", strict=True)
    with pytest.raises(UnscriptedCall, match="It has no rules"):
        call(strict, "hi")


# -- rules -------------------------------------------------------------------------------------


def test_rules_match_substring_regex_and_callable_first_match_wins() -> None:
    fake = FakeModel()
    agent = fake.agent("router", reply="fallback")
    agent.on("refund", reply="billing")
    agent.on(re.compile(r"crash(es|ed)?"), reply="bug")
    agent.on(lambda p: len(p) > 30, reply="long")
    agent.on("refund", reply="never: an earlier rule matches first")

    async def main() -> list[str]:
        prompts = [
            "I want a refund",
            "it crashed",
            "a prompt that is definitely longer than thirty characters",
            "refund, it crashed",  # both rule 1 and 2 match: rule 1 was added first
            "hi",
        ]
        return [(await agent.run(p)).text for p in prompts]

    assert run(main()) == ["billing", "bug", "long", "billing", "fallback"]
    assert [c.answered_by for c in agent.calls] == [
        "rule #1 (substring 'refund')",
        "rule #2 (regex 'crash(es|ed)?')",
        "rule #3 (callable test_rules_match_substring_regex_and_callable_first_match_wins."
        "<locals>.<lambda>)",
        "rule #1 (substring 'refund')",
        "reply=",
    ]


def test_rules_come_before_replies_and_times_limits_a_rule() -> None:
    fake = FakeModel()
    agent = fake.agent("a", replies=["r1", "r2"])
    agent.on("special", reply="rule", times=2)

    async def main() -> list[str]:
        prompts = ["special", "x", "special", "special"]
        return [(await agent.run(p)).text for p in prompts]

    assert run(main()) == ["rule", "r1", "rule", "r2"]


def test_rule_reply_can_be_callable_and_rule_can_fail() -> None:
    fake = FakeModel()
    agent = fake.agent("a", reply="ok")
    agent.on("echo", reply=lambda p: p.upper())
    agent.on("boom", error=ValueError("bad input"))
    assert call(agent, "echo me").text == "ECHO ME"
    with pytest.raises(ValueError, match="bad input"):
        call(agent, "boom")


# -- failures ----------------------------------------------------------------------------------


def test_error_instance_fails_every_call_with_a_fresh_copy() -> None:
    fake = FakeModel()
    flaky = fake.agent("web", error=TimeoutError("search timed out"))
    errors = []
    for _ in range(2):
        with pytest.raises(TimeoutError, match="search timed out") as info:
            call(flaky, "q")
        errors.append(info.value)
    assert errors[0] is not errors[1]
    assert [c.ok for c in flaky.calls] == [False, False]


def test_error_class_is_instantiated_with_a_message_naming_agent_and_call() -> None:
    fake = FakeModel()
    agent = fake.agent("web", error=ConnectionError)
    with pytest.raises(ConnectionError, match=r"agent 'web' \(call #1\): injected ConnectionError"):
        call(agent, "q")


def test_fail_times_then_succeed() -> None:
    fake = FakeModel()
    agent = fake.agent("web", error=ConnectionError("reset"), fail_times=2, reply="results")

    async def main() -> list[str]:
        return [await outcome(agent.run("q")) for _ in range(4)]

    assert run(main()) == ["ConnectionError", "ConnectionError", "results", "results"]


def test_fail_times_then_answers_from_replies() -> None:
    fake = FakeModel()
    agent = fake.agent("web", error="rate_limit", fail_times=1, replies=["a", "b"])

    async def main() -> list[str]:
        return [await outcome(agent.run("q")) for _ in range(3)]

    assert run(main()) == ["FakeRateLimitError", "a", "b"]


def test_rate_limit_fails_at_once_with_retry_after_and_costs_nothing() -> None:
    fake = FakeModel(latency=5.0)
    agent = fake.agent("web", error=rate_limit(retry_after=20))

    async def main() -> float:
        with pytest.raises(FakeRateLimitError, match=r"rate limited.*retry after 20s") as info:
            await agent.run("q")
        assert getattr(info.value, "retry_after", None) == 20.0
        return now()

    assert run(main()) == 0.0
    assert fake.calls[0].usd == 0 and fake.calls[0].tokens == 0


def test_rate_limit_string_is_the_default_rate_limit() -> None:
    agent = FakeModel().agent("web", error="rate_limit")
    with pytest.raises(FakeRateLimitError, match="retry after 1s"):
        call(agent, "q")


def test_timeout_costs_its_latency_in_virtual_time_then_raises(
    real_waits: list[float | None],
) -> None:
    fake = FakeModel()
    agent = fake.agent("deep", error="timeout", latency=30.0)

    async def main() -> float:
        with pytest.raises(FakeTimeoutError, match=r"agent 'deep' \(call #1\) timed out after 30s"):
            await agent.run("q")
        return now()

    assert run(main()) == 30.0
    assert real_waits == []
    assert isinstance(fake.calls[0].error, TimeoutError)  # FakeTimeoutError is a TimeoutError
    assert fake.calls[0].latency == 30.0


def test_built_in_failures_validate_their_seconds() -> None:
    with pytest.raises(ConfigurationError, match="`retry_after` must be non-negative, got -1"):
        rate_limit(retry_after=-1)
    with pytest.raises(ConfigurationError, match="`after` must be a finite"):
        timeout(after=float("inf"))


def test_timeout_after_overrides_the_latency() -> None:
    agent = FakeModel(latency=1.0).agent("deep", error=timeout(after=60))

    async def main() -> float:
        with pytest.raises(FakeTimeoutError, match="after 60s"):
            await agent.run("q")
        return now()

    assert run(main()) == 60.0


def test_other_failures_take_the_call_latency_first() -> None:
    agent = FakeModel().agent("a", error=RuntimeError("down"), latency=2.5)

    async def main() -> float:
        with pytest.raises(RuntimeError, match="down"):
            await agent.run("q")
        return now()

    assert run(main()) == 2.5


# -- latency -----------------------------------------------------------------------------------


def test_latency_is_virtual_seconds(real_waits: list[float | None]) -> None:
    fake = FakeModel()
    slow = fake.agent("deep", reply="...", latency=30.0)

    out, t = run_timed(lambda: slow.run("q"))
    assert real_waits == []
    assert t == 30.0 and out.latency == 30.0
    assert fake.calls[0].t == 0.0 and fake.calls[0].latency == 30.0


def test_latency_can_be_a_function_of_output_tokens() -> None:
    agent = FakeModel().agent("a", reply="one two three four", latency=lambda n: 0.5 + n * 0.25)
    out, t = run_timed(lambda: agent.run("q"))
    assert out.output_tokens == 4
    assert t == 1.5


def test_latency_precedence_rule_then_agent_then_model() -> None:
    fake = FakeModel(latency={"fake-model": 1.0, "big": 7.0}, prices={"big": (0.01, 0.03)})
    default = fake.agent("default", reply="x")
    big = fake.agent("big", reply="x", model="big")
    own = fake.agent("own", reply="x", latency=3.0)
    own.on("fast", reply="y", latency=0.25)

    async def main() -> list[float]:
        return [
            (await default.run("q")).latency,
            (await big.run("q")).latency,
            (await own.run("q")).latency,
            (await own.run("fast")).latency,
        ]

    assert run(main()) == [1.0, 7.0, 3.0, 0.25]


def test_concurrent_calls_overlap_in_virtual_time() -> None:
    fake = FakeModel(latency=10.0)
    agents = [fake.agent(f"a{i}", reply=str(i)) for i in range(3)]

    async def main() -> list[FakeReply]:
        return list(await asyncio.gather(*(a.run("q") for a in agents)))

    replies, t = run_timed(main)
    assert t == 10.0
    assert [r.text for r in replies] == ["0", "1", "2"]


def test_bad_latency_from_a_callable_is_a_clear_error() -> None:
    agent = FakeModel().agent("a", reply="x", latency=lambda n: -1.0)
    with pytest.raises(ConfigurationError, match=r"agent 'a'.*latency callable returned -1.0"):
        call(agent, "q")


# -- tokens ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("   \n\t", 0),
        ("Hello, world!", 4),
        ("internationalization", 3),  # 20 letters: ceil(20 / 8)
        ("2025", 2),  # digits in groups of 3: 202 5
        ("APPROVED", 1),
        ("café", 2),  # caf + é (each non-ASCII character is one token)
        ("Summarize the latest research on battery recycling.", 10),
    ],
)
def test_count_tokens_is_the_documented_rule(text: str, tokens: int) -> None:
    assert count_tokens(text) == tokens


def _tokens_by_runs(text: str) -> int:
    """The documented rule, spelled out run by run (what count_tokens must equal)."""
    total = 0
    for piece in re.findall(r"[A-Za-z]+|[0-9]+|[^ \t\n\r\f\v]", text):
        if piece[0].isascii() and piece[0].isalpha():
            total += -(-len(piece) // 8)
        elif piece[0].isascii() and piece[0].isdigit():
            total += -(-len(piece) // 3)
        else:
            total += 1
    return total


@hypothesis.given(
    hypothesis.strategies.text(
        alphabet=hypothesis.strategies.sampled_from("aZkq09 \t\n\r\f\v.,-_é漢\u00a0"), max_size=80
    )
)
def test_count_tokens_equals_the_rule_run_by_run(text: str) -> None:
    assert count_tokens(text) == _tokens_by_runs(text)


def test_a_custom_tokenizer_replaces_the_count() -> None:
    fake = FakeModel(tokenizer=lambda text: len(text))
    out = call(fake.agent("a", reply="abcd"), "xy")
    assert (out.input_tokens, out.output_tokens) == (2, 4)


def test_a_tokenizer_returning_garbage_is_refused() -> None:
    fake = FakeModel(tokenizer=lambda text: -1)
    with pytest.raises(ConfigurationError, match="tokenizer must return a non-negative int"):
        call(fake.agent("a", reply="x"), "q")


# -- prices ------------------------------------------------------------------------------------


def test_cost_is_exact_decimal_from_the_price_per_1k_tokens() -> None:
    fake = FakeModel(prices={"fake-model": (0.1, 0.2)})  # floats are read exactly as written
    out = call(fake.agent("a", reply="one two three"), "one two")
    # (2 * 0.1 + 3 * 0.2) / 1000, exactly
    assert out.usd == D("0.0008")
    assert fake.total_usd == D("0.0008")
    assert fake.total_tokens == 5


def test_default_prices_exist_and_can_be_overridden_per_model() -> None:
    assert DEFAULT_PRICES["fake-model"] == Price("0.0025", "0.01")
    assert DEFAULT_PRICES["gpt-4o-mini"] == Price("0.00015", "0.0006")
    fake = FakeModel(prices={"gpt-4o": Price("1", "2"), "free": 0})
    assert fake.price("gpt-4o") == Price(1, 2)
    assert fake.price("gpt-4o-mini") == DEFAULT_PRICES["gpt-4o-mini"]
    assert call(fake.agent("free", model="free", reply="x y z"), "q").usd == 0


def test_a_model_without_a_price_is_refused_when_the_agent_is_made() -> None:
    fake = FakeModel()
    with pytest.raises(ConfigurationError, match=r"no price for agent 'a''s model 'my-llm'"):
        fake.agent("a", model="my-llm")
    with pytest.raises(ConfigurationError, match="no price for model 'mystery'"):
        FakeModel(model="mystery")


def test_bad_prices_are_refused_naming_the_model() -> None:
    with pytest.raises(ConfigurationError, match=r"prices\['m'\]"):
        FakeModel(prices={"m": [1, 2, 3]})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError, match="finite"):
        FakeModel(prices={"m": (float("nan"), 1)})


# -- budgets -----------------------------------------------------------------------------------


def test_the_call_is_charged_to_the_stage_budget_with_tokens_and_label() -> None:
    fake = FakeModel(prices={"fake-model": (1, 1)})
    agent = fake.agent("research", reply="notes about X")

    async def main() -> BudgetPool:
        pool = BudgetPool(usd=0.10)
        async with pool.acquire(max_usd=0.04, name="research") as stage_budget:
            out = await agent.run("query", budget=stage_budget)
            assert stage_budget.spent_usd == out.usd == D("0.004")
        return pool

    pool = run(main())
    (entry,) = pool.ledger
    assert (entry.stage, entry.usd, entry.tokens, entry.label, entry.accepted) == (
        "research",
        D("0.004"),
        4,
        "model.call research",
        True,
    )


def test_a_call_the_budget_cannot_afford_is_refused_before_it_is_made() -> None:
    fake = FakeModel(prices={"fake-model": (1, 1)}, latency=5.0)
    agent = fake.agent("draft", reply="a long draft " * 10)  # 31 tokens with the prompt: $0.031

    async def main() -> tuple[BudgetPool, float]:
        pool = BudgetPool(usd=0.10)
        async with pool.acquire(max_usd=0.02, name="draft") as stage:
            with pytest.raises(
                BudgetExceeded,
                match=r"agent 'draft' call #1 .* would cost \$0\.031 .* nothing was spent",
            ):
                await agent.run("q", budget=stage)
        return pool, now()

    pool, t = run(main())
    assert pool.ledger == () and pool.spent_usd == 0
    assert t == 0.0  # no latency either: the call was never made
    assert fake.calls[0].usd == 0


def test_without_check_budget_the_refused_charge_keeps_the_spend_record() -> None:
    fake = FakeModel(prices={"fake-model": (1, 1)}, check_budget=False)
    agent = fake.agent("draft", reply="a long draft " * 10)

    async def main() -> BudgetPool:
        pool = BudgetPool(usd=0.10)
        async with pool.acquire(max_usd=0.02, name="draft") as stage:
            with pytest.raises(BudgetExceeded):
                await agent.run("q", budget=stage)
        return pool

    pool = run(main())
    (entry,) = pool.ledger
    assert entry.usd == D("0.031") and entry.accepted is False
    assert pool.spent_usd == D("0.031")  # spend that happened is never dropped
    record = fake.calls[0]
    assert isinstance(record.error, BudgetExceeded)
    assert record.usd == D("0.031") and record.text is not None


def test_budget_is_optional_and_any_budget_like_object_works() -> None:
    charges: list[tuple[Decimal, int, str | None]] = []

    class Ledger:
        def charge(self, usd: Any = 0, *, tokens: int = 0, label: str | None = None) -> None:
            charges.append((usd, tokens, label))

    agent = FakeModel(prices={"fake-model": (1, 1)}).agent("a", reply="x")
    call(agent, "q")
    call(agent, "q", budget=Ledger())
    assert charges == [(D("0.002"), 2, "model.call a")]


# -- spans and the call log --------------------------------------------------------------------


def test_every_call_is_a_model_call_span_with_genai_attributes_prompt_and_reply() -> None:
    fake = FakeModel(prices={"fake-model": (1, 1)})
    agent = fake.agent("research", reply="notes")
    rec = Recording()
    with rec.activate():
        call(agent, "query")
    (span,) = rec.spans
    assert span.name == "chat fake-model"
    assert span.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "agentrig",
        "gen_ai.agent.name": "research",
        "gen_ai.request.model": "fake-model",
        "gen_ai.usage.input_tokens": 1,
        "gen_ai.usage.output_tokens": 1,
        "agentrig.cost_usd": 0.002,
        "agentrig.prompt": "query",
        "agentrig.reply": "notes",
    }
    assert (span.start, span.end, span.status) == (0.0, 0.0, "unset")


def test_a_failed_call_is_recorded_on_its_span() -> None:
    agent = FakeModel().agent("web", error="timeout", latency=3)
    rec = Recording()
    with rec.activate(), pytest.raises(FakeTimeoutError):
        call(agent, "q")
    (span,) = rec.spans
    assert span.status == "error"
    assert span.error is not None and span.error["type"] == "FakeTimeoutError"
    assert span.attributes["error.type"] == "FakeTimeoutError"
    assert span.attributes["gen_ai.usage.output_tokens"] == 0
    assert span.attributes["agentrig.cost_usd"] == 0.0
    assert [e.name for e in span.events] == ["exception"]
    assert (span.start, span.end) == (0.0, 3.0)


def test_spans_go_through_the_given_tracer() -> None:
    tracer = Tracer()
    agent = FakeModel(tracer=tracer).agent("a", reply="x")
    call(agent, "q")
    (span,) = tracer.finished_spans
    assert span.name == "chat fake-model" and span.attributes["agentrig.reply"] == "x"


def test_call_log_is_in_call_order_not_completion_order() -> None:
    fake = FakeModel()
    slow = fake.agent("slow", reply="s", latency=10)
    fast = fake.agent("fast", reply="f", latency=1)

    async def main() -> None:
        await asyncio.gather(slow.run("1"), fast.run("2"))

    run(main())
    assert [(c.agent, c.t, c.latency) for c in fake.calls] == [
        ("slow", 0.0, 10.0),
        ("fast", 0.0, 1.0),
    ]
    assert [c.agent for c in fast.calls] == ["fast"]
    assert slow.call_count == 1


def test_concurrent_calls_to_one_agent_get_replies_in_call_order() -> None:
    agent = FakeModel().agent("a", replies=["first", "second", "third"], latency=lambda n: 1.0)

    async def main() -> list[str]:
        replies = await asyncio.gather(*(agent.run(str(i)) for i in range(3)))
        return [r.text for r in replies]

    assert run(main()) == ["first", "second", "third"]
    assert [c.prompt for c in agent.calls] == ["0", "1", "2"]


def test_script_callables_may_read_the_call_log() -> None:
    fake = FakeModel()
    agent = fake.agent(
        "a", reply=lambda p: f"call {len(fake.calls) + 1}, {fake.agents['a'].call_count}"
    )
    agent.on(lambda p: len(fake.calls) > 0, reply="seen before")

    async def main() -> list[str]:
        return [(await agent.run("q")).text for _ in range(2)]

    assert run(main()) == ["call 1, 1", "seen before"]


def test_agents_are_independent() -> None:
    fake = FakeModel()
    a = fake.agent("a", replies=["a1", "a2"])
    b = fake.agent("b", replies=["b1", "b2"])

    async def main() -> list[str]:
        return [(await x.run("q")).text for x in (a, b, a, b)]

    assert run(main()) == ["a1", "b1", "a2", "b2"]
    assert [c.call for c in fake.calls] == [1, 1, 2, 2]


def test_the_same_script_gives_the_same_calls_every_run() -> None:
    def once() -> list[tuple[Any, ...]]:
        fake = FakeModel(latency=lambda n: n / 10)
        agent = fake.agent("a", replies=["one two", "three"], reply=lambda p: p[::-1])
        agent.on(re.compile(r"\d+"), reply="number")

        async def main() -> None:
            await asyncio.gather(*(agent.run(p) for p in ["x", "42", "y", "zz"]))

        run(main())
        return [(c.call, c.prompt, c.text, c.tokens, c.usd, c.t, c.latency) for c in fake.calls]

    assert once() == once()


# -- protocol and validation -------------------------------------------------------------------


def test_fake_agents_satisfy_the_agent_protocol() -> None:
    agent = FakeModel().agent("a")
    assert isinstance(agent, agentrig.Agent)
    assert isinstance(call(agent, "q"), agentrig.AgentReply)


def test_fake_agent_cannot_be_created_directly() -> None:
    with pytest.raises(StateError, match=r"fake_model\.agent\(name"):
        FakeAgent()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replies": "abc"}, "for one fixed reply use reply="),
        ({"replies": ["a", 1]}, r"replies\[1\] must be a str"),
        ({"reply": 3}, "`reply` must be a str or a callable"),
        ({"fail_times": 2}, "`fail_times` needs error="),
        ({"error": "boom"}, "`error` must be an exception instance or class"),
        ({"error": ValueError, "fail_times": 0}, "`fail_times` must be a positive int"),
        ({"latency": -1}, "`latency` must be non-negative, got -1"),
        ({"exhausted": "loop", "replies": ["a"]}, "`exhausted` must be one of"),
        ({"exhausted": "cycle"}, "give replies"),
        ({"exhausted": "cycle", "replies": ["a"], "reply": "b"}, "not both"),
    ],
)
def test_bad_agent_arguments_are_refused_naming_the_parameter(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        FakeModel().agent("a", **kwargs)


def test_agent_names_are_unique_and_listed() -> None:
    fake = FakeModel()
    first = fake.agent("a")
    with pytest.raises(ConfigurationError, match="already has an agent named 'a'"):
        fake.agent("a")
    assert fake.agents["a"] is first
    assert "agents=['a']" in repr(fake)


@pytest.mark.parametrize(
    ("match", "kwargs", "message"),
    [
        ("", {"reply": "x"}, "empty substring"),
        (42, {"reply": "x"}, "`match` must be a str"),
        ("x", {}, "exactly one of reply= or error="),
        ("x", {"reply": "a", "error": ValueError}, "exactly one of reply= or error="),
        ("x", {"reply": "a", "times": 0}, "`times` must be a positive int"),
    ],
)
def test_bad_rules_are_refused(match: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        FakeModel().agent("a").on(match, **kwargs)


def test_a_non_str_prompt_is_refused() -> None:
    agent = FakeModel().agent("a")
    with pytest.raises(ConfigurationError, match="the prompt must be a str, got dict"):
        call(agent, {"role": "user"})  # type: ignore[arg-type]


def test_a_reply_callable_returning_a_non_str_is_refused() -> None:
    agent = FakeModel().agent("a", reply=lambda p: 42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="reply= callable must return a str"):
        call(agent, "q")


def test_the_request_of_agent_run_is_the_one_the_general_constructor_builds() -> None:
    from agentrig.chat import FakeRequest, Message

    fast = FakeRequest.from_prompt("Task: the report", model="fake-model")
    general = FakeRequest(
        provider="agentrig",
        api="run",
        model="fake-model",
        messages=[Message("user", "Task: the report")],
    )
    assert str(fast) == str(general) == "Task: the report"
    assert vars(fast) == vars(general)
    assert list(vars(fast)) == list(vars(general))  # same attributes, in the same order
