"""EventBus, from a user's point of view."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest

from agentrig import ConfigurationError
from agentrig.bus import EventBus
from agentrig.clock import run
from agentrig.recording import Recording
from agentrig.tracing import Tracer

# -- the seed usage -------------------------------------------------------------------------


async def test_seed_snippet_returns_the_handlers_result() -> None:
    bus = EventBus()

    @bus.on("task:summarize")
    async def on_summarize(event):  # type: ignore[no-untyped-def]
        return event["text"].upper()

    result = await bus.emit("task:summarize", text="Your input here")  # -> the handler's return
    assert result == "YOUR INPUT HERE"


def test_seed_snippet_on_the_virtual_loop() -> None:
    bus = EventBus()

    @bus.on("task:summarize")
    async def on_summarize(event: dict[str, Any]) -> str:
        await asyncio.sleep(5)
        return str(event["text"]).upper()

    async def main() -> tuple[str, float]:
        result = await bus.emit("task:summarize", text="Your input here")
        return result, asyncio.get_running_loop().time()

    assert run(main()) == ("YOUR INPUT HERE", 5.0)


def test_on_returns_the_handler_unchanged() -> None:
    bus = EventBus()

    def handler(event: dict[str, Any]) -> None:
        pass

    assert bus.on("t")(handler) is handler
    assert bus.handlers("t") == (handler,)


# -- handlers and the event -----------------------------------------------------------------


async def test_sync_handlers_and_partials_of_async_ones_both_work() -> None:
    bus = EventBus()
    bus.subscribe("sync", lambda event: event["n"] + 1)

    async def add(k: int, event: dict[str, Any]) -> int:
        return int(event["n"]) + k

    bus.subscribe("async", functools.partial(add, 10))
    assert await bus.emit("sync", n=1) == 2
    assert await bus.emit("async", n=1) == 11


async def test_the_event_is_the_payload_plus_the_topic_and_each_handler_gets_a_copy() -> None:
    bus = EventBus()
    seen: list[dict[str, Any]] = []

    @bus.on("t")
    def first(event: dict[str, Any]) -> None:
        seen.append(dict(event))
        event["text"] = "mutated"

    @bus.on("t")
    def second(event: dict[str, Any]) -> None:
        seen.append(dict(event))

    await bus.emit("t", text="hi")
    assert seen == [{"text": "hi", "topic": "t"}, {"text": "hi", "topic": "t"}]


async def test_topic_is_reserved_in_the_payload() -> None:
    bus = EventBus()
    with pytest.raises(ConfigurationError, match="'topic' is reserved"):
        await bus.emit("t", **{"topic": "x"})


async def test_bad_topics_and_handlers_are_refused() -> None:
    bus = EventBus()
    with pytest.raises(ConfigurationError, match="non-empty str"):
        bus.on("")
    with pytest.raises(ConfigurationError, match="must be callable"):
        bus.subscribe("t", "not a function")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="non-empty str"):
        await bus.emit("")


# -- zero, several ------------------------------------------------------------------------


async def test_zero_handlers_returns_none_and_is_recorded() -> None:
    bus = EventBus()
    rec = Recording("t")
    with rec.activate():
        assert await bus.emit("nobody:listens", text="x") is None
        assert await bus.emit_all("nobody:listens") == []
    assert not bus.has_handlers("nobody:listens")
    assert [e.data for e in rec.entries_of("bus.emit")] == [
        {"topic": "nobody:listens", "payload": {"text": "x"}, "handlers": 0},
        {"topic": "nobody:listens", "payload": {}, "handlers": 0},
    ]


async def test_several_handlers_run_in_subscription_order_and_emit_returns_the_first() -> None:
    bus = EventBus()
    order: list[str] = []

    async def slow(event: dict[str, Any]) -> str:
        await asyncio.sleep(0.01)  # slower, yet still first: handlers run one after another
        order.append("slow")
        return "slow"

    def fast(event: dict[str, Any]) -> str:
        order.append("fast")
        return "fast"

    bus.subscribe("t", slow)
    bus.subscribe("t", fast)
    assert await bus.emit("t") == "slow"
    assert await bus.emit_all("t") == ["slow", "fast"]
    assert order == ["slow", "fast", "slow", "fast"]


async def test_unsubscribe_removes_one_subscription_and_is_idempotent() -> None:
    bus = EventBus()
    calls: list[str] = []

    def handler(event: dict[str, Any]) -> None:
        calls.append(event["topic"])

    first = bus.subscribe("t", handler)
    bus.subscribe("t", handler)  # twice: runs twice
    await bus.emit("t")
    first()
    first()
    await bus.emit("t")
    assert calls == ["t", "t", "t"]


async def test_handlers_are_taken_when_emit_starts() -> None:
    bus = EventBus()
    calls: list[str] = []

    def late(event: dict[str, Any]) -> None:
        calls.append("late")

    @bus.on("t")
    def subscriber(event: dict[str, Any]) -> None:
        calls.append("subscriber")
        bus.subscribe("t", late)

    await bus.emit("t")
    assert calls == ["subscriber"]
    await bus.emit("t")
    assert calls == ["subscriber", "subscriber", "late"]


# -- failures -------------------------------------------------------------------------------


async def test_a_failing_handler_does_not_stop_the_others_and_its_error_is_reraised() -> None:
    bus = EventBus()
    ran: list[str] = []
    boom = ValueError("boom")

    @bus.on("t")
    def fails(event: dict[str, Any]) -> None:
        raise boom

    @bus.on("t")
    def survives(event: dict[str, Any]) -> str:
        ran.append("survives")
        return "ok"

    rec = Recording("t")
    with rec.activate(), pytest.raises(ValueError, match="boom") as info:
        await bus.emit("t", x=1)
    assert info.value is boom
    assert ran == ["survives"]
    prefix = "test_a_failing_handler_does_not_stop_the_others_and_its_error_is_reraised.<locals>"
    assert [e.data for e in rec.entries_of("bus.handler")] == [
        {
            "topic": "t",
            "handler": f"{prefix}.fails",
            "ok": False,
            "error": {"type": "ValueError", "message": "boom"},
        },
        {"topic": "t", "handler": f"{prefix}.survives", "ok": True, "result": "ok"},
    ]


async def test_several_failing_handlers_raise_an_exception_group_in_order() -> None:
    bus = EventBus(name="events")

    @bus.on("t")
    async def first(event: dict[str, Any]) -> None:
        raise KeyError("a")

    @bus.on("t")
    def second(event: dict[str, Any]) -> None:
        raise TimeoutError("b")

    with pytest.raises(
        ExceptionGroup, match=r"2 of 2 handlers of 't' on EventBus 'events'"
    ) as info:
        await bus.emit("t")
    assert [type(e) for e in info.value.exceptions] == [KeyError, TimeoutError]
    assert "first (KeyError)" in str(info.value)


async def test_cancellation_in_a_handler_propagates_at_once() -> None:
    bus = EventBus()
    ran: list[str] = []

    @bus.on("t")
    async def cancelled(event: dict[str, Any]) -> None:
        raise asyncio.CancelledError

    @bus.on("t")
    def never(event: dict[str, Any]) -> None:
        ran.append("never")

    rec = Recording("t")
    with rec.activate(), pytest.raises(asyncio.CancelledError):
        await bus.emit("t")
    assert ran == []
    (entry,) = rec.entries_of("bus.handler")
    assert entry.data["ok"] is False
    assert entry.data["error"]["type"] == "CancelledError"


# -- recording ------------------------------------------------------------------------------


async def test_emit_and_handler_entries_are_recorded_in_order_inside_the_current_span() -> None:
    bus = EventBus()
    bus.subscribe("task:summarize", lambda event: event["text"].upper())
    tracer = Tracer()
    rec = Recording("t")
    with rec.activate(), tracer.span("pipeline") as span:
        await bus.emit("task:summarize", text="hi")
    assert [(e.kind, e.span_id) for e in rec.entries] == [
        ("bus.emit", span.span_id),
        ("bus.handler", span.span_id),
    ]
    emit, handler = rec.entries
    assert emit.data == {"topic": "task:summarize", "payload": {"text": "hi"}, "handlers": 1}
    assert handler.data == {
        "topic": "task:summarize",
        "handler": (
            "test_emit_and_handler_entries_are_recorded_in_order_inside_the_current_span"
            ".<locals>.<lambda>"
        ),
        "ok": True,
        "result": "HI",
    }


def test_repr_shows_the_handlers_per_topic() -> None:
    bus = EventBus(name="events")
    bus.subscribe("a", print)
    bus.subscribe("a", print)
    assert repr(bus) == "<EventBus 'events' handlers={'a': 2}>"
