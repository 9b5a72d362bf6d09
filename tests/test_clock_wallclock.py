"""The virtual wall clock (agentrig.wallclock) without pytest's plugin: what it patches, where."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import warnings

import pytest

from agentrig import ConfigurationError
from agentrig.clock import run
from agentrig.wallclock import DEFAULT_EPOCH, parse_epoch, virtual_wall_clock


def test_wall_clock_reads_follow_the_virtual_loop_from_the_epoch() -> None:
    async def main() -> tuple[float, dt.datetime, dt.datetime, dt.date, int]:
        await asyncio.sleep(90)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # utcnow, on 3.12+
            naive = dt.datetime.utcnow()
        return time.time(), dt.datetime.now(dt.UTC), naive, dt.date.today(), time.time_ns()

    with virtual_wall_clock():
        now, aware, naive, today, ns = run(main())
    assert now == DEFAULT_EPOCH.timestamp() + 90
    assert aware == DEFAULT_EPOCH + dt.timedelta(seconds=90)
    assert naive == dt.datetime(2026, 1, 1, 0, 1, 30)
    assert today == dt.date(2026, 1, 1)
    assert ns == round((DEFAULT_EPOCH.timestamp() + 90) * 1e9)


def test_monotonic_is_virtual_on_the_loop_thread_only() -> None:
    async def main() -> tuple[float, float, float, float]:
        m0, p0 = time.monotonic(), time.perf_counter()
        await asyncio.sleep(30)
        in_thread = await asyncio.to_thread(time.monotonic)
        wall_in_thread = await asyncio.to_thread(time.time)
        return time.monotonic() - m0, time.perf_counter() - p0, in_thread, wall_in_thread

    real_before = time.monotonic()
    with virtual_wall_clock():
        mono, perf, thread_mono, thread_wall = run(main())
    assert (mono, perf) == (30.0, 30.0)
    assert real_before <= thread_mono < real_before + 60  # an executor thread: real time
    assert thread_wall == DEFAULT_EPOCH.timestamp() + 30  # the wall clock: every thread


def test_stop_restores_every_clock() -> None:
    monotonic, perf_counter = time.monotonic, time.perf_counter
    with virtual_wall_clock(epoch="2001-02-03T04:05:06Z") as clock:
        assert time.time() == dt.datetime(2001, 2, 3, 4, 5, 6, tzinfo=dt.UTC).timestamp()
        assert "running" in repr(clock)
    assert (time.monotonic, time.perf_counter) == (monotonic, perf_counter)
    assert time.time() > dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp()
    assert "stopped" in repr(clock)


@pytest.mark.parametrize("bad", ["someday", "2026-13-01", 12])
def test_a_bad_epoch_is_refused_with_an_example(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="`wall_clock_epoch` must be an ISO 8601"):
        parse_epoch(bad)  # type: ignore[arg-type]


def test_a_naive_epoch_is_utc() -> None:
    assert parse_epoch("2030-05-01T12:00:00") == dt.datetime(2030, 5, 1, 12, tzinfo=dt.UTC)
