"""Deadline: virtual under the virtual clock, a TimeoutError at expiry, recorded."""

from __future__ import annotations

import asyncio

import pytest

from agentrig import AgentRigError, ConfigurationError, DeadlineExceeded
from agentrig.clock import run
from agentrig.deadline import Deadline
from agentrig.recording import Recording


def test_deadline_of_120s_around_10s_sleeps_expires_at_exactly_120_virtual_seconds(
    real_waits: list[float | None],
) -> None:
    async def main() -> tuple[int, float]:
        deadline = Deadline(seconds=120)
        steps = 0
        while not deadline.expired():
            await asyncio.sleep(10)
            steps += 1
        return steps, asyncio.get_running_loop().time()

    assert run(main()) == (12, 120.0)
    assert real_waits == []  # 120 virtual seconds, no real wait


def test_async_with_cancels_the_block_at_expiry_with_deadline_exceeded() -> None:
    async def main() -> float:
        deadline = Deadline(30, name="review")
        with pytest.raises(DeadlineExceeded, match=r"Deadline 'review' of 30s expired at t=30"):
            async with deadline:
                await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    assert run(main()) == 30.0


def test_deadline_exceeded_is_a_timeout_error() -> None:
    assert issubclass(DeadlineExceeded, TimeoutError)
    assert issubclass(DeadlineExceeded, AgentRigError)


def test_block_that_finishes_in_time_is_untouched() -> None:
    async def main() -> str:
        async with Deadline(10):
            await asyncio.sleep(9.5)
            return "done"

    assert run(main()) == "done"


def test_remaining_counts_down_and_never_goes_negative() -> None:
    async def main() -> list[float]:
        deadline = Deadline(5)
        seen = [deadline.remaining()]
        await asyncio.sleep(2)
        seen.append(deadline.remaining())
        await asyncio.sleep(10)
        seen.append(deadline.remaining())
        return seen

    assert run(main()) == [5.0, 3.0, 0.0]


def test_at_is_a_loop_time_and_check_raises_once_passed() -> None:
    async def main() -> float:
        await asyncio.sleep(100)
        deadline = Deadline(20)
        deadline.check()
        await asyncio.sleep(20)
        with pytest.raises(DeadlineExceeded):
            deadline.check()
        return deadline.at

    assert run(main()) == 120.0


def test_a_deadline_created_outside_a_loop_starts_at_its_first_use() -> None:
    deadline = Deadline(60)
    assert "not started" in repr(deadline)

    async def main() -> float:
        await asyncio.sleep(15)
        return deadline.at

    assert run(main()) == 75.0


def test_nested_and_concurrent_scopes_of_one_deadline() -> None:
    async def main() -> list[str]:
        deadline = Deadline(10)
        out: list[str] = []

        async def worker(name: str, seconds: float) -> None:
            try:
                async with deadline:
                    await asyncio.sleep(seconds)
                out.append(f"{name} done")
            except DeadlineExceeded:
                out.append(f"{name} cut")

        await asyncio.gather(worker("fast", 5), worker("slow", 50))
        return out

    assert run(main()) == ["fast done", "slow cut"]


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "10", None])
def test_bad_seconds_are_refused_with_the_parameter_name(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="Deadline `seconds`"):
        Deadline(bad)  # type: ignore[arg-type]


def test_expiry_is_recorded_once_with_its_virtual_instant() -> None:
    rec = Recording("t")

    async def main() -> None:
        deadline = Deadline(5, name="supervisor")
        while not deadline.expired():
            await asyncio.sleep(2)
        assert deadline.expired()

    with rec.activate():
        run(main())
    expiries = rec.entries_of("deadline.expired")
    assert len(expiries) == 1
    assert expiries[0].data == {"deadline": "supervisor", "seconds": 5.0, "at": 5.0}
    assert expiries[0].t == 6.0


def test_real_clock_fallback_outside_any_loop() -> None:
    deadline = Deadline(0)
    assert deadline.expired()
    assert Deadline(3600).remaining() > 3500
