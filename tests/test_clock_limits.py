"""Bad and extreme input on the virtual loop: infinite and huge waits, tick resolution, spins."""

from __future__ import annotations

import asyncio

import pytest

from agentrig import ConfigurationError, StallError
from agentrig.clock import MAX_STALL_TIMEOUT, VirtualEventLoop, run
from agentrig.deadline import Deadline


def test_sleep_inf_is_a_stall_naming_the_never_coming_timer_not_an_overflow() -> None:
    async def sleeps_forever() -> None:
        await asyncio.sleep(float("inf"))

    with pytest.raises(StallError, match=r"(?s)due at t=inf.*sleeps_forever\(\)"):
        run(sleeps_forever(), stall_timeout=0.05)


@pytest.mark.parametrize("huge", [float("inf"), 1e303, 1e20])
def test_an_infinite_or_huge_timeout_around_finite_work_behaves_as_on_a_real_loop(
    huge: float,
) -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(huge):
            await asyncio.sleep(2)
        after_timeout = loop.time()
        assert await asyncio.wait_for(asyncio.sleep(1, result=7), huge) == 7
        async with Deadline(min(huge, 1e303)):  # (Deadline refuses inf itself)
            await asyncio.sleep(3)
        return [after_timeout, loop.time()]

    assert run(main()) == [2.0, 6.0]


def test_a_huge_deadline_that_nothing_else_ends_is_a_stall() -> None:
    async def main() -> None:
        async with Deadline(1e303):
            await asyncio.Event().wait()

    with pytest.raises(StallError, match="never come"):
        run(main(), stall_timeout=0.05)


def test_microsecond_resolution_after_a_sleep_of_a_trillion_seconds() -> None:
    async def main() -> tuple[int, int, int]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualEventLoop)
        await asyncio.sleep(1e12)
        first = loop.time_us()
        await asyncio.sleep(1e-5)  # spun forever on float ticks
        second = loop.time_us()
        await asyncio.sleep(1e-6)
        return first, second, loop.time_us()

    assert run(main()) == (10**18, 10**18 + 10, 10**18 + 11)


def test_timers_a_microsecond_apart_at_a_trillion_seconds_keep_their_order() -> None:
    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        order: list[str] = []
        await asyncio.sleep(1e12)
        loop.call_later(3e-6, order.append, "third")
        loop.call_later(1e-6, order.append, "first")
        loop.call_later(2e-6, order.append, "second")
        await asyncio.sleep(1e-5)
        return order

    assert run(main()) == ["first", "second", "third"]


@pytest.mark.parametrize("bad", [MAX_STALL_TIMEOUT + 1, 3_000_000])
def test_stall_timeouts_beyond_a_day_are_refused_with_the_bound(bad: float) -> None:
    with pytest.raises(ConfigurationError, match=r"`stall_timeout` must be at most 86400"):
        VirtualEventLoop(stall_timeout=bad)
    with pytest.raises(ConfigurationError, match=r"`real_work_timeout` must be at most 86400"):
        VirtualEventLoop(real_work_timeout=bad)


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), 1e300])
def test_advance_refuses_infinite_or_huge_steps(bad: float) -> None:
    loop = VirtualEventLoop()
    try:
        with pytest.raises(ConfigurationError, match="`seconds`"):
            loop.advance(bad)
    finally:
        loop.close()


def test_a_busy_wait_on_a_deadline_ends_at_the_deadline() -> None:
    """On a real loop real time passes while it spins; here, after a long run of iterations
    that do nothing but poll, each further one moves the clock by 10 ms."""

    async def main() -> tuple[float, int]:
        deadline = Deadline(120)
        polls = 0
        while not deadline.expired():
            polls += 1
            await asyncio.sleep(0)
        return asyncio.get_running_loop().time(), polls

    now, polls = run(main())
    assert now == 120.0
    assert run(main())[1] == polls  # the same number of polls every run


def test_yielding_with_sleep_0_at_one_instant_does_not_move_the_clock() -> None:
    async def main() -> float:
        for _ in range(10_000):
            await asyncio.sleep(0)
        return asyncio.get_running_loop().time()

    assert run(main()) == 0.0


def test_sleep_nan_returns_at_once_as_on_a_real_loop() -> None:
    async def main() -> float:
        await asyncio.sleep(float("nan"))
        return asyncio.get_running_loop().time()

    assert run(main()) == 0.0
