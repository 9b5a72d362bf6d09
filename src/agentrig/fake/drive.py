"""How a call's virtual waits are driven: slept on the running loop, skipped for sync clients."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator

from agentrig.fake.script import FakeReply
from agentrig.recording import active_recording


async def drive_async(call: Generator[float, None, FakeReply]) -> FakeReply:
    """Run a call, sleeping (virtual time under agentrig) wherever it yields seconds."""
    # Hidden from tracebacks: with -l its locals (the call's generator, at an address) would
    # print (docs/reliability.md, secrets and addresses on every channel).
    __tracebackhide__ = True
    to_throw: BaseException | None = None
    while True:
        try:
            seconds = call.throw(to_throw) if to_throw is not None else call.send(None)
        except StopIteration as stop:
            result: FakeReply = stop.value
            return result
        to_throw = None
        try:
            await asyncio.sleep(seconds)
        except BaseException as exc:  # cancellation: let the call record it, then re-raise
            to_throw = exc


def drive_sync(call: Generator[float, None, FakeReply]) -> FakeReply:
    """Run a call without waiting: a sync client blocks the thread the loop advances on."""
    __tracebackhide__ = True  # as in drive_async
    while True:
        try:
            call.send(None)
        except StopIteration as stop:
            result: FakeReply = stop.value
            return result


def clock() -> Callable[[], float]:
    """The time source of a call: the running loop's clock, else the recording's loop."""
    try:
        return asyncio.get_running_loop().time
    except RuntimeError:
        pass
    rec = active_recording()
    if rec is not None and rec.now() is not None:

        def recorded() -> float:
            t = rec.now()
            return 0.0 if t is None else t

        return recorded
    return lambda: 0.0
