"""The plugin side, in real pytest sessions: who gets the fake, the guard, failing problems."""

from __future__ import annotations

import pytest

# Imported here so that in-process pytester sessions share one copy of these modules (pytester
# drops modules first imported by an inner session, while ``agentrig``'s lazy names keep them).
import agentrig.fake
import agentrig.providers.responder  # noqa: F401

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
agentrig_stall_timeout = 10
{extra}
"""

SERVER = """
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Echo(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = b'{"real": true}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

def serve():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
"""


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


def _run(pytester: pytest.Pytester, source: str, *args: str, extra: str = "") -> pytest.RunResult:
    pytester.makeini(INI.format(extra=extra))
    pytester.makepyfile(server=SERVER)
    pytester.makepyfile(test_app=source)
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def test_only_agentrig_tests_are_patched_and_real_calls_pass_elsewhere(
    pytester: pytest.Pytester,
) -> None:
    result = _run(
        pytester,
        """
        import httpx2
        import server
        from agentrig.providers import intercept

        def test_plain_test_is_untouched():
            assert not intercept.is_active()
            assert not hasattr(httpx2.HTTPTransport.handle_request, "__agentrig_patch__")

        async def test_virtual_clock_alone_reaches_a_local_server(virtual_clock):
            srv = server.serve()
            try:
                # timeout=None: a client timer would let the virtual clock jump past the real
                # reply under load (the clock's own matter, see TRAPS: "Real code on the loop")
                async with httpx2.AsyncClient(timeout=None) as client:
                    reply = await client.post(f"http://127.0.0.1:{srv.server_port}/x", json={})
                assert reply.json() == {"real": True}
            finally:
                srv.shutdown()
                srv.server_close()

        def test_fake_model_answers_only_where_requested(fake_model):
            import openai
            out = openai.OpenAI().chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
            assert out.choices[0].message.content == "[gpt-4o] reply to: hi"

        def test_after_it_nothing_is_patched_again():
            assert not intercept.is_active()
        """,
    )
    result.assert_outcomes(passed=4)


def test_a_real_provider_call_fails_the_test_even_if_the_app_swallows_it(
    pytester: pytest.Pytester,
) -> None:
    result = _run(
        pytester,
        """
        import openai

        async def test_calls_openai_for_real(agent_recording):
            client = openai.AsyncOpenAI(api_key="sk-real", max_retries=0)
            try:
                await client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
                )
            except Exception:
                pass  # an app that falls back silently

        def test_custom_host(agent_recording):
            import httpx2
            try:
                httpx2.post("https://llm.corp.example/v1/chat", json={})
            except Exception:
                pass
        """,
        extra="agentrig_provider_hosts = llm.corp.example",
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*NetworkBlocked: agentrig blocked a real call to api.openai.com"
            " (POST /v1/chat/completions) in test_app.py::test_calls_openai_for_real*",
            # (one guard serves consecutive agentrig tests: each is named in its own message)
            "*blocked a real call to llm.corp.example (POST /v1/chat) in"
            " test_app.py::test_custom_host:*",
        ]
    )
    assert "Request the fake_model fixture" in result.stdout.str()


def test_an_overridden_fake_model_fixture_is_still_served(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        from agentrig import FakeModel

        @pytest.fixture
        def fake_model():
            fake = FakeModel(strict=True)
            fake.agent("bot", model="gpt-4o-mini", reply="from the override")
            return fake
        """
    )
    result = _run(
        pytester,
        """
        import openai

        async def test_it(fake_model):
            out = await openai.AsyncOpenAI().chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
            )
            assert out.choices[0].message.content == "from the override"
        """,
    )
    result.assert_outcomes(passed=1)


def test_script_problems_fail_the_test_with_their_message(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
        import anthropic
        from agentrig import ToolCall

        async def test_swallowed_mismatch(fake_model):
            fake_model.agent("a", model="claude-haiku-4-5", reply=ToolCall("nope", {}))
            try:
                await anthropic.AsyncAnthropic(max_retries=0).messages.create(
                    model="claude-haiku-4-5", max_tokens=5,
                    messages=[{"role": "user", "content": "hi"}],
                )
            except anthropic.APIConnectionError:
                pass

        async def test_embeddings_are_not_faked(fake_model):
            import openai
            try:
                await openai.AsyncOpenAI(max_retries=0).embeddings.create(
                    model="text-embedding-3-small", input="x"
                )
            except Exception:
                pass
        """,
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*ScriptMismatch: FakeModel agent 'a' call #1 (reply=) calls tool 'nope',"
            " which the app did not offer (offered: none)*",
            "*UnsupportedEndpoint: FakeModel does not serve POST /v1/embeddings*",
        ]
    )


def test_sdk_runs_snapshot_byte_identically(pytester: pytest.Pytester) -> None:
    source = """
        import asyncio
        import openai
        from agentrig import ToolCall

        TOOLS = [{"type": "function", "function": {"name": "search", "parameters": {
            "type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}]

        async def research(client, topic):
            messages = [{"role": "user", "content": f"research {topic}"}]
            first = await client.chat.completions.create(
                model="gpt-4o-mini", messages=messages, tools=TOOLS)
            call = first.choices[0].message.tool_calls[0]
            messages += [first.choices[0].message.model_dump(exclude_none=True),
                         {"role": "tool", "tool_call_id": call.id, "content": f"hits for {topic}"}]
            final = await client.chat.completions.create(
                model="gpt-4o-mini", messages=messages, tools=TOOLS)
            return final.choices[0].message.content

        async def test_broadcast(fake_model, agent_recording, agent_snapshot):
            fake_model.agent("researcher", model="gpt-4o-mini", latency=lambda n: 1.0 + n,
                reply=lambda r: ToolCall("search", {"q": str(r)}) if not r.tool_results
                else f"summary of {r.tool_results[-1]}")
            client = openai.AsyncOpenAI()
            out = await asyncio.gather(*(research(client, t) for t in ["a", "bb", "ccc"]))
            assert out[2] == "summary of hits for ccc"
            assert agent_recording == agent_snapshot
        """
    result = _run(pytester, source, "--snapshot-update")
    result.assert_outcomes(passed=1)
    first = {p.name: p.read_bytes() for p in pytester.path.rglob("snapshots/**/*.json")}
    assert first
    (doc,) = first.values()
    assert b'"gen_ai.provider.name": "openai"' in doc
    assert b"sk-" not in doc and b"agentrig-placeholder-key" not in doc
    result = _run(pytester, source)
    result.assert_outcomes(passed=1)
    assert {p.name: p.read_bytes() for p in pytester.path.rglob("snapshots/**/*.json")} == first
