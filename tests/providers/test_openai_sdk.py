"""The official openai SDK, unchanged, answered by fake_model: shapes checked by its own types."""

from __future__ import annotations

import asyncio

import openai
import pytest
from openai.types.chat import ChatCompletion
from openai.types.responses import Response
from pydantic import BaseModel

from agentrig import FakeModel, ToolCall
from agentrig.vocabulary import GEN_AI_INPUT_MESSAGES, GEN_AI_OUTPUT_MESSAGES

SEARCH = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web",
        "parameters": {
            "type": "object",
            "properties": {"q": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["q"],
            "additionalProperties": False,
        },
    },
}

# A module-level client, built before any test runs, like an app's `client = AsyncOpenAI()`.
MODULE_CLIENT = openai.AsyncOpenAI(api_key="sk-test-module-level")


class Verdict(BaseModel):
    title: str
    score: int


async def test_a_module_level_client_is_answered_by_the_agent_for_its_model(
    fake_model: FakeModel,
) -> None:
    fake_model.agent("research", model="gpt-4o-mini", reply="three sources found")
    raw = await MODULE_CLIENT.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "find sources"}]
    )
    ChatCompletion.model_validate_json(raw.http_response.content)  # the SDK's type, strictly
    out = raw.parse()
    assert out.choices[0].message.content == "three sources found"
    assert out.choices[0].finish_reason == "stop"
    (call,) = fake_model.calls
    assert (call.agent, call.model, call.prompt) == ("research", "gpt-4o-mini", "find sources")
    assert out.usage is not None
    assert out.usage.prompt_tokens == call.input_tokens
    assert out.usage.completion_tokens == call.output_tokens


async def test_any_base_url_and_a_dated_model_reach_the_fake(fake_model: FakeModel) -> None:
    fake_model.agent("gw", model="gpt-4o-mini", reply="via gateway")
    client = openai.AsyncOpenAI(api_key="k", base_url="https://llm-gateway.internal.example/v1")
    out = await client.chat.completions.create(
        model="gpt-4o-mini-2024-07-18", messages=[{"role": "user", "content": "hi"}]
    )
    assert out.choices[0].message.content == "via gateway"
    assert out.model == "gpt-4o-mini-2024-07-18"


async def test_a_scripted_tool_loop_runs_through_the_sdk(fake_model: FakeModel) -> None:
    fake_model.agent(
        "research",
        model="gpt-4o",
        replies=[
            ToolCall("search", {"q": "agent testing"}),
            lambda req: f"answer from {req.tool_results[-1]}",
        ],
    )
    client = openai.AsyncOpenAI(api_key="k")
    messages: list[dict[str, object]] = [{"role": "user", "content": "research agent testing"}]
    first = await client.chat.completions.create(model="gpt-4o", messages=messages, tools=[SEARCH])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    (tool_call,) = choice.message.tool_calls
    assert tool_call.function.name == "search"
    assert tool_call.function.arguments == '{"q":"agent testing"}'
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": tool_call.id, "content": "5 papers"})
    second = await client.chat.completions.create(model="gpt-4o", messages=messages, tools=[SEARCH])
    assert second.choices[0].message.content == "answer from 5 papers"
    first_call, second_call = fake_model.calls
    assert first_call.tool_calls == (ToolCall("search", {"q": "agent testing"}, id=tool_call.id),)
    assert second_call.request is not None
    assert [m.role for m in second_call.request.messages] == ["user", "assistant", "tool"]
    assert second_call.request.tool_names == ("search",)


async def test_parallel_tool_calls_come_back_as_one_message(fake_model: FakeModel) -> None:
    both = [ToolCall("search", {"q": "a"}), ToolCall("search", {"q": "b"})]
    fake_model.agent("fan", model="gpt-4o", reply=both)
    out = await openai.AsyncOpenAI(api_key="k").chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "two"}], tools=[SEARCH]
    )
    calls = out.choices[0].message.tool_calls
    assert calls is not None
    assert [c.function.arguments for c in calls] == ['{"q":"a"}', '{"q":"b"}']
    assert len({c.id for c in calls}) == 2


async def test_streaming_with_usage_is_read_by_the_sdk_stream_helper(fake_model: FakeModel) -> None:
    fake_model.agent("writer", model="gpt-4.1", reply="a short streamed report")
    client = openai.AsyncOpenAI(api_key="k")
    stream = await client.chat.completions.create(
        model="gpt-4.1",
        messages=[{"role": "user", "content": "write"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.usage is not None:
            usage = chunk.usage
    assert pieces == ["a ", "short ", "streamed ", "report"]
    assert usage is not None and usage.total_tokens == fake_model.calls[0].tokens

    async with client.chat.completions.stream(
        model="gpt-4.1", messages=[{"role": "user", "content": "again"}]
    ) as helper:
        final = await helper.get_final_completion()
    assert final.choices[0].message.content == "a short streamed report"


async def test_streamed_tool_calls_are_assembled_by_the_sdk(fake_model: FakeModel) -> None:
    fake_model.agent("r", model="gpt-4o", reply=ToolCall("search", {"q": "x", "limit": 3}))
    strict = {"type": "function", "function": {**SEARCH["function"], "strict": True}}
    strict["function"]["parameters"] = {
        **SEARCH["function"]["parameters"],
        "required": ["q", "limit"],
    }  # openai 1.x streams auto-parse strict tools only
    async with openai.AsyncOpenAI(api_key="k").chat.completions.stream(
        model="gpt-4o", messages=[{"role": "user", "content": "go"}], tools=[strict]
    ) as helper:
        final = await helper.get_final_completion()
    calls = final.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].function.name == "search"
    assert calls[0].function.arguments == '{"limit":3,"q":"x"}'
    assert final.choices[0].finish_reason == "tool_calls"


async def test_parse_with_a_pydantic_model_gets_validated_structured_output(
    fake_model: FakeModel,
) -> None:
    fake_model.agent("judge", model="gpt-4o", reply=Verdict(title="solid", score=8))
    out = await openai.AsyncOpenAI(api_key="k").chat.completions.parse(
        model="gpt-4o", messages=[{"role": "user", "content": "judge it"}], response_format=Verdict
    )
    assert out.choices[0].message.parsed == Verdict(title="solid", score=8)
    request = fake_model.calls[0].request
    assert request is not None and request.schema_name == "Verdict"


async def test_a_default_structured_reply_fits_the_schema(fake_model: FakeModel) -> None:
    out = await openai.AsyncOpenAI(api_key="k").chat.completions.parse(
        model="gpt-4o", messages=[{"role": "user", "content": "judge it"}], response_format=Verdict
    )
    assert out.choices[0].message.parsed == Verdict(title="text", score=0)
    assert fake_model.calls[0].agent == "gpt-4o"  # the default agent is named after the model


async def test_responses_create_text_and_function_calls(fake_model: FakeModel) -> None:
    fake_model.agent(
        "assistant",
        model="gpt-4.1-mini",
        system="You are terse",
        replies=[ToolCall("lookup", {"city": "Oslo"}), "It is 4 degrees in Oslo."],
    )
    client = openai.AsyncOpenAI(api_key="k")
    tools = [
        {
            "type": "function",
            "name": "lookup",
            "description": "weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ]
    raw = await client.responses.with_raw_response.create(
        model="gpt-4.1-mini", instructions="You are terse", input="weather in Oslo?", tools=tools
    )
    Response.model_validate_json(raw.http_response.content)  # the SDK's type, strictly
    first = raw.parse()
    (item,) = first.output
    assert item.type == "function_call"
    assert (item.name, item.arguments) == ("lookup", '{"city":"Oslo"}')
    second = await client.responses.create(
        model="gpt-4.1-mini",
        instructions="You are terse",
        input=[
            {"role": "user", "content": "weather in Oslo?"},
            {
                "type": "function_call",
                "call_id": item.call_id,
                "name": "lookup",
                "arguments": item.arguments,
            },
            {"type": "function_call_output", "call_id": item.call_id, "output": "4C"},
        ],
        tools=tools,
    )
    assert second.output_text == "It is 4 degrees in Oslo."
    request = fake_model.calls[1].request
    assert request is not None and request.system == "You are terse"
    assert [str(r) for r in request.tool_results] == ["4C"]


async def test_responses_streaming_through_the_sdk_helper(fake_model: FakeModel) -> None:
    fake_model.agent("a", model="gpt-4o", reply="streamed words here")
    deltas = []
    async with openai.AsyncOpenAI(api_key="k").responses.stream(
        model="gpt-4o", input="hello"
    ) as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = await stream.get_final_response()
    assert deltas == ["streamed ", "words ", "here"]
    assert final.output_text == "streamed words here"
    assert final.usage is not None and final.usage.total_tokens == fake_model.calls[0].tokens


async def test_responses_parse_with_text_format(fake_model: FakeModel) -> None:
    fake_model.agent("judge", model="gpt-4o", reply={"title": "ok", "score": 3})
    out = await openai.AsyncOpenAI(api_key="k").responses.parse(
        model="gpt-4o", input="judge", text_format=Verdict
    )
    assert out.output_parsed == Verdict(title="ok", score=3)


def test_a_sync_client_is_answered_too(fake_model: FakeModel) -> None:
    fake_model.agent("sync", model="gpt-4o-mini", reply="from a sync client", latency=5.0)
    client = openai.OpenAI(api_key="k")
    out = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert out.choices[0].message.content == "from a sync client"
    assert fake_model.calls[0].latency == 0.0  # a sync client takes no virtual time


async def test_a_sync_client_in_a_thread_is_answered(fake_model: FakeModel) -> None:
    fake_model.agent("t", model="gpt-4o-mini", reply="from a thread")

    def work() -> str | None:
        client = openai.OpenAI(api_key="k")
        out = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        return out.choices[0].message.content

    assert await asyncio.to_thread(work) == "from a thread"


async def test_latency_is_virtual_and_the_span_carries_the_conversation(
    fake_model: FakeModel, agent_recording: object
) -> None:
    fake_model.agent("slow", model="gpt-4o", reply="done", latency=30.0)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await openai.AsyncOpenAI(api_key="k").chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "go"}],
        temperature=0.2,
        max_tokens=50,
    )
    assert loop.time() - start == pytest.approx(30.0)
    from agentrig.recording import Recording

    assert isinstance(agent_recording, Recording)
    (span,) = agent_recording.spans_named("chat gpt-4o")
    attrs = span.attributes
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.system_instructions"] == "be brief"
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs[GEN_AI_INPUT_MESSAGES] == [
        {"role": "user", "parts": [{"type": "text", "content": "go"}]}
    ]
    assert attrs[GEN_AI_OUTPUT_MESSAGES][0]["parts"] == [{"type": "text", "content": "done"}]
    assert attrs["agentrig.cost_usd"] > 0
