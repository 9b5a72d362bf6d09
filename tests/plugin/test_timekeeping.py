"""Seeded randomness, virtual ``asyncio.run``, the virtual wall clock and AgentrigWarning."""

from __future__ import annotations

import json

import pytest
from agentrig_project import Project

SERVER = '''
import json, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLY = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}

def start_flaky_server():
    """500 on every odd request, 200 on every even one."""
    count = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length") or 0))
            count[0] += 1
            status, body = (500, {"error": {"message": "boom"}}) if count[0] % 2 else (200, REPLY)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd
'''

JITTER_TEST = """
import json, pathlib
import openai
from flaky_server import start_flaky_server

async def test_retry(virtual_clock, agent_recording):
    httpd = start_flaky_server()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    stamps = []
    try:
        async with openai.AsyncOpenAI(base_url=url, api_key="sk-test") as client:
            for _ in range(3):
                await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "hi"}])
                stamps.append(virtual_clock.time())
    finally:
        httpd.shutdown()
        httpd.server_close()
    with open(pathlib.Path(__file__).parent / "stamps.jsonl", "a") as out:
        out.write(json.dumps(stamps) + "\\n")
"""


def _stamps(project: Project) -> list[list[float]]:
    lines = (project.pytester.path / "tests" / "stamps.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_the_openai_sdks_retry_jitter_gives_the_same_virtual_times_every_run(
    project: Project,
) -> None:
    project.write("tests/flaky_server.py", SERVER)
    project.write("tests/test_jitter.py", JITTER_TEST)
    for _ in range(3):
        project.run().assert_outcomes(passed=1)
    runs = _stamps(project)
    assert len(runs) == 3
    assert runs[0] == runs[1] == runs[2]
    # Each call was retried once after a jittered backoff of 0.375-0.5 s (openai's formula).
    assert 0.375 <= runs[0][0] <= 0.5 and runs[0][0] not in (0.375, 0.5)

    project.run("--agentrig-seed=12345").assert_outcomes(passed=1)
    assert _stamps(project)[3] != runs[0]  # another seed, other jitter


SEED_TESTS = """
import json, pathlib, random
import pytest

def _note(name, value):
    with open(pathlib.Path(__file__).parent / "draws.jsonl", "a") as out:
        out.write(json.dumps([name, value]) + "\\n")

def test_one(agent_recording):
    _note("one", random.random())

def test_two(agent_recording):
    _note("two", random.random())

@pytest.mark.agentrig(seed=7)
def test_marker_seed():
    _note("marker", random.random())

def test_plain():
    _note("plain", random.random())
"""


def _draws(project: Project) -> list[list[object]]:
    lines = (project.pytester.path / "tests" / "draws.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_each_agentrig_test_draws_from_its_own_seed_in_any_order(project: Project) -> None:
    project.write("tests/test_seeds.py", SEED_TESTS)
    project.run().assert_outcomes(passed=4)
    first = dict(map(tuple, _draws(project)))  # type: ignore[arg-type]
    ids = ["tests/test_seeds.py::" + n for n in ("test_plain", "test_two", "test_one")]
    project.run(*ids).assert_outcomes(passed=3)
    again = dict(map(tuple, _draws(project)[4:]))  # type: ignore[arg-type]
    assert again["one"] == first["one"] and again["two"] == first["two"]
    assert first["one"] != first["two"] != first["marker"]
    # A test that is not an agentrig test is not seeded: its draw follows the process's state.
    assert again["plain"] != first["plain"]


def test_the_seed_is_restored_after_the_test(project: Project) -> None:
    project.write(
        "tests/test_restore.py",
        """
import random

def test_a(agent_recording):
    random.random()

def test_b():
    # The state an agentrig test started with came back: not the seeded sequence.
    random.seed(99)
    assert random.random() == __import__("random").Random(99).random()
""",
    )
    project.run().assert_outcomes(passed=2)


def test_a_bad_seed_is_a_usage_error(project: Project) -> None:
    project.write("tests/test_a.py", "def test_a(agent_recording):\n    pass\n")
    result = project.run("--agentrig-seed=soon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--agentrig-seed must be an integer, got 'soon'*"])


def test_a_drift_report_names_a_seed_that_is_not_the_default(project: Project) -> None:
    project.write(
        "tests/test_seeded_drift.py",
        """
import random

def test_d(tracer, agent_recording, agent_snapshot):
    with tracer.span("pick") as span:
        span.set_attribute("choice", random.choice(["a", "b", "c", "d", "e", "f", "g"]))
    assert agent_recording == agent_snapshot
""",
    )
    project.run("--snapshot-update").assert_outcomes(passed=1)
    project.run().assert_outcomes(passed=1)  # the default seed: the same choice every run
    for seed in range(1, 30):
        result = project.run(f"--agentrig-seed={seed}")
        if result.ret != 0:
            break
    else:
        pytest.fail("no seed out of 29 changed a 1-in-7 choice")
    result.stdout.fnmatch_lines([f"*random was seeded with * (base seed {seed}, not the default*"])


# -- sync entry points -----------------------------------------------------------------------------

SYNC_APP = """
import asyncio
import time
import agentrig

async def app(agents):
    out = []
    for agent in agents:
        reply = await agent.run("task")
        out.append((reply.text, asyncio.get_running_loop().time()))
    return out

def test_app(fake_model, agent_recording):
    names = ("research", "draft", "review")
    agents = [fake_model.agent(s, reply=s.upper(), latency=3.0) for s in names]
    started = time.perf_counter()
    assert asyncio.run(app(agents)) == [("RESEARCH", 3.0), ("DRAFT", 6.0), ("REVIEW", 9.0)]
    with asyncio.Runner() as runner:
        assert runner.run(app(agents))[-1] == ("REVIEW", 9.0)
    assert time.perf_counter() - started < 3
    calls = [s for s in agent_recording.spans if s.name.startswith("chat ")]
    assert [(s.start, s.end) for s in calls[:3]] == [(0.0, 3.0), (3.0, 6.0), (6.0, 9.0)]

def test_plain_test_after_it_gets_the_real_loop():
    async def main():
        return type(asyncio.get_running_loop()).__name__
    assert asyncio.run(main()) != "VirtualEventLoop"
"""


def test_asyncio_run_in_a_sync_agentrig_test_is_virtual_and_recorded(project: Project) -> None:
    project.write("tests/test_sync_app.py", SYNC_APP)
    project.run().assert_outcomes(passed=2)


def test_agentrig_used_outside_an_agentrig_test_warns_once_naming_the_fix(
    project: Project,
) -> None:
    project.write(
        "tests/test_unmarked.py",
        """
import asyncio
from agentrig import DecisionLog, FakeModel

def test_builds_its_own_fake(tmp_path):
    model = FakeModel()
    log = DecisionLog(path=tmp_path / "decisions.jsonl")
    agent = model.agent("a", reply="x", latency=0.01)
    async def app():
        for _ in range(3):
            await agent.run("q")
        log.record(decision="done")
    asyncio.run(app())
    log.close()
    assert (tmp_path / "decisions.jsonl").exists()  # the export went where the app asked

def test_sync_use_does_not_warn(tmp_path):
    log = DecisionLog(path=tmp_path / "d.jsonl")
    log.record(decision="x")
    log.close()
""",
    )
    result = project.run("-W", "always::agentrig.AgentrigWarning")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert out.count("tests/test_unmarked.py::test_builds_its_own_fake uses agentrig") == 1
    assert "(FakeModel agent 'a')" in out
    assert "test_sync_use_does_not_warn uses agentrig" not in out
    assert "is not an agentrig test: it runs on real time" in out
    assert "file exports go where the app asked" in out
    assert "add @pytest.mark.agentrig to the test" in out


# -- the wall clock -------------------------------------------------------------------------------

WALL_TEST = """
import asyncio, datetime as dt, time
import pytest
import tenacity

@pytest.mark.agentrig(wall_clock="virtual")
async def test_wall(virtual_clock):
    start = time.time()
    await asyncio.sleep(5)
    assert time.time() - start == 5.0
    assert dt.datetime.now(dt.timezone.utc) == EPOCH + dt.timedelta(seconds=5)
    assert time.monotonic() - 0 >= 5 and time.perf_counter() > 0
    attempts = 0

    @tenacity.retry(stop=tenacity.stop_after_delay(5), wait=tenacity.wait_fixed(1), reraise=True)
    async def flaky():
        nonlocal attempts
        attempts += 1
        raise ValueError("down")

    with pytest.raises(ValueError):
        await flaky()
    assert attempts == 6  # t = 5..10: as on a real clock
    assert virtual_clock.time() == 10.0

def test_after_it_the_clock_is_real():
    assert abs(time.time() - REAL_NOW) < 3600
"""


def _wall_test(epoch: str) -> str:
    return (
        "import datetime as dt, time\n"
        f"EPOCH = dt.datetime.fromisoformat({epoch!r})\n"
        "REAL_NOW = time.time()\n" + WALL_TEST
    )


def test_a_virtual_wall_clock_follows_the_loop_and_tenacity_stops_on_time(
    project: Project,
) -> None:
    project.write("tests/test_wall.py", _wall_test("2026-01-01T00:00:00+00:00"))
    project.run().assert_outcomes(passed=2)


def test_the_wall_clock_epoch_and_default_come_from_the_ini(project: Project) -> None:
    project.configure(
        extra="agentrig_wall_clock = virtual\nagentrig_wall_clock_epoch = 2030-05-01T12:00:00Z"
    )
    project.write("tests/test_wall.py", _wall_test("2030-05-01T12:00:00+00:00"))
    project.run().assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ("agentrig_wall_clock = fake", "agentrig_wall_clock must be one of real, virtual"),
        ("agentrig_wall_clock_epoch = someday", "must be an ISO 8601 date/time"),
        ("agentrig_stall_timeout = 3000000", "must be at most 86400 real seconds"),
    ],
)
def test_bad_time_ini_values_are_usage_errors(project: Project, ini: str, message: str) -> None:
    project.pytester.makeini(f"[pytest]\nasyncio_mode = auto\n{ini}\n")
    project.write("tests/test_a.py", "def test_a(agent_recording):\n    pass\n")
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_a_bad_wall_clock_marker_fails_that_test_naming_the_value(project: Project) -> None:
    project.write(
        "tests/test_a.py",
        """
import pytest

@pytest.mark.agentrig(wall_clock="sundial")
def test_a():
    pass
""",
    )
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*`wall_clock` must be one of real, virtual, got 'sundial'*"])
