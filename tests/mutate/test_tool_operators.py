"""``tool-call-dropped`` and ``tool-args-changed``: real openai / anthropic tool loops on the fake.

The inner suite books trips through an app's tool loop on the real ``openai`` SDK (two tool
calls in parallel, an enum and a bounded integer in the schema) and on the real ``anthropic``
SDK (one ``tool_use`` block). A weak test checks only the final answer; a strong one pins what
the tools were called with.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import agentrig
from agentrig import FakeModel, ToolCall
from agentrig.chat import FakeRequest, Message, Tool
from agentrig.mutate import hook
from agentrig.mutate.operators import derive, describe

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

SUITE = """
import json

import anthropic
import openai

from agentrig import ToolCall

BOOK = {
    "type": "object",
    "properties": {
        "cabin": {"type": "string", "enum": ["economy", "business"]},
        "nights": {"type": "integer", "minimum": 1, "maximum": 3},
        "city": {"type": "string"},
    },
    "required": ["cabin", "nights", "city"],
    "additionalProperties": False,
}


async def book_on_openai():
    client = openai.AsyncOpenAI(api_key="sk-test")
    messages = [{"role": "user", "content": "book Oslo and Bergen"}]
    tools = [{"type": "function", "function": {"name": "book", "parameters": BOOK}}]
    booked = []
    for _ in range(3):
        response = await client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, tools=tools
        )
        message = response.choices[0].message
        if not message.tool_calls:
            return message.content, booked
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            booked.append(json.loads(call.function.arguments))
            messages.append({"role": "tool", "tool_call_id": call.id, "content": "booked"})
    raise RuntimeError("the booker never finished")


def booker(fake_model):
    def reply(request):
        if request.tool_results:
            return "Both are booked."
        return [
            ToolCall("book", {"cabin": "economy", "nights": 3, "city": "Oslo"}),
            ToolCall("book", {"cabin": "economy", "nights": 1, "city": "Bergen"}),
        ]

    fake_model.agent("booker", model="gpt-4o-mini", reply=reply)


async def test_weak_openai(fake_model):
    booker(fake_model)
    text, _ = await book_on_openai()
    assert text == "Both are booked."


async def test_strong_openai(fake_model):
    booker(fake_model)
    text, booked = await book_on_openai()
    assert text == "Both are booked."
    assert booked == [
        {"cabin": "economy", "nights": 3, "city": "Oslo"},
        {"cabin": "economy", "nights": 1, "city": "Bergen"},
    ]


async def test_strong_anthropic(fake_model):
    tool = {"name": "book", "input_schema": BOOK}
    fake_model.agent(
        "concierge",
        model="claude-haiku-4-5",
        replies=[ToolCall("book", {"cabin": "business", "nights": 2, "city": "Rome"}), "Done."],
    )
    client = anthropic.AsyncAnthropic(api_key="sk-ant-test")
    messages = [{"role": "user", "content": "book Rome"}]
    first = await client.messages.create(
        model="claude-haiku-4-5", max_tokens=100, tools=[tool], messages=messages
    )
    uses = [b for b in first.content if b.type == "tool_use"]
    assert [(b.name, b.input) for b in uses] == [
        ("book", {"cabin": "business", "nights": 2, "city": "Rome"})
    ]
    messages += [
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": "ok"}],
        },
    ]
    final = await client.messages.create(
        model="claude-haiku-4-5", max_tokens=100, tools=[tool], messages=messages
    )
    assert final.content[0].text == "Done."
"""

TOOL_OPERATORS = "--agentrig-mutate-operators=tool-call-dropped,tool-args-changed"


def run(pytester: pytest.Pytester, *args: str) -> dict[str, Any]:
    pytester.makefile(".ini", pytest=INI)
    pytester.makepyfile(test_tools=SUITE)
    path = pytester.path / "mutation.json"
    result = pytester.runpytest(
        "--agentrig-mutate", f"--agentrig-mutate-report={path}", TOOL_OPERATORS, *args
    )
    result.assert_outcomes(passed=3)
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return data


def mutants(data: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    (test,) = [t for t in data["tests"] if t["nodeid"].endswith(f"::{name}")]
    return {m["id"]: m for m in test["mutants"]}


@pytest.fixture(autouse=True)
def _no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_a_test_that_pins_the_tool_calls_kills_both_operators_on_the_openai_sdk(
    pytester: pytest.Pytester,
) -> None:
    data = run(pytester)

    weak, strong = mutants(data, "test_weak_openai"), mutants(data, "test_strong_openai")
    # one mutant per parallel tool call of the first reply: each dropped, each changed
    assert list(strong) == [
        "tool-call-dropped:booker#1#0",
        "tool-args-changed:booker#1#0",
        "tool-call-dropped:booker#1#1",
        "tool-args-changed:booker#1#1",
    ]
    assert list(weak) == list(strong)
    assert {m["status"] for m in weak.values()} == {"survived"}
    assert {(m["status"], m["killed_by"]) for m in strong.values()} == {("killed", "assertion")}
    # the changed argument is the first one the schema lets change: another enum member
    changed = strong["tool-args-changed:booker#1#0"]
    assert changed["description"] == (
        "agent 'booker' calls 'book' on call #1 with cabin='business' instead of 'economy'"
    )
    # it reached the app through the SDK: the booked list starts with {'cabin': 'business', ...
    assert "assert [{'cabin': 'b" in changed["detail"]
    assert strong["tool-call-dropped:booker#1#1"]["description"] == (
        "agent 'booker' answers call #1 without its tool call"
        " book(cabin='economy', nights=1, city='Bergen')"
    )
    assert (
        "no test notices when agent 'booker' answers call #1 without its tool call"
        " book(cabin='economy', nights=3, city='Oslo') in test_weak_openai" in data["survivors"]
    )
    assert data["operators"]["tool-call-dropped"]["survived"] == 2
    assert data["operators"]["tool-args-changed"]["killed"] == 3  # and anthropic's


def test_dropping_the_only_tool_use_block_on_the_anthropic_sdk_is_an_empty_answer(
    pytester: pytest.Pytester,
) -> None:
    data = run(pytester)

    found = mutants(data, "test_strong_anthropic")
    assert list(found) == ["tool-call-dropped:concierge#1#0", "tool-args-changed:concierge#1#0"]
    dropped, changed = found.values()
    assert dropped["description"] == (
        "agent 'concierge' answers call #1 with an empty reply instead of"
        " book(cabin='business', nights=2, city='Rome')"
    )
    assert (dropped["status"], dropped["killed_by"]) == ("killed", "assertion")
    assert "assert [] ==" in dropped["detail"]  # the app saw no tool_use block at all
    assert changed["description"] == (
        "agent 'concierge' calls 'book' on call #1 with cabin='economy' instead of 'business'"
    )
    assert changed["status"] == "killed"


def test_tool_mutants_are_the_same_in_the_same_order_under_xdist(
    pytester: pytest.Pytester,
) -> None:
    one = run(pytester, "-p", "no:randomly")
    two = run(pytester, "-p", "xdist", "-n", "2")

    def shape(data: dict[str, Any]) -> list[tuple[str, list[tuple[str, str, str]]]]:
        return [
            (t["nodeid"], [(m["id"], m["status"], m["description"]) for m in t["mutants"]])
            for t in data["tests"]
        ]

    assert shape(one) == shape(two)


# -- the argument change itself ---------------------------------------------------------------


BOUNDED = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "nights": {"type": "integer", "minimum": 1, "maximum": 3},
        "cabin": {"type": "string", "enum": ["economy", "business"]},
    },
}


@pytest.mark.parametrize(
    ("arguments", "change"),
    [
        # a pattern no changed string fits: the next argument; 3 is the maximum: 2
        ({"code": "OSL", "nights": 3}, ("nights", 3, 2)),
        ({"nights": 1}, ("nights", 1, 2)),
        ({"cabin": "business"}, ("cabin", "business", "economy")),
        ({"code": "OSL", "city": "Oslo"}, ("city", "Oslo", "Oslo (mutated)")),
        ({"flag": True}, ("flag", True, False)),
        ({"code": "OSL"}, None),  # nothing the schema accepts: no mutant
        ({"nested": {"a": 1}}, None),  # only top-level scalars are changed
    ],
)
def test_a_changed_argument_always_fits_the_tools_schema(
    arguments: dict[str, Any], change: tuple[str, object, object] | None
) -> None:
    assert hook.changed_arguments(arguments, BOUNDED) == change


def test_a_fake_model_script_with_tool_calls_gives_tool_mutants_of_first_and_last_reply() -> None:
    """FakeModel alone (no SDK): the chat API a wire adapter would use, three tool turns."""
    tools = (Tool("search", parameters={"type": "object"}),)
    model = FakeModel()
    model.agent(
        "scout",
        model="fake-model",  # claims the requests for this model
        replies=[ToolCall("search", {"q": "a"}), ToolCall("search", {"q": "b"}), "done"],
    )

    async def loop() -> None:
        for turn in range(3):
            request = FakeRequest(
                provider="openai",
                api="chat.completions",
                model="fake-model",
                messages=[Message("user", f"turn {turn}")],
                tools=tools,
            )
            await model.respond(request)

    hook.start(None)
    try:
        agentrig.run(loop())
    finally:
        observed = hook.stop()
    assert observed is not None
    found, _ = derive(observed.sites, operators=["tool-call-dropped", "tool-args-changed"])
    # call #2 is neither the first nor the last reply with tool calls: not mutated
    assert [m.id for m in found] == [
        "tool-call-dropped:scout#1#0",
        "tool-args-changed:scout#1#0",
        "tool-call-dropped:scout#2#0",
        "tool-args-changed:scout#2#0",
    ]
    assert describe(found[3]) == (
        "agent 'scout' calls 'search' on call #2 with q='b (mutated)' instead of 'b'"
    )
    # the text reply of call #3 gets the reply operators, the tool-call replies do not
    replies, _ = derive(observed.sites, operators=["call-timeout", "reply-emptied"])
    assert [m.id for m in replies] == [
        "call-timeout:scout#1",
        "reply-emptied:scout#3",
        "call-timeout:scout#3",
    ]
