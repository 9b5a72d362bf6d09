"""One virtual loop per worker: what a test leaves behind never reaches the next test.

Function-scoped async agentrig tests share one ``VirtualEventLoop`` per session
(``agentrig.plugin.loop.LoopKeeper``), wound down after each test as ``asyncio.Runner.close()``
would and rewound to t=0 for the next; whatever could outlive a test on it makes the plugin
close it and start a new one. Each inner suite below runs with the reuse on and off
(``agentrig_loop_reuse``) and must behave the same both ways.
"""

from __future__ import annotations

import shutil

import pytest
from agentrig_project import Project

# Each leaky test is followed by a check that runs right after it: both see the same module
# globals, so the check can look at what the leak left behind.
LEAKS = """
import asyncio
import gc
import threading
import weakref

import pytest

from agentrig import VirtualEventLoop

seen = {}
events = []


def same_loop_as_before():
    old = seen["loop"]()
    return old is not None and old is asyncio.get_running_loop()


async def forever(name):
    try:
        await asyncio.sleep(10_000)
    except asyncio.CancelledError:
        events.append(f"{name} cancelled")
        raise
    finally:
        events.append(f"{name} finally")


async def test_1_leaks_a_task(agent_recording):
    seen["loop"] = weakref.ref(asyncio.get_running_loop())
    asyncio.get_running_loop().create_task(forever("task"))
    await asyncio.sleep(1)


async def test_2_sees_no_task_and_its_finally_ran(agent_recording):
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualEventLoop)
    assert loop.time() == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert events == ["task cancelled", "task finally"]
    await asyncio.sleep(20_000)
    assert events == ["task cancelled", "task finally"]


async def test_3_leaks_timers_and_a_ready_callback(agent_recording):
    loop = asyncio.get_running_loop()
    seen["loop"] = weakref.ref(loop)
    seen["timer"] = loop.call_later(5, events.append, "timer fired")
    # Scheduled after the test's run has stopped the loop: a fresh loop's shutdown runs them.
    asyncio.current_task().add_done_callback(
        lambda _: loop.call_soon(events.append, "ready callback ran")
    )
    asyncio.current_task().add_done_callback(
        lambda _: loop.call_at(loop.time(), events.append, "due timer ran")
    )


async def test_4_sees_no_timer(agent_recording):
    assert events[-2:] == ["ready callback ran", "due timer ran"]
    loop = asyncio.get_running_loop()
    assert loop.time() == 0
    await asyncio.sleep(60)
    assert "timer fired" not in events
    seen["timer"].cancel()  # a handle of an earlier test changes nothing here
    await asyncio.sleep(1)
    assert loop.time() == 61


async def agen():
    try:
        yield 1
        yield 2
    finally:
        events.append("agen closed")


async def test_5_leaks_an_async_generator(agent_recording):
    seen["loop"] = weakref.ref(asyncio.get_running_loop())
    gen = agen()
    assert await gen.__anext__() == 1
    seen["gen"] = gen


async def test_6_the_generator_was_closed(agent_recording):
    assert events[-1] == "agen closed"
    async def fresh():
        yield 3
    assert [x async for x in fresh()] == [3]  # no "after shutdown_asyncgens" warning


async def test_7_leaks_a_thread(agent_recording):
    loop = asyncio.get_running_loop()
    seen["loop"] = weakref.ref(loop)
    go = threading.Event()
    seen["go"] = go

    def late():
        go.wait(10)
        try:
            loop.call_soon_threadsafe(events.append, "thread callback ran")
        except RuntimeError as exc:
            events.append(f"thread: {exc}")

    seen["thread"] = threading.Thread(target=late)
    seen["thread"].start()


async def test_8_the_thread_cannot_reach_this_loop(agent_recording):
    assert not same_loop_as_before()
    seen["go"].set()
    seen["thread"].join(10)
    await asyncio.sleep(1)
    assert events[-1] == "thread: Event loop is closed"


async def test_9_uses_the_default_executor(agent_recording):
    seen["loop"] = weakref.ref(asyncio.get_running_loop())
    seen["thread name"] = await asyncio.to_thread(lambda: threading.current_thread().name)


async def test_10_gets_a_new_loop_and_executor(agent_recording):
    assert not same_loop_as_before()
    name = await asyncio.to_thread(lambda: threading.current_thread().name)
    assert name == seen["thread name"] == "asyncio_0"


@pytest.mark.parametrize("change", ["exception handler", "task factory", "stall timeout"])
async def test_11_changes_the_loop(agent_recording, change):
    loop = asyncio.get_running_loop()
    assert loop.get_exception_handler() is None  # the earlier change did not reach this loop
    assert loop.get_task_factory() is None
    assert loop.stall_timeout == 0.2
    seen["loop"] = weakref.ref(loop)
    if change == "exception handler":
        loop.set_exception_handler(lambda loop, context: None)
    elif change == "task factory":
        loop.set_task_factory(lambda loop, coro, **kw: asyncio.Task(coro, loop=loop, **kw))
    else:
        loop.stall_timeout = 0.01
    await asyncio.sleep(1)


async def test_12_gets_a_loop_as_new(agent_recording):
    assert not same_loop_as_before()
    loop = asyncio.get_running_loop()
    assert loop.get_exception_handler() is None
    assert loop.get_task_factory() is None
    assert loop.stall_timeout == 0.2


async def test_13_opens_a_server_and_leaves_it(agent_recording):
    seen["loop"] = weakref.ref(asyncio.get_running_loop())
    seen["server"] = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)


async def test_14_the_server_is_not_served_here(agent_recording):
    assert not same_loop_as_before()
    seen.pop("server").close()
    gc.collect()


async def test_15_leaves_a_reader(agent_recording):
    import socket
    loop = asyncio.get_running_loop()
    seen["loop"] = weakref.ref(loop)
    seen["pair"] = socket.socketpair()
    loop.add_reader(seen["pair"][0].fileno(), events.append, "read")
    seen["pair"][1].send(b"x")


async def test_15b_the_reader_is_not_served_here(agent_recording):
    assert not same_loop_as_before()
    await asyncio.sleep(1)
    for sock in seen.pop("pair"):
        sock.close()


async def test_16_a_clean_test_leaves_the_loop_to_the_next(agent_recording):
    loop = asyncio.get_running_loop()
    assert loop.time() == 0
    seen["loop"] = weakref.ref(loop)
    await asyncio.sleep(3)


async def test_17_runs_on_the_loop_of_the_clean_test(agent_recording, request):
    reuse = request.config.getini("agentrig_loop_reuse") != "false"
    assert same_loop_as_before() is reuse
    assert asyncio.get_running_loop().time() == 0
"""


@pytest.mark.parametrize("reuse", ["true", "false"])
def test_what_a_test_leaves_on_the_loop_never_reaches_the_next_test(
    project: Project, reuse: str
) -> None:
    project.configure(extra=f"agentrig_loop_reuse = {reuse}\nfilterwarnings = error")
    project.write("tests/test_leaks.py", LEAKS)
    result = project.run("-p", "no:randomly")
    result.assert_outcomes(passed=20)


SUITE = """
import asyncio

import pytest


async def leftover(fake_model):
    await fake_model.agent("leftover", reply="late", latency=1.5).run("q")


@pytest.mark.parametrize("n", range(6))
async def test_agents(
    fake_model, tracer, budget_pool, deadline, agent_recording, agent_snapshot, n
):
    loop = asyncio.get_running_loop()
    if n % 2:
        loop.create_task(leftover(fake_model))  # left running: cancelled at the test's end
        loop.call_later(0.5 * n, lambda: None)
    pool = budget_pool(usd=0.10)
    with tracer.span("run", attributes={"n": n, "t0": loop.time()}):
        async with pool.acquire(max_usd=0.05) as stage:
            out = await fake_model.agent("a", reply=f"r{n}", latency=n).run("q", budget=stage)
        await asyncio.sleep(0.25)
        async with deadline(seconds=100):
            await fake_model.agent("b", reply=out.text * 2, latency=1).run(out.text)
    assert agent_recording == agent_snapshot


async def test_threads(fake_model, agent_recording, agent_snapshot):
    await asyncio.to_thread(sum, [1, 2])
    await fake_model.agent("c", reply="x", latency=2).run("q")
    assert agent_recording == agent_snapshot
"""


def test_snapshots_are_byte_identical_with_the_reuse_on_and_off_in_any_order_and_with_xdist(
    project: Project,
) -> None:
    project.write("tests/test_suite.py", SUITE)
    project.configure(extra="agentrig_loop_reuse = false")
    project.run("--snapshot-update").assert_outcomes(passed=7)
    baseline = project.snapshot_files()
    assert len(baseline) == 7

    project.configure(extra="agentrig_loop_reuse = true")
    ids = [line for line in project.run("--collect-only", "-q").stdout.lines if "::" in line]
    assert len(ids) == 7
    for args in ([], list(reversed(ids)), ["-n", "2"]):
        shutil.rmtree(project.path / "snapshots")
        run = project.run_subprocess if args[:1] == ["-n"] else project.run
        run("--snapshot-update", *args).assert_outcomes(passed=7)
        assert project.snapshot_files() == baseline, args
    project.run(*reversed(ids)).assert_outcomes(passed=7)


@pytest.mark.parametrize("reuse", ["true", "false"])
def test_a_test_that_stops_the_loop_fails_and_the_next_one_runs_as_usual(
    project: Project, reuse: str
) -> None:
    project.configure(extra=f"agentrig_loop_reuse = {reuse}")
    project.write(
        "tests/test_stop.py",
        """
import asyncio

async def test_stops(agent_recording):
    asyncio.get_running_loop().stop()
    await asyncio.sleep(1)

async def test_after(agent_recording):
    assert asyncio.get_running_loop().time() == 0
    await asyncio.sleep(5)
    assert asyncio.get_running_loop().time() == 5
""",
    )
    result = project.run("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Event loop stopped before Future completed*"])


def test_a_bad_loop_reuse_value_stops_the_session(project: Project) -> None:
    project.configure(extra="agentrig_loop_reuse = sometimes")
    project.write("tests/test_x.py", "def test_x():\n    pass\n")
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*agentrig_loop_reuse must be true or false*'sometimes'*"])
