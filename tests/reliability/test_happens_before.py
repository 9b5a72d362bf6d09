"""Order comes from happens-before, never from which task or thread did the work.

Found by a hostile probe: sequential zero-latency steps that each ran in their own task (an
awaited ``create_task``, ``wait_for`` on 3.11) were taken for concurrent ones and sorted by
name, so swapping two stages or moving a decision past a step passed, and a snapshot recorded
on 3.11 (``wait_for`` makes a task) drifted on 3.12 (it does not); decisions, bus emits and
budget charges made by concurrent tasks or threads without a span of their own kept arrival
order (the unchanged suite failed 10 runs in 10); and on a module-scoped loop a background
task's timers in a test's recording depended on which tests ran before it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
from reliability_kit import Rig

import agentrig
from agentrig import BudgetPool, DecisionLog, EventBus, Tracer
from agentrig.normalize import dumps, normalize
from agentrig.recording import Recording

# -- sequential steps in tasks of their own ---------------------------------------------------

PIPELINE = """
import asyncio

from agentrig import BudgetPool, DecisionLog, EventBus, Tracer

tracer = Tracer()
log = DecisionLog()


async def stage(name):
    with tracer.span(name):
        log.record(decision="stage_done", stage=name)


async def run(order, checkpoint_after):
    with tracer.span("pipeline"):
        for name in order:
            await {wrap}
            if name == checkpoint_after:
                log.record(decision="checkpoint")


async def test_pipeline(agent_recording, agent_snapshot):
    await run({order}, {checkpoint!r})
    assert agent_recording == agent_snapshot
"""

WRAPS = {
    "create_task": "asyncio.create_task(stage(name))",
    "wait_for": "asyncio.wait_for(stage(name), timeout=10)",
}


@pytest.mark.parametrize("wrap", sorted(WRAPS))
def test_reordering_sequential_steps_in_their_own_tasks_is_drift(rig: Rig, wrap: str) -> None:
    def write(order: tuple[str, ...], checkpoint: str) -> None:
        rig.write(
            "test_app.py", PIPELINE.format(wrap=WRAPS[wrap], order=order, checkpoint=checkpoint)
        )

    write(("research", "draft", "review"), "research")
    rig.run("--snapshot-update").assert_outcomes(passed=1)
    rig.run().assert_outcomes(passed=1)

    write(("research", "review", "draft"), "research")  # two stages swapped
    swapped = rig.run()
    swapped.assert_outcomes(failed=1)
    assert "drift" in swapped.stdout.str().lower()

    write(("research", "draft", "review"), "draft")  # a decision moved past a step
    rig.run().assert_outcomes(failed=1)


def _stage_body(tracer: Tracer, log: DecisionLog, name: str) -> None:
    with tracer.span(name):
        log.record(decision="stage_done", stage=name)


async def _direct(tracer: Tracer, log: DecisionLog, name: str) -> None:
    _stage_body(tracer, log, name)
    await asyncio.sleep(0)


def _via(wrap: Callable[[Coroutine[Any, Any, None]], Awaitable[Any]]) -> Any:
    async def step(tracer: Tracer, log: DecisionLog, name: str) -> None:
        await wrap(_direct(tracer, log, name))

    return step


async def _task_group(coro: Coroutine[Any, Any, None]) -> None:
    async with asyncio.TaskGroup() as group:
        group.create_task(coro)


async def _to_thread(tracer: Tracer, log: DecisionLog, name: str) -> None:
    await asyncio.to_thread(_stage_body, tracer, log, name)


STEPS: dict[str, Any] = {
    "await": _direct,
    "create_task": _via(asyncio.create_task),
    "ensure_future": _via(asyncio.ensure_future),
    "wait_for": _via(lambda c: asyncio.wait_for(c, 10)),
    "gather_of_one": _via(asyncio.gather),
    "shield": _via(lambda c: asyncio.shield(asyncio.ensure_future(c))),
    "task_group_of_one": _via(_task_group),
    "to_thread": _to_thread,
}


def _pipeline_snapshot(step: Any) -> bytes:
    tracer, log = Tracer(), DecisionLog()

    async def main() -> None:
        with tracer.span("pipeline"):
            for name in ("research", "draft", "review"):
                log.record(decision="starting", stage=name)
                await step(tracer, log, name)

    rec = Recording("tests/test_app.py::test_pipeline")
    with rec.activate():
        agentrig.run(main())
    return dumps(normalize(rec))


@pytest.mark.parametrize("how", sorted(set(STEPS) - {"await"}))
def test_awaiting_a_task_of_a_step_records_what_awaiting_the_step_records(how: str) -> None:
    # wait_for makes a task on 3.11 and none on 3.12: equal bytes here mean a snapshot
    # recorded on one Python passes on the other.
    direct = _pipeline_snapshot(STEPS["await"])

    assert _pipeline_snapshot(STEPS[how]) == direct
    assert direct.index(b'"research"') < direct.index(b'"draft"') < direct.index(b'"review"')


def test_a_gather_of_steps_is_still_canonical() -> None:
    tracer, log = Tracer(), DecisionLog()

    def main(order: tuple[str, ...]) -> Coroutine[Any, Any, None]:
        async def go() -> None:
            with tracer.span("broadcast"):
                await asyncio.gather(*(_direct(tracer, log, n) for n in order))

        return go()

    docs = []
    for order in (("web", "papers", "forums"), ("forums", "web", "papers")):
        rec = Recording("t")
        with rec.activate():
            agentrig.run(main(order))
        docs.append(dumps(normalize(rec)))

    assert docs[0] == docs[1]


# -- records of concurrent tasks and threads without a span of their own ----------------------


def _concurrent_records(order: tuple[str, ...], *, threads: bool) -> bytes:
    """Three agents record a decision, a bus emit and a budget charge, in ``order``."""
    log, bus, pool = DecisionLog(), EventBus(), BudgetPool(usd=1.0)
    tracer = Tracer()
    turn = {name: threading.Event() for name in order}

    def act(name: str, stage: Any) -> None:
        if threads:  # force this arrival order between real threads
            index = order.index(name)
            if index:
                turn[order[index - 1]].wait(10)
        log.record(decision="answered", agent=name)
        stage.charge(usd=0.01 * (1 + "abc".index(name[0])), label=name)
        turn[name].set()

    async def agent(name: str, stage: Any) -> None:
        if threads:
            await asyncio.to_thread(act, name, stage)
        else:
            await asyncio.sleep(0)
            act(name, stage)
        await bus.emit("answer", agent=name)

    async def main() -> None:
        with tracer.span("broadcast"):
            async with pool.acquire(max_usd=0.5, name="fanout") as stage:
                names = ("a", "b", "c") if threads else order
                await asyncio.gather(*(agent(n, stage) for n in names))

    rec = Recording("t")
    with rec.activate():
        agentrig.run(main())
    return dumps(normalize(rec))


@pytest.mark.parametrize("threads", [False, True], ids=["tasks", "threads"])
def test_records_of_concurrent_agents_without_spans_are_in_canonical_order(threads: bool) -> None:
    orders = [("a", "b", "c"), ("c", "a", "b"), ("b", "c", "a")]
    docs = {_concurrent_records(order, threads=threads) for order in orders}

    assert len(docs) == 1
    doc = docs.pop()
    assert doc.count(b'"answered"') == 3 and doc.count(b'"budget.charge"') == 3


def test_sequential_records_keep_their_order() -> None:
    log = DecisionLog()

    def run(names: tuple[str, ...]) -> bytes:
        async def main() -> None:
            for name in names:
                await asyncio.create_task(asyncio.sleep(0))
                log.record(decision="step", stage=name)

        rec = Recording("t")
        with rec.activate():
            agentrig.run(main())
        return dumps(normalize(rec))

    assert run(("b", "a")) != run(("a", "b"))


# -- a module-scoped loop shared with a background task ---------------------------------------

SHARED_LOOP = """
import asyncio

import pytest
import pytest_asyncio

from agentrig import DecisionLog

pytestmark = pytest.mark.asyncio(loop_scope="module")
log = DecisionLog()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def heartbeat():
    async def beat():
        while True:
            await asyncio.sleep(3)
            log.record(decision="tick")

    task = asyncio.create_task(beat())
    yield
    task.cancel()


async def test_one(heartbeat, agent_recording, agent_snapshot):
    await asyncio.sleep(5)
    log.record(decision="one")
    assert agent_recording == agent_snapshot
    ticks = {e.data["decision"] for e in agent_recording.inherited}
    assert ticks == {"tick"}  # 1 or 2 of them, depending on what ran before


async def test_two(heartbeat, agent_recording, agent_snapshot):
    await asyncio.sleep(4)
    log.record(decision="two")
    assert agent_recording == agent_snapshot
    assert {e.data["decision"] for e in agent_recording.inherited} <= {"tick"}


async def test_three(heartbeat, agent_recording, agent_snapshot):
    queue = asyncio.Queue()

    async def worker():
        await asyncio.sleep(1)
        log.record(decision="worked")
        await queue.put(None)

    asyncio.create_task(worker())
    await queue.get()
    assert agent_recording == agent_snapshot
    assert [d["decision"] for d in agent_recording.decisions] == ["worked"]
"""


def test_a_shared_loops_background_timers_do_not_make_a_test_depend_on_earlier_tests(
    rig: Rig,
) -> None:
    rig.write("test_shared.py", SHARED_LOOP)
    rig.run("--snapshot-update").assert_outcomes(passed=3)
    recorded = rig.files()
    assert len(recorded) == 3

    for args in (
        ("-k", "test_two"),
        ("-k", "test_three"),
        ("test_shared.py::test_three", "test_shared.py::test_two", "test_shared.py::test_one"),
        ("-k", "not test_one"),
    ):
        result = rig.run(*args)
        assert result.ret == 0, result.stdout.str()[-3000:]
    assert rig.files() == recorded
    timeline = recorded["test_shared/test_one.json"].decode()
    assert '"one"' in timeline and '"tick"' not in timeline
