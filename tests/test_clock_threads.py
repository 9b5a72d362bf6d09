"""Threads on the virtual loop: held clock, submission order, no deadlock, ``real_work``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import pytest

from agentrig import StallError, clock
from agentrig.clock import real_work, run


def test_the_asyncio_internals_the_thread_rules_rely_on_are_found() -> None:
    # If a Python version reshapes them, these features silently stop: fail loudly instead.
    assert all(code is not None for code in clock._ASYNCIO_CODE.values()), clock._ASYNCIO_CODE


@pytest.mark.parametrize("attempt", range(15))
def test_thread_results_ready_at_one_instant_arrive_in_submission_order(attempt: int) -> None:
    async def main() -> list[tuple[int, float]]:
        loop = asyncio.get_running_loop()
        arrived: list[tuple[int, float]] = []

        async def one(i: int) -> None:
            # The first submitted finishes last in real time.
            await loop.run_in_executor(None, time.sleep, (2 - i) * 0.03)
            arrived.append((i, loop.time()))

        await asyncio.sleep(4)
        await asyncio.gather(*(one(i) for i in range(3)))
        return arrived

    assert run(main()) == [(0, 4.0), (1, 4.0), (2, 4.0)]


@pytest.mark.parametrize("attempt", range(20))
def test_wrap_future_of_a_pool_submit_holds_the_clock(attempt: int) -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        seen: list[tuple[str, float]] = []

        async def timer() -> None:
            await asyncio.sleep(1)
            seen.append(("timer", loop.time()))

        async def work(pool: concurrent.futures.ThreadPoolExecutor) -> None:
            seen.append((await asyncio.wrap_future(pool.submit(time.sleep, 0.3)) or "thread", 0))
            seen[-1] = (seen[-1][0], loop.time())

        await asyncio.sleep(2)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            await asyncio.gather(work(pool), timer())
        return seen

    assert run(main()) == [("thread", 2.0), ("timer", 3.0)]


def test_a_thread_waiting_on_a_loop_timer_through_run_coroutine_threadsafe_does_not_deadlock() -> (
    None
):
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()

        def in_thread() -> float:
            async def later() -> float:
                await asyncio.sleep(5)
                return loop.time()

            return asyncio.run_coroutine_threadsafe(later(), loop).result(timeout=30)

        inner = await asyncio.to_thread(in_thread)
        return inner, loop.time()

    assert run(main()) == (5.0, 5.0)


def test_the_clock_still_waits_for_the_thread_after_its_coroutine_ends() -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        seen: list[tuple[str, float]] = []

        def in_thread() -> str:
            asyncio.run_coroutine_threadsafe(asyncio.sleep(1), loop).result(timeout=30)
            time.sleep(0.1)  # real work after the loop answered: no timer may fire meanwhile
            seen.append(("thread", loop.time()))
            return "done"

        async def timer() -> None:
            await asyncio.sleep(1.5)
            seen.append(("timer", loop.time()))

        await asyncio.gather(asyncio.to_thread(in_thread), timer())
        return seen

    assert run(main()) == [("thread", 1.0), ("timer", 1.5)]


@pytest.mark.parametrize("attempt", range(10))
def test_real_work_tells_the_loop_about_a_plain_thread(attempt: int) -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        seen: list[tuple[str, float]] = []
        queue: asyncio.Queue[str] = asyncio.Queue()

        def index(work: clock.RealWork) -> None:
            with work:
                time.sleep(0.2)
                loop.call_soon_threadsafe(queue.put_nowait, "indexed")

        async def timer() -> None:
            await asyncio.sleep(0.5)
            seen.append(("timer", loop.time()))

        async def consumer() -> None:
            seen.append((await queue.get(), loop.time()))

        await asyncio.sleep(3)
        # Counted from here, on the loop thread: the clock cannot move before the thread runs.
        threading.Thread(target=index, args=(real_work("indexer"),)).start()
        await asyncio.gather(consumer(), timer())
        return seen

    assert run(main()) == [("indexed", 3.0), ("timer", 3.5)]


def test_real_work_on_the_loop_thread_holds_the_clock_around_an_await() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[str] = loop.create_future()
        threading.Timer(0.1, lambda: loop.call_soon_threadsafe(fut.set_result, "x")).start()
        with loop.real_work("a stream from a real server"):
            async with asyncio.timeout(1):  # would fire at once without the handle
                await fut
        return loop.time()

    assert run(main()) == 0.0


def test_real_work_that_never_ends_is_a_stall_naming_it() -> None:
    async def main() -> None:
        work = real_work("the indexer thread")
        try:
            await asyncio.sleep(1)
        finally:
            work.done()

    with pytest.raises(StallError, match=r"real_work\('the indexer thread'\)"):
        run(main(), real_work_timeout=0.2)


def test_real_work_without_a_virtual_loop_counts_nothing() -> None:
    work = real_work("outside any loop")
    assert "done" in repr(work)
    work.done()  # harmless

    async def main() -> None:
        with real_work("on a plain asyncio loop"):
            await asyncio.sleep(0)

    asyncio.run(main())


def test_thread_work_repr_and_flag() -> None:
    async def main() -> tuple[bool, bool]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, clock.VirtualEventLoop)
        event = threading.Event()
        fut = loop.run_in_executor(None, event.wait, 10)
        busy = loop.has_pending_thread_work()
        event.set()
        await fut
        return busy, loop.has_pending_thread_work()

    assert run(main()) == (True, False)
