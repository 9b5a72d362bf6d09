"""The production adapter (:class:`support_triage.ChatAgent`) against a stubbed provider call.

No fake model here: the provider's ``complete`` is stubbed, and the plugin's ``tracer`` and
``budget_pool`` fixtures check that the adapter traces and charges a call as the fake does.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from support_triage import ChatAgent, Completion

from agentrig import BudgetPool, Recording, Tracer


async def test_the_chat_agent_charges_and_traces_a_real_style_call(
    tracer: Tracer, budget_pool: Callable[..., BudgetPool], agent_recording: Recording
) -> None:
    async def complete(model: str, system: str, prompt: str) -> Completion:
        return Completion(text=f"{model} says hi", input_tokens=100, output_tokens=20)

    agent = ChatAgent(
        "writer",
        model="gpt-4o",
        system="You write support replies.",
        complete=complete,
        usd_per_1k=("0.0025", "0.01"),
        tracer=tracer,
    )
    pool = budget_pool(usd=0.01)

    async with pool.acquire(max_usd=0.005, name="reply") as stage:
        out = await agent.run("Write a reply", budget=stage)

    assert (out.text, out.tokens, out.usd) == ("gpt-4o says hi", 120, Decimal("0.00045"))
    assert pool.spent_usd == Decimal("0.00045")
    (span,) = agent_recording.spans_named("chat gpt-4o")
    assert span.attributes["gen_ai.request.model"] == "gpt-4o"
    assert span.attributes["gen_ai.usage.input_tokens"] == 100
    assert span.attributes["agentrig.cost_usd"] == 0.00045
    (charge,) = agent_recording.entries_of("budget.charge")
    assert (charge.data["stage"], charge.data["label"]) == ("reply", "model.call writer")
