"""Replayed model calls are charged and traced exactly as fake calls are.

Each test replays its committed cassette (``snapshots/tests/cassettes/
test_replay_budgets_and_spans/``) through the real openai and anthropic SDKs, offline: the
clients point at a port where nothing listens. To re-record them (no key needed: the fixture
below then starts the local OpenAI/Anthropic-compatible server of ``llm_server.py``)::

    pytest tests/cassettes/test_replay_budgets_and_spans.py --agentrig-record=all

While recording, a stage is given room for every call: a real call's cost is known only once
it was made (so it is charged after the fact), where a replayed call's is known before.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest
from llm_server import llm_server

from agentrig import BudgetExceeded, BudgetPool, FakeModel, ToolCall
from agentrig.fake import DEFAULT_PRICES
from agentrig.model_span import REPLAY_ONLY_ATTRIBUTES
from agentrig.plugin.cassettes import LlmCassette
from agentrig.providers import budget_exceeded
from agentrig.providers.intercept import PRIORITY_FAKE, activate
from agentrig.providers.responder import FakeModelResponder
from agentrig.recording import Recording
from agentrig.tracing import Span

KEY = "sk-proj-replayBUDGETS1234567890abcd"
ASK = [{"role": "user", "content": "research topic"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "today's weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture
def llm_url(llm_cassette: LlmCassette) -> Iterator[str]:
    """Where the SDK clients send: nowhere in replay; the local server while recording."""
    if llm_cassette.mode == "replay":
        yield "http://127.0.0.1:9"  # nothing listens: a replay that reached it would fail
        return
    with llm_server() as server:
        yield server.url


def _price(model: str, prompt_tokens: int, completion_tokens: int) -> Decimal:
    return DEFAULT_PRICES[model].cost(prompt_tokens, completion_tokens)


def _cap(llm_cassette: LlmCassette, usd: Decimal) -> Decimal | str:
    return usd if llm_cassette.mode == "replay" else "1"


def _model_spans(recording: Recording) -> list[Span]:
    """The model-call spans (anthropic's own SDK span, when it traces, is folded into one)."""
    return [s for s in recording.spans if s.attributes.get("gen_ai.operation.name") == "chat"]


async def test_replayed_openai_calls_are_charged_to_the_ambient_stage(
    llm_cassette: LlmCassette, llm_url: str, agent_recording: Recording
) -> None:
    client = openai.AsyncOpenAI(base_url=llm_url + "/v1", api_key=KEY, max_retries=0)

    async def ask() -> openai.types.CompletionUsage:
        reply = await client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
        assert reply.usage is not None
        return reply.usage

    pool = BudgetPool(usd="1")
    async with pool.acquire(max_usd="0.01", name="research") as stage:
        usages = [await ask()]
        usages += await asyncio.gather(ask(), ask())  # child tasks inherit the stage
    outside = await ask()  # charged to nothing
    assert outside.completion_tokens > 0

    # What the app was told each call used is what the stage was charged, at agentrig's prices.
    assert [e.label for e in stage.ledger] == ["model.call gpt-4o-mini"] * 3
    assert sorted(e.tokens for e in stage.ledger) == sorted(
        u.prompt_tokens + u.completion_tokens for u in usages
    )
    expected = sum(
        (_price("gpt-4o-mini", u.prompt_tokens, u.completion_tokens) for u in usages), Decimal(0)
    )
    assert stage.spent_usd == expected > 0
    assert pool.statistics().spent_usd == expected
    assert all(e.accepted for e in stage.ledger)
    spans = _model_spans(agent_recording)
    assert sum(Decimal(str(s.attributes["agentrig.cost_usd"])) for s in spans[:3]) == expected
    if llm_cassette.mode == "replay":
        assert llm_cassette.calls == tuple(f"replayed #{i}" for i in range(4))


async def test_a_replayed_call_the_stage_cannot_afford_is_refused_before_it_is_made(
    llm_cassette: LlmCassette, llm_url: str, agent_recording: Recording
) -> None:
    client = openai.AsyncOpenAI(base_url=llm_url + "/v1", api_key=KEY, max_retries=0)
    # The server's answer to ASK: 10 prompt and 8 completion tokens (see llm_server.py).
    one_call = _price("gpt-4o-mini", 10, 8)
    pool = BudgetPool(usd="1")
    async with pool.acquire(max_usd=_cap(llm_cassette, one_call), name="tiny") as stage:
        first = await client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
        if llm_cassette.mode == "replay":
            with pytest.raises(Exception) as info:  # openai 3.x lets it through unchanged
                await client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert first.usage is not None
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (10, 8)
    if llm_cassette.mode != "replay":
        await client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
        return
    refused = budget_exceeded(info.value)
    assert isinstance(refused, BudgetExceeded)  # the same error a fake call gives
    message = str(refused)
    assert "llm_cassette call #2 (gpt-4o-mini, prompt 'research topic')" in message
    assert f"would cost ${one_call} for 18 tokens" in message
    assert "budget 'tiny'" in message and "nothing was spent" in message
    assert stage.spent_usd == one_call == stage.cap_usd
    assert [(e.label, e.accepted) for e in stage.ledger] == [("model.call gpt-4o-mini", True)]
    ok, no = _model_spans(agent_recording)
    assert no.attributes["error.type"] == "BudgetExceeded"
    assert (no.attributes["agentrig.cost_usd"], no.attributes["gen_ai.usage.output_tokens"]) == (
        0.0,
        0,
    )
    assert ok.attributes["agentrig.cost_usd"] == float(one_call)
    # The refused call took no recorded answer: the next identical request gets it.
    again = await client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert again.choices[0].message.content == "echo #2: research topic"
    assert llm_cassette.calls == ("replayed #0", "?", "replayed #1")


async def test_anthropic_wraps_a_replayed_refusal_and_budget_exceeded_finds_it(
    llm_cassette: LlmCassette, llm_url: str, agent_recording: Recording
) -> None:
    client = anthropic.AsyncAnthropic(base_url=llm_url, api_key=KEY, max_retries=1)

    async def ask() -> str:
        message = await client.messages.create(
            model="claude-sonnet-4-6", max_tokens=16, messages=ASK
        )
        block = message.content[0]
        assert isinstance(block, anthropic.types.TextBlock)
        return block.text

    pool = BudgetPool(usd="1")
    async with pool.acquire(max_usd=_cap(llm_cassette, Decimal("0.000001")), name="tiny") as stage:
        if llm_cassette.mode == "replay":
            with pytest.raises(anthropic.APIConnectionError) as info:
                await ask()
            refused = budget_exceeded(info.value)
            assert isinstance(refused, BudgetExceeded)
            assert "budget 'tiny'" in str(refused)
            assert stage.ledger == ()
            # The SDK retried once; both attempts were refused, and traced as refused.
            spans = [
                s
                for s in agent_recording.spans
                if s.attributes.get("agentrig.source") == "cassette"
            ]
            assert [s.attributes["error.type"] for s in spans] == ["BudgetExceeded"] * 2
            assert [s.attributes["agentrig.cost_usd"] for s in spans] == [0.0, 0.0]
    assert await ask() == "echo #1: research topic"  # outside the stage: replayed as recorded


def test_a_sync_client_in_a_nowait_stage_is_charged_too(
    llm_cassette: LlmCassette, llm_url: str
) -> None:
    client = openai.OpenAI(base_url=llm_url + "/v1", api_key=KEY, max_retries=0)
    pool = BudgetPool(usd="1")
    with pool.acquire_nowait(max_usd="0.01", name="sync") as stage:
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert reply.usage is not None
    assert stage.spent_usd == _price(
        "gpt-4o-mini", reply.usage.prompt_tokens, reply.usage.completion_tokens
    )
    assert [(e.label, e.tokens) for e in stage.ledger] == [
        ("model.call gpt-4o-mini", reply.usage.prompt_tokens + reply.usage.completion_tokens)
    ]


# -- one span builder -------------------------------------------------------------------------


async def _conversation(openai_client: Any, anthropic_client: Any) -> list[Any]:
    """The same requests, answered once from the cassette and once by a FakeModel."""
    system = {"role": "system", "content": "You are a weather desk."}
    question = {"role": "user", "content": "weather in Paris?"}
    first = await openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[system, question], tools=[WEATHER_TOOL], max_tokens=50
    )
    call = first.choices[0].message.tool_calls[0]
    second = await openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            system,
            question,
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
        tools=[WEATHER_TOOL],
        max_tokens=50,
    )
    stream = await openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[question],
        stream=True,
        stream_options={"include_usage": True},
    )
    streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    message = await anthropic_client.messages.create(
        model="claude-sonnet-4-6", max_tokens=64, system="Be brief.", messages=ASK
    )
    tools = [{"name": "get_weather", "input_schema": WEATHER_TOOL["function"]["parameters"]}]
    ask = {"role": "user", "content": "weather in Paris?"}
    used = await anthropic_client.messages.create(
        model="claude-sonnet-4-6", max_tokens=64, messages=[ask], tools=tools
    )
    (tool_use,) = used.content
    answered = await anthropic_client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=64,
        tools=tools,
        messages=[
            ask,
            {"role": "assistant", "content": [tool_use.model_dump(exclude_none=True)]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": tool_use.id, "content": "sunny"}
                ],
            },
        ],
    )
    return [
        (call.id, call.function.name, json.loads(call.function.arguments)),
        second.choices[0].message.content,
        streamed,
        message.content[0].text,
        (tool_use.id, tool_use.name, tool_use.input),
        answered.content[0].text,
    ]


CONTENT = (
    "agentrig.prompt",
    "agentrig.reply",
    "agentrig.stream",
    "gen_ai.input.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.request.max_tokens",
    "gen_ai.request.model",
    "gen_ai.agent.name",
    "gen_ai.provider.name",
    "gen_ai.operation.name",
)


async def test_a_replayed_call_has_the_span_a_fake_call_has_for_the_same_exchange(
    llm_cassette: LlmCassette, llm_url: str, agent_recording: Recording
) -> None:
    oa = openai.AsyncOpenAI(base_url=llm_url + "/v1", api_key=KEY, max_retries=0)
    an = anthropic.AsyncAnthropic(base_url=llm_url, api_key=KEY, max_retries=0)
    answers = await _conversation(oa, an)
    call, tool_answer, streamed, claude, tool_use, claude_tool_answer = answers
    replayed = _model_spans(agent_recording)

    fake = FakeModel()  # scripted to answer exactly what the cassette answered
    fake.agent(
        "gpt-4o-mini",
        model="gpt-4o-mini",
        replies=[
            ToolCall(call[1], call[2], id=call[0]),
            tool_answer,
            streamed,
        ],
    )
    fake.agent(
        "claude-sonnet-4-6",
        model="claude-sonnet-4-6",
        replies=[claude, ToolCall(tool_use[1], tool_use[2], id=tool_use[0]), claude_tool_answer],
    )
    with activate(FakeModelResponder(fake), priority=PRIORITY_FAKE):
        assert await _conversation(oa, an) == answers
    faked = _model_spans(agent_recording)[len(replayed) :]

    assert [s.name for s in replayed] == [s.name for s in faked]
    assert [s.attributes["gen_ai.request.model"] for s in replayed] == ["gpt-4o-mini"] * 3 + [
        "claude-sonnet-4-6"
    ] * 3
    for r, f in zip(replayed, faked, strict=True):
        assert r.attributes["agentrig.source"] == "cassette"
        if r.attributes["gen_ai.provider.name"] == "openai":
            assert set(r.attributes) - REPLAY_ONLY_ATTRIBUTES == set(f.attributes), r.name
        else:
            # anthropic traces its own calls; agentrig folds that span into the model call's.
            # What it adds comes from the response: the fake's usage reports cache tokens,
            # the local server's does not.
            assert set(r.attributes) - REPLAY_ONLY_ATTRIBUTES <= set(f.attributes)
            assert set(f.attributes) - set(r.attributes) == {
                "gen_ai.usage.cache_read.input_tokens",
                "gen_ai.usage.cache_write.input_tokens",
            }
        for name in CONTENT:
            assert r.attributes.get(name) == f.attributes.get(name), (r.name, name)
        parts = [m["parts"] for m in r.attributes["gen_ai.output.messages"]]
        assert parts == [m["parts"] for m in f.attributes["gen_ai.output.messages"]]
    # What only the replay knows: the real endpoint's model and status.
    assert replayed[0].attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert replayed[0].attributes["http.response.status_code"] == 200
    # The recorded finish reasons are the provider's own.
    assert [r.attributes["gen_ai.response.finish_reasons"] for r in replayed] == [
        ["tool_calls"],
        ["stop"],
        ["stop"],
        ["end_turn"],
        ["tool_use"],
        ["end_turn"],
    ]
    assert answers[4:] == [("toolu_1", "get_weather", {"city": "Paris"}), "the tool said sunny"]
    assert replayed[4].attributes["agentrig.reply"] == 'get_weather({"city":"Paris"})'
    assert replayed[5].attributes["gen_ai.input.messages"][-1]["parts"] == [
        {"type": "tool_call_response", "id": "toolu_1", "response": "sunny"}
    ]
    assert replayed[0].attributes["gen_ai.system_instructions"] == "You are a weather desk."
    assert replayed[0].attributes["gen_ai.tool.definitions"][0]["name"] == "get_weather"
    assert replayed[2].attributes["agentrig.stream"] is True
