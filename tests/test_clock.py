"""The virtual-time loop: real-time semantics, in no time."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentrig import AgentRigError, ConfigurationError, StallError, clock
from agentrig.clock import VirtualEventLoop, run


def test_sleep_returns_at_exactly_the_virtual_instant_in_no_wall_time(
    real_waits: list[float | None],
) -> None:
    async def main() -> float:
        await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    assert run(main()) == 3600.0
    assert real_waits == []  # an hour of virtual time, and the loop never blocked on the wall clock


def test_clock_starts_at_zero() -> None:
    async def main() -> float:
        return asyncio.get_running_loop().time()

    assert run(main()) == 0.0


def test_timers_fire_in_real_time_order() -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        order: list[tuple[str, float]] = []

        async def after(delay: float, name: str) -> None:
            await asyncio.sleep(delay)
            order.append((name, loop.time()))

        loop.call_later(2.5, lambda: order.append(("call_later", loop.time())))
        loop.call_at(0.5, lambda: order.append(("call_at", loop.time())))
        await asyncio.gather(after(3, "c"), after(1, "a"), after(2, "b"), after(1, "a2"))
        return order

    assert run(main()) == [
        ("call_at", 0.5),
        ("a", 1.0),
        ("a2", 1.0),
        ("b", 2.0),
        ("call_later", 2.5),
        ("c", 3.0),
    ]


def test_asyncio_timeout_and_wait_for_expire_at_the_virtual_instant() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        seen = []
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.sleep(10)
        seen.append(loop.time())
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(100), timeout=7)
        seen.append(loop.time())
        assert await asyncio.wait_for(asyncio.sleep(1, result="ok"), timeout=2) == "ok"
        seen.append(loop.time())
        return seen

    assert run(main()) == [5.0, 12.0, 13.0]


def test_many_small_sleeps_do_not_accumulate_float_error() -> None:
    async def main() -> float:
        for _ in range(10_000):
            await asyncio.sleep(0.1)
        return asyncio.get_running_loop().time()

    assert run(main()) == 1000.0


def test_thread_work_takes_no_virtual_time_and_no_timer_fires_during_it() -> None:
    async def main() -> tuple[float, list[str]]:
        loop = asyncio.get_running_loop()
        events: list[str] = []

        def slow() -> str:
            time.sleep(0.2)  # real time in a thread
            events.append("thread done")
            return "result"

        async def timer() -> None:
            await asyncio.sleep(0.001)
            events.append("timer")

        result, _ = await asyncio.gather(asyncio.to_thread(slow), timer())
        assert result == "result"
        return loop.time(), events

    now, events = run(main())
    # The clock waited for the thread: the 1 ms timer fires only after the thread's result.
    assert events == ["thread done", "timer"]
    assert now == 0.001


def test_run_in_executor_result_arrives_at_the_instant_it_was_started() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(5)
        await loop.run_in_executor(None, time.sleep, 0.05)
        return loop.time()

    assert run(main()) == 5.0


def test_thread_work_bounded_by_timeout_is_not_cut_short_by_a_clock_jump() -> None:
    # looptime jumps the clock while a thread runs and raises a spurious TimeoutError here.
    async def main() -> str:
        async with asyncio.timeout(1):
            return await asyncio.to_thread(lambda: (time.sleep(0.1), "finished")[1])

    assert run(main()) == "finished"


def test_real_socket_io_keeps_working() -> None:
    async def main() -> bytes:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write((await reader.readline()).upper())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        host, port = server.sockets[0].getsockname()[:2]
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"hello\n")
        await writer.drain()
        line = await reader.readline()
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return line

    assert run(main()) == b"HELLO\n"


def test_subprocess_pipes_keep_working() -> None:
    async def main() -> bytes:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "print('from child')", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        return out

    assert run(main()).strip() == b"from child"


def test_stall_guard_raises_instead_of_hanging_and_names_the_waiting_task() -> None:
    async def waits_forever() -> None:
        await asyncio.get_running_loop().create_future()

    started = time.perf_counter()
    with pytest.raises(StallError, match=r"(?s)stalled at t=0s.*waits_forever\(\) at .*test_clock"):
        run(waits_forever(), stall_timeout=0.1)
    assert time.perf_counter() - started < 2.0


def test_stall_error_is_an_agentrig_error_and_a_runtime_error() -> None:
    assert issubclass(StallError, AgentRigError)
    assert issubclass(StallError, RuntimeError)


def test_stall_guard_reports_the_virtual_time_it_stalled_at() -> None:
    async def main() -> None:
        await asyncio.sleep(42)
        await asyncio.Event().wait()

    with pytest.raises(StallError, match=r"stalled at t=42s"):
        run(main(), stall_timeout=0.05)


def test_a_foreign_thread_waking_the_loop_within_the_grace_period_is_not_a_stall() -> None:
    async def main() -> str:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[str] = loop.create_future()

        def wake() -> None:
            time.sleep(0.05)
            loop.call_soon_threadsafe(fut.set_result, "woken")

        threading.Thread(target=wake).start()
        return await fut

    assert run(main(), stall_timeout=2.0) == "woken"


def test_advance_moves_the_clock_by_hand_and_fires_due_timers() -> None:
    loop = VirtualEventLoop()
    try:
        fired: list[float] = []
        loop.call_later(10, lambda: fired.append(loop.time()))
        loop.advance(10)
        assert loop.time() == 10.0
        loop.run_until_complete(asyncio.sleep(0))
        assert fired == [10.0]
        with pytest.raises(ConfigurationError, match="`seconds` must be non-negative"):
            loop.advance(-1)
    finally:
        loop.close()


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "2", True])
def test_bad_stall_timeout_is_refused_with_the_parameter_name(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="`stall_timeout`"):
        VirtualEventLoop(stall_timeout=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1, float("nan"), "2"])
def test_run_closes_the_coroutine_it_refuses_to_run(bad: object) -> None:
    async def main() -> None:
        pass

    coro = main()
    with pytest.raises(ConfigurationError, match="`stall_timeout`"):
        run(coro, stall_timeout=bad)  # type: ignore[arg-type]
    # Closed, not left pending: no "coroutine 'main' was never awaited" at garbage collection.
    assert coro.cr_frame is None


def test_run_refuses_a_coroutine_function_with_a_hint() -> None:
    async def main() -> None:
        pass

    with pytest.raises(ConfigurationError, match=r"agentrig.run\(main\(\)\)"):
        run(main)  # type: ignore[arg-type]


def test_the_loop_is_closed_and_executor_shut_down_cleanly_after_run() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        loops.append(asyncio.get_running_loop())
        await asyncio.to_thread(time.sleep, 0.01)

    run(main())
    assert loops[0].is_closed()


def test_ctrl_c_during_run_cancels_the_main_task_then_raises_keyboard_interrupt() -> None:
    # As asyncio.run: the first SIGINT cancels the main task (its cleanup runs, at the virtual
    # instant it was interrupted), then KeyboardInterrupt; the default handler is back after.
    assert threading.current_thread() is threading.main_thread()
    cleanup: list[float] = []

    async def main() -> None:
        await asyncio.sleep(5)
        try:
            signal.raise_signal(signal.SIGINT)
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cleanup.append(asyncio.get_running_loop().time())
            raise

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a plain process
    try:
        with pytest.raises(KeyboardInterrupt):
            run(main())
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
    assert cleanup == [5.0]


def test_run_leaves_a_sigint_handler_of_the_programs_own_alone() -> None:
    seen: list[object] = []

    def own(signum: int, frame: object) -> None:
        seen.append(signum)

    async def main() -> object:
        signal.raise_signal(signal.SIGINT)
        await asyncio.sleep(1)
        return signal.getsignal(signal.SIGINT)

    previous = signal.signal(signal.SIGINT, own)
    try:
        assert run(main()) is own
        assert signal.getsignal(signal.SIGINT) is own
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == [signal.SIGINT]


def test_run_finalizes_suspended_async_generators_and_cancels_leftover_tasks() -> None:
    events: list[str] = []
    kept: list[object] = []

    async def numbers() -> Any:
        try:
            yield 1
            yield 2
        finally:
            events.append(f"generator closed at t={asyncio.get_running_loop().time()}")

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            events.append("leftover task cancelled")
            raise

    async def main() -> None:
        gen = numbers()
        kept.append(gen)  # still referenced when main returns: only the shutdown closes it
        await gen.__anext__()
        kept.append(asyncio.create_task(forever()))
        await asyncio.sleep(2)

    run(main())
    assert events == ["leftover task cancelled", "generator closed at t=2.0"]


def test_run_inside_a_running_loop_is_refused_and_the_coroutine_closed() -> None:
    async def inner() -> None:
        pass

    coro = inner()

    async def outer() -> None:
        with pytest.raises(RuntimeError, match=r"agentrig.run\(\) cannot be called from a running"):
            run(coro)

    run(outer())
    assert coro.cr_frame is None  # closed: no "never awaited" warning


def test_repr_shows_the_virtual_time() -> None:
    loop = VirtualEventLoop(start=12.5)
    try:
        assert "t=12.500000" in repr(loop)
    finally:
        loop.close()


SAME_ORDER_SCRIPT = """
import asyncio, agentrig.clock as c
async def main():
    loop = asyncio.get_running_loop(); out = []
    async def w(i):
        for k in range(3):
            await asyncio.sleep((i * 7 + k * 3) % 5 + 0.25)
            out.append((i, k, loop.time()))
    try:
        async with asyncio.timeout(6):
            await asyncio.gather(*(w(i) for i in range(6)))
    except TimeoutError:
        out.append(("timeout", loop.time()))
    return out
print(c.run(main()))
"""


def test_same_schedule_on_every_supported_python() -> None:
    """Run one schedule on each interpreter the machine has; the output must be identical."""
    src = str(Path(clock.__file__).resolve().parents[1])
    outputs = {}
    candidates = [sys.executable]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for minor in ("3.11", "3.12", "3.13"):
        candidates += sorted(str(p / "bin" / "python") for p in pyenv_root.glob(f"{minor}.*"))
    for exe in dict.fromkeys(candidates):
        if not Path(exe).exists():
            continue
        proc = subprocess.run(
            [exe, "-c", SAME_ORDER_SCRIPT],
            env={**os.environ, "PYTHONPATH": src},
            capture_output=True,
            text=True,
            timeout=60,
        )
        if proc.returncode != 0 and "No module named" in proc.stderr:
            continue  # an interpreter without orjson etc.; clock itself needs none
        assert proc.returncode == 0, proc.stderr
        outputs[exe] = proc.stdout
    assert outputs, "no interpreter ran the script"
    assert len(set(outputs.values())) == 1, outputs


def test_stall_error_follows_the_await_chain_to_the_users_own_frame() -> None:
    async def inner() -> None:
        await asyncio.Event().wait()

    async def outer() -> None:
        await inner()

    with pytest.raises(StallError) as info:
        run(outer(), stall_timeout=0.05)
    line = next(ln for ln in str(info.value).splitlines() if "outer" in ln)
    assert "outer() → " in line
    assert "inner() → Event.wait()" in line
    assert f"at {__file__}:" in line  # not asyncio's locks.py


def test_the_collector_is_spaced_out_while_a_virtual_loop_runs_and_restored_after() -> None:
    import gc

    before = gc.get_threshold()

    async def main() -> tuple[int, ...]:
        async def inner() -> tuple[int, ...]:
            return gc.get_threshold()

        return await asyncio.create_task(inner())

    during = run(main())

    assert during[0] >= 50_000 and during[1] >= 20 and during[2] >= 100
    assert gc.get_threshold() == before
