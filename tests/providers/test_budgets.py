"""Ambient stage budgets for SDK calls, refusals before the call, and atomic reservations."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import anthropic
import openai
import pytest

from agentrig import BudgetExceeded, BudgetPool, FakeModel, current_stage_budget
from agentrig.providers import budget_exceeded
from agentrig.recording import Recording

ASK = [{"role": "user", "content": "research topic"}]  # 2 tokens in; "notes" is 1 token out
ONE_CALL = Decimal("0.000015")  # gpt-4o: (2 * 0.0025 + 1 * 0.01) / 1000


async def _ask(client: openai.AsyncOpenAI) -> str | None:
    out = await client.chat.completions.create(model="gpt-4o", messages=ASK)
    return out.choices[0].message.content


async def test_sdk_calls_inside_an_acquire_block_are_charged_to_that_stage(
    fake_model: FakeModel,
) -> None:
    fake_model.agent("research", model="gpt-4o", reply="notes")
    assert fake_model.price("gpt-4o").cost(2, 1) == ONE_CALL
    pool = BudgetPool(usd="0.01")
    client = openai.AsyncOpenAI(api_key="k")
    async with pool.acquire(max_usd="0.001", name="research") as stage:
        assert current_stage_budget() is stage
        await _ask(client)
        await asyncio.gather(_ask(client), _ask(client))  # child tasks inherit the stage
    assert current_stage_budget() is None
    assert stage.spent_usd == 3 * ONE_CALL
    assert [e.label for e in stage.ledger] == ["model.call research"] * 3
    await _ask(client)  # outside any stage: charged to nothing
    assert pool.statistics().spent_usd == 3 * ONE_CALL


async def test_a_call_the_stage_cannot_afford_is_refused_before_it_is_made(
    fake_model: FakeModel, agent_recording: Recording
) -> None:
    fake_model.agent("research", model="gpt-4o", reply="notes", latency=5)
    pool = BudgetPool(usd="0.01")
    client = openai.AsyncOpenAI(api_key="k", max_retries=0)
    loop = asyncio.get_running_loop()
    async with pool.acquire(max_usd="0.00001", name="tiny") as stage:
        start = loop.time()
        with pytest.raises(Exception) as info:
            await _ask(client)  # openai 3.x lets it through, older SDKs wrap it
        assert loop.time() == start  # refused at once: no latency, no spend
    refused = budget_exceeded(info.value)
    assert isinstance(refused, BudgetExceeded)
    assert "would cost $0.000015" in str(refused) and "budget 'tiny'" in str(refused)
    assert stage.spent_usd == 0 and stage.ledger == ()
    (span,) = agent_recording.spans_named("chat gpt-4o")
    assert span.attributes["error.type"] == "BudgetExceeded"
    assert span.attributes["agentrig.cost_usd"] == 0.0


async def test_concurrent_calls_on_one_stage_never_spend_past_its_cap(
    fake_model: FakeModel,
) -> None:
    """A broadcast of five on a stage that affords four: four calls, one refused up front.

    Before reservations, all five passed the affordability check while none had been charged
    yet (they all wait their latency first), and the stage spent 125 % of its cap.
    """
    agent = fake_model.agent("r", model="gpt-4o", reply="notes", latency=3)
    pool = BudgetPool(usd="1")
    async with pool.acquire(max_usd=4 * ONE_CALL, name="broadcast") as stage:
        results = await asyncio.gather(
            *(agent.run("research topic", budget=stage) for _ in range(5)),
            return_exceptions=True,
        )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], BudgetExceeded)
    assert stage.spent_usd == 4 * ONE_CALL == stage.cap_usd
    assert all(entry.accepted for entry in stage.ledger)


async def test_concurrent_sdk_calls_on_the_ambient_stage_respect_its_cap(
    fake_model: FakeModel,
) -> None:
    fake_model.agent("r", model="gpt-4o", reply="notes", latency=3)
    client = openai.AsyncOpenAI(api_key="k", max_retries=0)
    pool = BudgetPool(usd="1")
    async with pool.acquire(max_usd=2 * ONE_CALL, name="fan") as stage:
        results = await asyncio.gather(*(_ask(client) for _ in range(3)), return_exceptions=True)
    refused = [isinstance(r, BaseException) and budget_exceeded(r) is not None for r in results]
    assert refused == [False, False, True]
    assert stage.spent_usd == 2 * ONE_CALL


async def test_anthropic_wraps_the_refusal_and_budget_exceeded_finds_it(
    fake_model: FakeModel,
) -> None:
    fake_model.agent("c", model="claude-haiku-4-5", reply="notes")
    client = anthropic.AsyncAnthropic(api_key="k", max_retries=1)
    pool = BudgetPool(usd="1")
    async with pool.acquire(max_usd="0.000001", name="tiny"):
        with pytest.raises(anthropic.APIConnectionError) as info:
            await client.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=ASK)
    refused = budget_exceeded(info.value)
    assert isinstance(refused, BudgetExceeded)
    assert "budget 'tiny'" in str(refused)
    assert [type(c.error) for c in fake_model.calls] == [BudgetExceeded, BudgetExceeded]


def test_a_reservation_commits_or_cancels_exactly_once() -> None:
    pool = BudgetPool(usd="1.00")
    with pool.acquire_nowait(max_usd="0.50", name="s") as stage:
        first = stage.reserve("0.30")
        assert first is not None
        assert stage.reserve("0.30") is None  # 0.30 held + 0.30 > 0.50
        assert not stage.can_afford("0.30")
        first.commit(label="call")
        with pytest.raises(RuntimeError, match="already settled"):
            first.commit()
        second = stage.reserve("0.20")
        assert second is not None
        second.cancel()
        second.cancel()  # idempotent
        assert stage.can_afford("0.20")
    assert pool.statistics().spent_usd == Decimal("0.30")
