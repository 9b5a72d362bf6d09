"""Failures as the provider sends them: the SDK's own retry and timeout paths, in virtual time."""

from __future__ import annotations

import asyncio

import anthropic
import openai
import pytest

from agentrig import FakeModel, FakeRateLimitError
from agentrig.fake import rate_limit

ASK = [{"role": "user", "content": "hi"}]


async def test_a_rate_limit_is_a_429_the_openai_sdk_retries_after_retry_after(
    fake_model: FakeModel,
) -> None:
    fake_model.agent(
        "busy", model="gpt-4o", error=rate_limit(retry_after=20), fail_times=2, reply="finally"
    )
    loop = asyncio.get_running_loop()
    start = loop.time()
    out = await openai.AsyncOpenAI(api_key="k", max_retries=2).chat.completions.create(
        model="gpt-4o", messages=ASK
    )
    assert out.choices[0].message.content == "finally"
    assert loop.time() - start == pytest.approx(40.0)  # two waits of retry-after, virtual
    errors = [type(c.error) for c in fake_model.calls]
    assert errors == [FakeRateLimitError, FakeRateLimitError, type(None)]


async def test_without_retries_the_app_sees_the_sdk_rate_limit_error(fake_model: FakeModel) -> None:
    fake_model.agent("busy", model="gpt-4o", error="rate_limit")
    client = openai.AsyncOpenAI(api_key="k", max_retries=0)
    with pytest.raises(openai.RateLimitError) as info:
        await client.chat.completions.create(model="gpt-4o", messages=ASK)
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "1"
    assert "rate limited" in str(info.value)


async def test_overloaded_is_anthropics_529_and_it_is_retried(fake_model: FakeModel) -> None:
    fake_model.agent(
        "claude", model="claude-sonnet-4-6", error="overloaded", fail_times=1, reply="ok", latency=2
    )
    client = anthropic.AsyncAnthropic(api_key="k", max_retries=0)
    with pytest.raises(anthropic.InternalServerError) as info:
        await client.messages.create(model="claude-sonnet-4-6", max_tokens=5, messages=ASK)
    assert info.value.status_code == 529
    assert info.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": info.value.body["error"]["message"]},
    }
    again = await client.messages.create(model="claude-sonnet-4-6", max_tokens=5, messages=ASK)
    assert again.content[0].type == "text" and again.content[0].text == "ok"


async def test_server_error_is_a_500_for_openai(fake_model: FakeModel) -> None:
    fake_model.agent("down", model="gpt-4o", error="server_error")
    with pytest.raises(openai.InternalServerError) as info:
        await openai.AsyncOpenAI(api_key="k", max_retries=0).chat.completions.create(
            model="gpt-4o", messages=ASK
        )
    assert info.value.status_code == 500


async def test_a_timeout_reaches_the_sdk_as_its_timeout_error_after_the_latency(
    fake_model: FakeModel,
) -> None:
    fake_model.agent("slow", model="gpt-4o", error="timeout", latency=45.0)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(openai.APITimeoutError):
        await openai.AsyncOpenAI(api_key="k", max_retries=0).chat.completions.create(
            model="gpt-4o", messages=ASK
        )
    assert loop.time() - start == pytest.approx(45.0)


async def test_the_sdks_own_timeout_retries_then_succeeds(fake_model: FakeModel) -> None:
    fake_model.agent(
        "flaky", model="claude-haiku-4-5", error="timeout", fail_times=1, latency=10, reply="ok"
    )
    out = await anthropic.AsyncAnthropic(api_key="k", max_retries=1).messages.create(
        model="claude-haiku-4-5", max_tokens=5, messages=ASK
    )
    assert out.content[0].type == "text" and out.content[0].text == "ok"
    assert [c.ok for c in fake_model.calls] == [False, True]


def test_a_sync_client_retries_without_sleeping_the_scripted_seconds(fake_model: FakeModel) -> None:
    fake_model.agent(
        "busy", model="gpt-4o", error=rate_limit(retry_after=30), fail_times=1, reply="ok"
    )
    out = openai.OpenAI(api_key="k", max_retries=1).chat.completions.create(
        model="gpt-4o", messages=ASK
    )
    assert out.choices[0].message.content == "ok"


async def test_a_malformed_body_is_a_400_naming_the_field(fake_model: FakeModel) -> None:
    client = openai.AsyncOpenAI(api_key="k", max_retries=0)
    with pytest.raises(openai.BadRequestError, match=r"messages\[0\]\.role"):
        await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "robot", "content": "x"}]
        )
    anthropic_client = anthropic.AsyncAnthropic(api_key="k", max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="max_tokens: this field is required"):
        await anthropic_client.post(  # the SDK's low-level call: no client-side checks
            "/v1/messages",
            body={"model": "claude-haiku-4-5", "messages": ASK},
            cast_to=anthropic.types.Message,
        )
