"""llm_cassette end to end: real SDKs, a real local server, real pytest sessions.

Each test records against the server, stops it, and replays offline. Sessions that run the
anthropic SDK's test, or pytest-xdist, run in a fresh process (``fresh=True``); the others run
in this process, where the SDKs are imported once (see ``App.run``).
"""

from __future__ import annotations

import re
from pathlib import Path

# Imported here so that in-process sessions find them in sys.modules: pytester drops the
# modules a session imported first. The SDKs would cost ~1.3 s of CPU a session to import
# again; an inner test's `from agentrig import BudgetPool` would get another copy of the
# module than the plugin's ambient-budget seam reads (its stage would see no charge).
import anthropic  # noqa: F401
import openai  # noqa: F401
import orjson
import pytest
from llm_server import llm_server

import agentrig.budget  # noqa: F401
from agentrig.cli import main

KEY = "sk-proj-cassetteKEY1234567890abcdef"

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
agentrig_stall_timeout = 0.5
{extra}
"""

APP = """
import os

import anthropic
import openai

BASE = os.environ["LLM_URL"]
KEY = {key!r}
PROMPT = {prompt!r}
TOOLS = [{{
    "type": "function",
    "function": {{
        "name": "get_weather",
        "parameters": {{"type": "object", "properties": {{"city": {{"type": "string"}}}}}},
    }},
}}]


def oa():
    return openai.AsyncOpenAI(base_url=BASE + "/v1", api_key=KEY, max_retries=0)


async def test_chat(llm_cassette, agent_recording, agent_snapshot):
    async with oa() as client:
        reply = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{{"role": "user", "content": PROMPT}}],
            user=f"run-{{os.getpid()}}",  # volatile: not part of the match
        )
    assert reply.choices[0].message.content.startswith("echo #")
    assert reply.usage.completion_tokens > 0
    assert agent_recording == agent_snapshot


async def test_stream_and_tools(llm_cassette, agent_recording, agent_snapshot):
    client = oa()
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{{"role": "user", "content": "stream " + PROMPT}}],
        stream=True,
        stream_options={{"include_usage": True}},
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text.endswith("stream " + PROMPT)
    question = {{"role": "user", "content": "weather in Paris?"}}
    first = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[question], tools=TOOLS
    )
    call = first.choices[0].message.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("get_weather", '{{"city": "Paris"}}')
    second = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            question,
            first.choices[0].message.model_dump(exclude_none=True),
            {{"role": "tool", "tool_call_id": call.id, "content": "sunny"}},
        ],
        tools=TOOLS,
    )
    assert second.choices[0].message.content == "the tool said sunny"
    assert agent_recording == agent_snapshot


async def test_anthropic(llm_cassette, agent_recording, agent_snapshot):
    client = anthropic.AsyncAnthropic(base_url=BASE, api_key=KEY, max_retries=0)
    message = await client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=64,
        messages=[{{"role": "user", "content": PROMPT}}],
        metadata={{"user_id": f"run-{{os.getpid()}}"}},
    )
    assert message.content[0].text.startswith("echo #")
    async with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=64, messages=[{{"role": "user", "content": "leak"}}]
    ) as stream:
        text = await stream.get_final_text()
    assert text.startswith("your key is ") and KEY not in text
    assert agent_recording == agent_snapshot


def test_sync_client_twice(llm_cassette, agent_recording, agent_snapshot):
    client = openai.OpenAI(base_url=BASE + "/v1", api_key=KEY, max_retries=0)
    texts = [
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{{"role": "user", "content": "again"}}]
        ).choices[0].message.content
        for _ in range(2)
    ]
    assert texts[0] != texts[1]  # the second identical request gets the second answer
    assert [t.split(":")[1] for t in texts] == [" again", " again"]
    assert agent_recording == agent_snapshot
"""


def _walk(timeline: list[dict]) -> list[dict]:
    out = []
    for node in timeline:
        out.append(node)
        out.extend(_walk(node.get("timeline") or []))
    return out


class App:
    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pytester = pytester
        self.monkeypatch = monkeypatch
        self.root = pytester.path
        pytester.makeini(INI.format(extra=""))

    def write(self, prompt: str = "hello", name: str = "tests/test_app.py") -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(APP.format(key=KEY, prompt=prompt), encoding="utf-8")

    def run(self, *args: str, url: str, fresh: bool = False) -> pytest.RunResult:
        """One pytest session of the project; in a fresh process when ``fresh``.

        A session that runs ``test_anthropic`` must be fresh: the anthropic SDK traces through
        OpenTelemetry's process-wide provider (the reason in tests/test_readme.py), and a
        second in-process session records that test differently. So must one under xdist
        (its workers are processes anyway). The other sessions (openai only) run in-process.
        """
        self.monkeypatch.setenv("LLM_URL", url)
        if fresh:
            return self.pytester.runpytest_subprocess("-p", "no:randomly", *args)
        return self.pytester.runpytest_inprocess("-p", "no:randomly", *args)

    def files(self) -> dict[str, bytes]:
        return {
            p.relative_to(self.root).as_posix(): p.read_bytes()
            for p in sorted((self.root / "snapshots").rglob("*"))
            if p.is_file()
        }

    def cassette(self, test: str, module: str = "test_app") -> dict:
        path = self.root / "snapshots/tests" / module / f"{test}.cassette.json"
        return orjson.loads(path.read_bytes())


@pytest.fixture
def app(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> App:
    return App(pytester, monkeypatch)


def test_record_then_replay_offline_with_byte_identical_snapshots(app: App) -> None:
    app.write()
    with llm_server() as server:
        result = app.run("--agentrig-record", "--snapshot-update", url=server.url, fresh=True)
        result.assert_outcomes(passed=4)
        url = server.url
        assert len(server.seen) == 8
        # The real endpoint got the request's own credentials.
        assert server.seen[0].headers["authorization"] == f"Bearer {KEY}"
        # anthropic 2.x sends its key as a bearer token too.
        keys = [s.headers["authorization"] for s in server.seen if s.path == "/v1/messages"]
        assert keys == [f"Bearer {KEY}"] * 2
    result.stdout.fnmatch_lines(["*agentrig cassettes*", "recorded 3 interaction(s): *"])
    recorded = app.files()
    assert sorted(p for p in recorded if p.endswith(".cassette.json")) == [
        "snapshots/tests/test_app/test_anthropic.cassette.json",
        "snapshots/tests/test_app/test_chat.cassette.json",
        "snapshots/tests/test_app/test_stream_and_tools.cassette.json",
        "snapshots/tests/test_app/test_sync_client_twice.cassette.json",
    ]
    # The server is gone: replay is offline, and rewriting the snapshots changes no byte.
    replay = app.run("--snapshot-update", url=url, fresh=True)
    replay.assert_outcomes(passed=4)
    assert app.files() == recorded
    app.run(url=url, fresh=True).assert_outcomes(passed=4)

    # No secret in any file the sessions wrote (all but the test's own source): not the key,
    # not the cookie the server set.
    for path in app.root.rglob("*"):
        if path.is_file() and path.name != "test_app.py":
            data = path.read_bytes()
            assert KEY.encode() not in data, path
            assert b"s3cr3t-cookie" not in data, path
    chat = app.cassette("test_chat")
    assert chat["agentrig"] == {"cassette": 1}
    (only,) = chat["interactions"]
    assert only["request"] == {
        "provider": "openai",
        "method": "POST",
        "endpoint": "/v1/chat/completions",
        "stream": False,
        "body": {"messages": [{"content": "hello", "role": "user"}], "model": "gpt-4o-mini"},
    }
    assert only["response"]["headers"] == {"content-type": "application/json"}
    stream = app.cassette("test_stream_and_tools")["interactions"][0]
    assert stream["request"]["stream"] is True
    assert stream["response"]["events"][-1] == {"data": "[DONE]"}
    leak = app.cassette("test_anthropic")["interactions"][1]
    deltas = [e["data"].get("delta", {}).get("text") for e in leak["response"]["events"]]
    assert "<redacted>" in "".join(d for d in deltas if d)

    snapshot = orjson.loads(recorded["snapshots/tests/test_app/test_chat.json"])
    (span,) = [s for s in _walk(snapshot["timeline"]) if str(s.get("span")).startswith("chat ")]
    assert span["attributes"]["gen_ai.usage.output_tokens"] > 0
    assert span["attributes"]["agentrig.reply"].startswith("echo #1: hello")
    assert span["attributes"]["agentrig.cost_usd"] > 0


def test_a_changed_prompt_fails_closed_with_the_diff_and_the_command(app: App) -> None:
    app.write(prompt="hello")
    chat = "tests/test_app.py::test_chat"
    with llm_server() as server:
        recorded = app.run("--agentrig-record", "--snapshot-update", chat, url=server.url)
        recorded.assert_outcomes(passed=1)
        app.write(prompt="goodbye")
        before = len(server.seen)
        result = app.run(chat, url=server.url)
        assert len(server.seen) == before  # the server was up, and still nothing reached it
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    expected = (
        "snapshots/tests/test_app/test_chat.cassette.json: model call #1 (openai, POST"
        " /v1/chat/completions, gpt-4o-mini) has no recorded answer.\n"
        "nearest recorded request: interaction #0 (openai, POST /v1/chat/completions,"
        " gpt-4o-mini); what changed:\n"
        "  messages[0].content: 'hello' -> 'goodbye'\n"
        "Replay never calls the real model. If the change is intended, re-record with a real"
        " key: pytest tests/test_app.py::test_chat --agentrig-record\n"
    )
    assert out.count(expected) == 1  # once: not chained to the SDK's APIConnectionError
    assert "INTERNALERROR" not in out


def test_recording_refuses_under_ci_unless_forced(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.write()
    monkeypatch.setenv("CI", "true")
    with llm_server() as server:
        result = app.run("--agentrig-record", url=server.url)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["*CI is set, so --agentrig-record is refused*"])
        assert server.seen == []
        forced = app.run(
            "--agentrig-record",
            "--agentrig-force-update",
            "tests/test_app.py::test_chat",
            url=server.url,
        )
        assert forced.ret == 1  # recorded, but no snapshot yet (CI never creates one)
        assert (app.root / "snapshots/tests/test_app/test_chat.cassette.json").is_file()


def test_a_missing_cassette_fails_with_the_command_that_records_it(app: App) -> None:
    app.write()
    result = app.run("tests/test_app.py::test_chat", url="http://127.0.0.1:9")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_chat.cassette.json: model call #1 (*) has no recorded answer: there is no"
            " cassette yet.*"
        ]
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"agentrig": {"cassette": 1}, "name": "x", "interactions": [', "is not valid JSON"),
        (b'{"agentrig": {"cassette": 9}, "name": "x", "interactions": []}', "cassette format 9"),
        (
            b'{"agentrig": {"cassette": 1}, "name": "x", "interactions": [{"request": 1}]}',
            "interaction #0: request must be an object",
        ),
        (  # a key pasted in by hand
            b'{"agentrig": {"cassette": 1}, "name": "x", "interactions": [{"request": {'
            b'"provider": "openai", "method": "POST", "endpoint": "/v1/chat/completions",'
            b' "stream": false, "body": {"model": "gpt-4o-mini", "messages": [{"role": "user",'
            b' "content": "use sk-proj-HANDedited1234567890abcdefXYZ"}]}}, "response":'
            b' {"status": 200, "headers": {}, "body": {}}, "latency": 0.0}]}',
            "interaction #0: request.body.messages[0].content holds what looks like a secret",
        ),
    ],
)
def test_a_corrupt_cassette_fails_that_test_only(app: App, content: bytes, message: str) -> None:
    app.write()
    path = app.root / "snapshots/tests/test_app/test_chat.cassette.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    result = app.run("tests/test_app.py::test_chat", url="http://127.0.0.1:9")
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    lines = [line for line in out.splitlines() if message in line]
    assert lines and all("snapshots/tests/test_app/test_chat.cassette.json" in x for x in lines)
    assert "INTERNALERROR" not in out and "During handling" not in out
    assert path.read_bytes() == content  # never overwritten


SMALL = """
import os

import openai

N = {n}


def test_calls(llm_cassette):
    with openai.OpenAI(base_url=os.environ["LLM_URL"] + "/v1", api_key={key!r}) as client:
        for i in range(N):
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{{"role": "user", "content": f"q{{i}}"}}]
            )
    assert len(llm_cassette.calls) == N
"""


def _small(app: App, n: int) -> Path:
    path = app.root / "tests/test_small.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SMALL.format(n=n, key=KEY) + "#" * n + "\n")  # a new size: no stale .pyc
    return app.root / "snapshots/tests/test_small/test_calls.cassette.json"


def _count(cassette: Path) -> int:
    return len(orjson.loads(cassette.read_bytes())["interactions"])


def test_unused_interactions_are_reported_then_pruned_on_re_record(app: App) -> None:
    cassette = _small(app, 3)
    with llm_server() as server:
        app.run("--agentrig-record", url=server.url).assert_outcomes(passed=1)
        url = server.url
    assert _count(cassette) == 3
    _small(app, 2)
    result = app.run(url=url)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*1 unused interaction(s)*", "*test_calls.cassette.json: #2"])
    assert _count(cassette) == 3  # a replay never writes
    with llm_server() as server:
        app.run("--agentrig-record", url=server.url).assert_outcomes(passed=1)
        assert server.seen == []  # everything replayed; the re-record only pruned
    assert _count(cassette) == 2
    assert "unused interaction" not in app.run(url=url).stdout.str()


def test_cli_lists_cassettes_and_prunes_by_the_record_of_use(
    app: App, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cassette = _small(app, 3)
    with llm_server() as server:
        app.run("--agentrig-record", url=server.url).assert_outcomes(passed=1)
        url = server.url
    monkeypatch.chdir(app.root)
    assert main(["cassettes"]) == 0
    out = capsys.readouterr().out
    assert "snapshots/tests/test_small/test_calls.cassette.json  3 interactions" in out
    assert "gpt-4o-mini-2024-07-18" in out and " in / " in out and "$0.0000" in out
    assert "total: 1 cassette, 3 interactions" in out
    # Nothing has recorded which interactions a passing replay used: --prune does not guess.
    assert main(["cassettes", "--prune"]) == 0
    assert "no record of use" in capsys.readouterr().out
    _small(app, 2)
    app.run(url=url).assert_outcomes(passed=1)
    assert main(["cassettes", "--prune"]) == 0
    out = capsys.readouterr().out
    assert "pruned 1 unused interaction(s) from snapshots/tests/test_small/test_calls" in out
    assert _count(cassette) == 2
    assert main(["cassettes", "--prune"]) == 0  # the record no longer matches the file
    assert "changed since its test last passed" in capsys.readouterr().out
    app.run(url=url).assert_outcomes(passed=1)
    assert main(["show", "snapshots/tests/test_small/test_calls.cassette.json"]) == 0
    shown = capsys.readouterr().out
    assert "#1 openai POST /v1/chat/completions gpt-4o-mini  -> 200" in shown
    assert re.search(r"    > q1\n    < echo #\d+: q1\n", shown)
    path = "snapshots/tests/test_small/test_calls.cassette.json"
    assert main(["show", "--json", path]) == 0
    assert capsys.readouterr().out.encode() == (app.root / path).read_bytes()
    (app.root / path).write_text("{")
    assert main(["show", path]) == 2
    assert "is not valid JSON" in capsys.readouterr().err


WORKERS = """
import os

import openai


def oa():
    return openai.AsyncOpenAI(base_url=os.environ["LLM_URL"] + "/v1", api_key={key!r})
"""


def test_recording_under_xdist_keeps_each_tests_interactions_apart(app: App) -> None:
    many = "\n".join(
        f"""
async def test_w{i}(llm_cassette):
    for turn in range(3):
        await oa().chat.completions.create(
            model="gpt-4o-mini", messages=[{{"role": "user", "content": "w{i} turn " + str(turn)}}]
        )
"""
        for i in range(6)
    )
    # A module of its own, without the anthropic SDK: each worker imports only what it runs.
    app.write()
    (app.root / "tests/test_workers.py").write_text(WORKERS.format(key=KEY) + many)
    with llm_server() as server:
        result = app.run(
            "--agentrig-record", "-n", "2", "tests/test_workers.py", url=server.url, fresh=True
        )
        result.assert_outcomes(passed=6)
    for i in range(6):
        doc = app.cassette(f"test_w{i}", module="test_workers")
        assert doc["name"] == f"tests/test_workers.py::test_w{i}"
        contents = [x["request"]["body"]["messages"][0]["content"] for x in doc["interactions"]]
        assert contents == [f"w{i} turn {t}" for t in range(3)]
    replay = app.run("-n", "2", "tests/test_workers.py", url="http://127.0.0.1:9", fresh=True)
    replay.assert_outcomes(passed=6)


def test_replayed_calls_take_their_quantized_latency_in_virtual_time(
    app: App, tmp_path: Path
) -> None:
    app.write()
    with llm_server() as server:
        app.run("--agentrig-record", "tests/test_app.py::test_chat", url=server.url)
    path = app.root / "snapshots/tests/test_app/test_chat.cassette.json"
    doc = orjson.loads(path.read_bytes())
    doc["interactions"][0]["latency"] = 2.5  # as if the real call had taken 2.5 s
    path.write_bytes(orjson.dumps(doc))
    (app.root / "tests/test_latency.py").write_text(
        (app.root / "tests/test_app.py")
        .read_text()
        .split("async def test_stream")[0]
        .replace(
            "assert agent_recording == agent_snapshot",
            "import asyncio; assert asyncio.get_running_loop().time() == 2.5",
        )
    )
    target = app.root / "snapshots/tests/test_latency/test_chat.cassette.json"
    target.parent.mkdir(parents=True)
    target.write_bytes(path.read_bytes().replace(b"test_app.py", b"test_latency.py"))
    app.run("tests/test_latency.py", url="http://127.0.0.1:9").assert_outcomes(passed=1)


SLOW = """
import asyncio
import os

import openai

from agentrig import BudgetPool


async def test_slow(llm_cassette):
    loop = asyncio.get_running_loop()
    parked = asyncio.ensure_future(asyncio.sleep(3600))  # a timer the clock could jump to
    pool = BudgetPool(usd="1")
    client = openai.AsyncOpenAI(base_url=os.environ["LLM_URL"] + "/v1", api_key={key!r})
    async with client, pool.acquire(max_usd="0.01", name="slow") as stage:
        reply = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{{"role": "user", "content": "slow"}}]
        )
    parked.cancel()
    # Recorded or replayed, the call took its quantized latency in virtual time, and only
    # that: had the clock jumped while the real reply was on its way, it would be at the
    # next timer (the SDK's 600 s timeout, or 3600).
    assert 0 < loop.time() < 600
    if llm_cassette.mode == "replay":
        assert loop.time() == llm_cassette.player.interactions[0].latency
    assert reply.choices[0].message.content.startswith("echo #")
    # Charged to the ambient stage in both modes (after the fact while recording).
    assert [e.label for e in stage.ledger] == ["model.call gpt-4o-mini"]
    assert stage.spent_usd > 0
"""


def test_recording_stores_the_real_latency_quantized_and_holds_the_virtual_clock(
    app: App,
) -> None:
    (app.root / "tests").mkdir()
    (app.root / "tests/test_slow.py").write_text(SLOW.format(key=KEY))
    path = app.root / "snapshots/tests/test_slow/test_slow.cassette.json"
    with llm_server(delay=0.3) as server:
        app.run("--agentrig-record", url=server.url).assert_outcomes(passed=1)
        (first,) = orjson.loads(path.read_bytes())["interactions"]
        assert first["latency"] >= 0.3 and first["latency"] == round(first["latency"], 1)
        # --agentrig-record=all sends every call again and replaces the cassette; the quantum
        # is the ini's.
        app.pytester.makeini(INI.format(extra="agentrig_cassette_latency_quantum = 0.25"))
        app.run("--agentrig-record=all", url=server.url).assert_outcomes(passed=1)
        assert len(server.seen) == 2
    (second,) = orjson.loads(path.read_bytes())["interactions"]
    content = [x["response"]["body"]["choices"][0]["message"]["content"] for x in (first, second)]
    assert content == ["echo #1: slow", "echo #2: slow"]
    assert second["latency"] >= 0.25 and (second["latency"] / 0.25).is_integer()
    app.run(url="http://127.0.0.1:9").assert_outcomes(passed=1)


TEMPERATURE = """
import os

import openai


def test_temperature(llm_cassette):
    with openai.OpenAI(base_url=os.environ["LLM_URL"] + "/v1", api_key={key!r}) as client:
        client.chat.completions.create(
            model="gpt-4o-mini",
            temperature=float(os.environ["TEMPERATURE"]),
            messages=[{{"role": "user", "content": "hi"}}],
        )
"""


def test_an_ignored_field_leaves_matching_even_when_ignored_after_recording(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    (app.root / "tests").mkdir()
    (app.root / "tests/test_temperature.py").write_text(TEMPERATURE.format(key=KEY))
    monkeypatch.setenv("TEMPERATURE", "0.1")
    with llm_server() as server:
        app.run("--agentrig-record", url=server.url).assert_outcomes(passed=1)
        url = server.url
    monkeypatch.setenv("TEMPERATURE", "0.9")
    missed = app.run(url=url)
    missed.assert_outcomes(failed=1)
    missed.stdout.fnmatch_lines(["*what changed:", "  temperature: 0.1 -> 0.9"])
    app.pytester.makeini(INI.format(extra="agentrig_cassette_ignore = temperature"))
    app.run(url=url).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "agentrig_cassette_ignore = messages[",
            "agentrig_cassette_ignore: 'messages[' is not a field path",
        ),
        (
            "agentrig_cassette_latency_quantum = fast",
            "agentrig_cassette_latency_quantum = 'fast' is not a number",
        ),
        (
            "agentrig_cassette_latency_quantum = -1",
            "agentrig_cassette_latency_quantum must be a non-negative number of seconds",
        ),
    ],
)
def test_a_bad_cassette_ini_value_stops_the_session_naming_it(
    app: App, line: str, message: str
) -> None:
    app.pytester.makeini(INI.format(extra=line))
    _small(app, 1)
    result = app.run(url="http://127.0.0.1:9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


ACCOUNT = """
import os

import openai


def test_account(llm_cassette):
    with openai.OpenAI(base_url=os.environ["LLM_URL"] + "/v1", api_key={key!r}) as client:
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{{"role": "user", "content": "refund acct-123456"}}]
        )
    # The app gets the stored (redacted) form in both modes: recording and replay agree.
    assert reply.choices[0].message.content == "echo #1: refund <redacted>"
"""


def test_the_projects_secret_patterns_are_redacted_before_disk_and_still_match(
    app: App,
) -> None:
    app.pytester.makeini(INI.format(extra="agentrig_secret_patterns = acct-\\d{6}"))
    (app.root / "tests").mkdir()
    (app.root / "tests/test_account.py").write_text(ACCOUNT.format(key=KEY))
    with llm_server() as server:
        app.run("--agentrig-record", url=server.url).assert_outcomes(passed=1)
        assert server.seen[0].body["messages"][0]["content"] == "refund acct-123456"
    cassette = app.root / "snapshots/tests/test_account/test_account.cassette.json"
    assert b"refund <redacted>" in cassette.read_bytes()
    for path in app.root.rglob("*"):
        if path.is_file() and path.name != "test_account.py":
            assert b"acct-123456" not in path.read_bytes(), path
    app.run(url="http://127.0.0.1:9").assert_outcomes(passed=1)
