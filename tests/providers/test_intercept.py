"""The seam: patched only while active, answers every httpx/httpx2 client, passes the rest on."""

from __future__ import annotations

import asyncio

import httpx
import httpx2
import openai
import pytest

from agentrig.providers import intercept
from agentrig.providers.intercept import (
    InterceptedRequest,
    InterceptedResponse,
    SyncResponder,
)


class _Echo(SyncResponder):
    """Answers requests to one host with the path it saw; records what it saw."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.seen: list[InterceptedRequest] = []

    def handle(self, request: InterceptedRequest) -> InterceptedResponse | None:
        self.seen.append(request)
        if request.host != self.host:
            return None
        return InterceptedResponse.json_body({"faked": request.path})


def test_transports_are_patched_only_while_active() -> None:
    before = httpx2.AsyncHTTPTransport.handle_async_request
    with intercept.activate(_Echo("x.test")):
        assert intercept.is_active()
        assert httpx2.AsyncHTTPTransport.handle_async_request is not before
        assert getattr(httpx.HTTPTransport.handle_request, "__agentrig_patch__", False)
    assert not intercept.is_active()
    assert httpx2.AsyncHTTPTransport.handle_async_request is before
    assert not hasattr(httpx.HTTPTransport.handle_request, "__agentrig_patch__")


def test_a_client_created_before_activation_is_answered_sync_and_async() -> None:
    sync_client = httpx2.Client()  # created outside the block, like a module-level client
    legacy = httpx.Client()
    echo = _Echo("api.example.test")
    with intercept.activate(echo):
        assert sync_client.post("https://api.example.test/v1/x", json={"a": 1}).json() == {
            "faked": "/v1/x"
        }
        assert legacy.get("http://api.example.test/legacy").json() == {"faked": "/legacy"}

        async def main() -> object:
            async with httpx2.AsyncClient() as client:
                response = await client.post("https://api.example.test/v2", json={"stream": True})
                return response.json()

        assert asyncio.run(main()) == {"faked": "/v2"}
    first, _, third = echo.seen
    assert first.json == {"a": 1} and first.method == "POST" and not first.is_async
    assert third.is_stream and third.is_async


def test_unclaimed_requests_reach_the_real_server(local_server: str) -> None:
    echo = _Echo("not-this-host.test")
    with intercept.activate(echo):
        reply = httpx2.post(f"{local_server}/real", json={"b": 2})
    assert reply.json() == {"echo": {"b": 2}, "path": "/real"}
    assert echo.seen[0].host == "127.0.0.1"


def test_responders_are_asked_by_priority_then_latest_first() -> None:
    order: list[str] = []

    class Named(SyncResponder):
        def __init__(self, name: str, answer: bool) -> None:
            self.name, self.answer = name, answer

        def handle(self, request: InterceptedRequest) -> InterceptedResponse | None:
            order.append(self.name)
            return InterceptedResponse.json_body(self.name) if self.answer else None

    with (
        intercept.activate(Named("guard", True), priority=intercept.PRIORITY_GUARD),
        intercept.activate(Named("cassette", False), priority=intercept.PRIORITY_CASSETTE),
        intercept.activate(Named("fake", False), priority=intercept.PRIORITY_FAKE),
    ):
        assert httpx2.get("https://h.test/").json() == "guard"
    assert order == ["fake", "cassette", "guard"]


def test_secrets_are_redacted_and_the_provider_guessed() -> None:
    echo = _Echo("api.openai.com")
    client = openai.OpenAI(api_key="sk-live-secret-123", max_retries=0)
    with intercept.activate(echo):
        client.models.list()
    (seen,) = echo.seen
    assert seen.provider == "openai"
    assert seen.headers["authorization"] == intercept.REDACTED
    assert "sk-live-secret-123" not in repr(seen)


def test_send_real_reads_the_body_and_splits_events(local_server: str) -> None:
    captured: list[InterceptedResponse] = []

    class Recorder(SyncResponder):
        def handle(self, request: InterceptedRequest) -> InterceptedResponse | None:
            answer = request.send_real()
            captured.append(answer)
            return answer

    with intercept.activate(Recorder()):
        text = httpx2.post(f"{local_server}/stream", content=b"{}").text
    assert text == "data: one\n\ndata: two\n\n"
    assert captured[0].events == [b"data: one\n\n", b"data: two\n\n"]


def test_async_latency_and_injected_timeout_run_in_loop_time() -> None:
    class Slow(SyncResponder):
        def handle(self, request: InterceptedRequest) -> InterceptedResponse | None:
            return InterceptedResponse(latency=30.0, timeout=request.path == "/late")

    from agentrig.clock import VirtualEventLoop

    loop = VirtualEventLoop()

    async def main() -> tuple[float, str]:
        start = loop.time()
        async with httpx2.AsyncClient(timeout=None) as client:
            await client.get("https://h.test/ok")
            try:
                await client.get("https://h.test/late")
            except httpx2.ReadTimeout as exc:
                return loop.time() - start, str(exc)
        raise AssertionError("no timeout")

    try:
        with intercept.activate(Slow()):
            elapsed, message = loop.run_until_complete(main())
    finally:
        loop.close()
    assert elapsed == pytest.approx(60.0)
    assert "timed out" in message


def test_problems_are_kept_once_and_cleared_when_the_last_block_closes() -> None:
    with intercept.activate(_Echo("x")):
        intercept.report_problem(RuntimeError("same"))
        intercept.report_problem(RuntimeError("same"))
        assert [str(p) for p in intercept.problems()] == ["same"]
    assert intercept.problems() == []
