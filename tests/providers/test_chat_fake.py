"""FakeModel speaks chat: requests, tool calls checked against schemas, structured output."""

from __future__ import annotations

import re

import openai
import pytest
from pydantic import BaseModel
from sdk_helpers import in_chain

from agentrig import (
    ConfigurationError,
    FakeModel,
    FakeRequest,
    ScriptMismatch,
    ToolCall,
    UnscriptedCall,
)
from agentrig.chat import Message, Tool
from agentrig.fake import count_tokens
from agentrig.providers import intercept

SEARCH = {
    "type": "function",
    "function": {
        "name": "search",
        "parameters": {
            "type": "object",
            "properties": {"q": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["q"],
        },
    },
}
ASK = [{"role": "user", "content": "look it up"}]


class Verdict(BaseModel):
    title: str
    score: int


def _client() -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="k", max_retries=0)


async def test_reply_callables_get_the_request_which_is_also_the_prompt(
    fake_model: FakeModel,
) -> None:
    seen: list[FakeRequest] = []

    def reply(request: FakeRequest) -> str:
        seen.append(request)
        return f"report on {request[:7]}"  # a str callable written for run() keeps working

    fake_model.agent("r", model="gpt-4o", reply=reply)
    out = await _client().chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "developer", "content": "Be exact."},
            {"role": "user", "content": [{"type": "text", "text": "look it up"}]},
        ],
        tools=[SEARCH],
        temperature=0.3,
        seed=7,
    )
    assert out.choices[0].message.content == "report on look it"
    (request,) = seen
    assert (request.provider, request.api, request.model) == (
        "openai",
        "chat.completions",
        "gpt-4o",
    )
    assert request.system == "Be exact."
    assert request.params == {"temperature": 0.3, "seed": 7}
    assert request.tools[0].parameters["required"] == ["q"]
    assert request.messages[0].parts == ({"type": "text", "text": "look it up"},)


async def test_a_tool_call_for_a_tool_the_app_did_not_offer_fails_the_test(
    fake_model: FakeModel,
) -> None:
    fake_model.agent("r", model="gpt-4o", reply=ToolCall("delete_everything", {}))
    with pytest.raises(Exception) as info:
        await _client().chat.completions.create(model="gpt-4o", messages=ASK, tools=[SEARCH])
    error = in_chain(info.value, ScriptMismatch)
    assert "'delete_everything', which the app did not offer" in str(error)
    (problem,) = intercept.problems(clear=True)  # reported: fails the test even if swallowed
    assert "offered: search" in str(problem)


async def test_tool_arguments_are_checked_against_the_offered_schema(fake_model: FakeModel) -> None:
    fake_model.agent("r", model="gpt-4o", reply=ToolCall("search", {"q": "x", "limit": "ten"}))
    with pytest.raises(Exception) as info:
        await _client().chat.completions.create(model="gpt-4o", messages=ASK, tools=[SEARCH])
    error = in_chain(info.value, ScriptMismatch)
    assert "field limit: 'ten' is not of type 'integer'" in str(error)
    intercept.problems(clear=True)


async def test_structured_output_that_misfits_the_schema_names_the_field(
    fake_model: FakeModel,
) -> None:
    fake_model.agent("j", model="gpt-4o", reply={"title": "ok"})
    with pytest.raises(Exception) as info:
        await _client().chat.completions.parse(
            model="gpt-4o", messages=ASK, response_format=Verdict
        )
    assert "'score' is a required property" in str(in_chain(info.value, ScriptMismatch))
    intercept.problems(clear=True)
    fake_model.agent("t", model="gpt-4o-mini", reply="plain words")
    with pytest.raises(Exception) as info:
        await _client().chat.completions.parse(
            model="gpt-4o-mini", messages=ASK, response_format=Verdict
        )
    assert "asked for structured output" in str(in_chain(info.value, ScriptMismatch))
    intercept.problems(clear=True)


async def test_routing_first_declared_match_wins_and_both_conditions_must_hold(
    fake_model: FakeModel,
) -> None:
    fake_model.agent("both", model="gpt-4o", system=re.compile(r"\breviewer\b"), reply="B")
    fake_model.agent("model-only", model="gpt-4o", reply="M")
    fake_model.agent("also-model", model="gpt-4o", reply="never")
    client = _client()

    async def ask(system: str) -> str | None:
        out = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "system", "content": system}, *ASK]
        )
        return out.choices[0].message.content

    assert await ask("You are the reviewer.") == "B"
    assert await ask("You are the writer.") == "M"
    out = await client.chat.completions.create(model="gpt-4.1", messages=ASK)
    assert out.choices[0].message.content == "[gpt-4.1] reply to: look it up"


async def test_strict_mode_lists_the_agents_and_shows_the_request() -> None:
    strict = FakeModel(strict=True)
    strict.agent("research", model="gpt-4o-mini", reply="x")
    from agentrig.providers.responder import FakeModelResponder

    with intercept.activate(FakeModelResponder(strict)):
        with pytest.raises(Exception) as info:
            await _client().chat.completions.create(model="gpt-4o", messages=ASK)
        intercept.problems(clear=True)
    message = str(in_chain(info.value, UnscriptedCall))
    assert "'research': model 'gpt-4o-mini'" in message
    assert "openai chat.completions request for model 'gpt-4o'" in message
    assert "user: 'look it up'" in message


async def test_run_with_a_tool_call_reply_is_a_clear_error(fake_model: FakeModel) -> None:
    agent = fake_model.agent("r", reply=ToolCall("search", {"q": "x"}))
    with pytest.raises(ScriptMismatch, match=r"agent\.run\(prompt\) offers no tools"):
        await agent.run("hello")


def test_bad_replies_are_refused_when_the_agent_is_made(fake_model: FakeModel) -> None:
    with pytest.raises(ConfigurationError, match="only ToolCall objects"):
        fake_model.agent("a", reply=[ToolCall("x"), "text"])
    with pytest.raises(ConfigurationError, match=r"replies\[1\] must be a str, a ToolCall"):
        fake_model.agent("b", replies=["ok", 3])
    with pytest.raises(ConfigurationError, match="`arguments` must be a mapping"):
        ToolCall("x", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="`system` must be a non-empty str"):
        fake_model.agent("c", system="")


def test_token_counts_cover_messages_tool_schemas_and_tool_calls() -> None:
    tool = Tool("search", "web", {"type": "object"})
    call = ToolCall("search", {"q": "x"})
    request = FakeRequest(
        provider="openai",
        api="chat.completions",
        model="gpt-4o",
        system="Be brief.",
        messages=[Message("user", "find x"), Message("assistant", "", tool_calls=(call,))],
        tools=[tool],
    )
    expected = (
        count_tokens("Be brief.")
        + count_tokens("find x")
        + count_tokens("search")
        + count_tokens('{"q":"x"}')
        + count_tokens("search")
        + count_tokens("web")
        + count_tokens('{"type":"object"}')
    )
    assert request.count_tokens(count_tokens) == expected
    plain = FakeRequest.from_prompt("just a prompt", model="fake-model")
    assert plain.count_tokens(count_tokens) == count_tokens("just a prompt")  # run() unchanged
