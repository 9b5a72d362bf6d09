"""An in-process publish/subscribe bus with sync or async handlers and one clear result rule.

Usage::

    bus = EventBus()

    @bus.on("task:summarize")
    async def on_summarize(event):
        return event["text"].upper()

    result = await bus.emit("task:summarize", text="Your input here")   # "YOUR INPUT HERE"

The rules, all deterministic:

* **The event.** Each handler receives a fresh ``dict``: the keyword payload plus ``"topic"``
  (so one handler can serve several topics). ``topic`` is therefore reserved in payloads. Each
  handler gets its own copy, so one handler mutating it cannot change what the next one sees.
* **Order.** Handlers run one after another, in subscription order, in the emitting task (a
  sync handler is called directly in the loop thread; a handler's awaitable result — an
  ``async def`` handler, a ``functools.partial`` of one — is awaited before the next handler
  runs). The handlers of a topic are taken when ``emit`` starts: subscribing or unsubscribing
  during an emit affects the next one.
* **Result.** :meth:`EventBus.emit` returns the result of the *first* subscribed handler (the
  responder; later handlers observe), and ``None`` when the topic has no handlers — as in
  every pub/sub bus, publishing to nobody is not an error, but it is recorded (``handlers: 0``
  in the recording), so a misspelt topic shows up as drift in a snapshot.
  :meth:`EventBus.emit_all` returns every handler's result, in subscription order.
* **Failures.** A handler that raises an ``Exception`` is recorded (``ok: False`` with the
  error's type and message) and the remaining handlers still run. Then the emit raises: the
  exception itself if one handler failed, or an ``ExceptionGroup`` of them, in subscription
  order, if several did. ``BaseException`` s that are not ``Exception`` s (cancellation,
  ``KeyboardInterrupt``) are recorded and propagate at once; later handlers do not run.

Recording: while a recording is active, each emit adds a ``bus.emit`` entry (``topic``,
``payload``, ``handlers``) before any handler runs, and each handler a ``bus.handler`` entry
(``topic``, ``handler`` (its qualname), ``ok``, and ``result`` or ``error``) when it finishes.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from agentrig._errors import ConfigurationError
from agentrig._secrets import redact_secrets
from agentrig.recording import active_recording
from agentrig.vocabulary import EntryKind

__all__ = ["Event", "EventBus", "Handler"]

#: What a handler receives: the payload plus ``"topic"``.
Event = dict[str, Any]
#: A handler: called with the event; may return a value or an awaitable of one.
Handler = Callable[[Event], Any]

_H = TypeVar("_H", bound=Callable[..., Any])


def _handler_name(handler: Callable[..., Any]) -> str:
    name = getattr(handler, "__qualname__", None)
    if isinstance(name, str):
        return name
    func = getattr(handler, "func", None)  # functools.partial
    if func is not None:
        return f"partial({_handler_name(func)})"
    return type(handler).__qualname__


def _check_topic(topic: object) -> None:
    if not isinstance(topic, str) or not topic:
        raise ConfigurationError(
            f"an EventBus topic must be a non-empty str, got {topic!r};"
            ' e.g. bus.emit("task:summarize", text=...)'
        )


class _Subscription:
    """One (topic, handler) registration; identity distinguishes duplicate subscriptions."""

    __slots__ = ("handler", "name")

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.name = _handler_name(handler)


class EventBus:
    """In-process pub/sub: sync or async handlers per topic; ``emit`` returns the result.

    See the module documentation for the exact rules: handlers run sequentially in
    subscription order; ``emit`` returns the first handler's result (``None`` with no handler),
    ``emit_all`` all of them; a failing handler does not stop the others, and the emit then
    raises its exception (an ``ExceptionGroup`` if several failed).

    Args:
        name: a label for ``repr`` and error messages; default ``"bus"``.

    Raises:
        ConfigurationError: an empty or non-str name.

    Usage::

        bus = EventBus()

        @bus.on("task:summarize")
        async def on_summarize(event):
            return event["text"].upper()

        result = await bus.emit("task:summarize", text="Your input here")
    """

    def __init__(self, name: str | None = None) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigurationError(f"`name` must be a non-empty str or None, got {name!r}")
        self.name: str = name or "bus"
        self._subscriptions: dict[str, list[_Subscription]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        with self._lock:
            counts = {t: len(s) for t, s in self._subscriptions.items() if s}
        return redact_secrets(f"<EventBus {self.name!r} handlers={counts}>")

    # -- subscribing ------------------------------------------------------------------------

    def on(self, topic: str) -> Callable[[_H], _H]:
        """Decorator: subscribe the decorated function to ``topic`` and return it unchanged.

        Args:
            topic: the topic to handle.

        Returns:
            A decorator that subscribes a handler and returns it as it was.

        Raises:
            ConfigurationError: an empty topic, or (when decorating) a non-callable.

        Usage::

            @bus.on("task:summarize")
            def on_summarize(event):
                return event["text"].upper()
        """
        _check_topic(topic)

        def decorator(handler: _H) -> _H:
            self.subscribe(topic, handler)
            return handler

        return decorator

    def subscribe(self, topic: str, handler: Handler) -> Callable[[], None]:
        """Subscribe ``handler`` to ``topic``; it runs after the handlers already there.

        Subscribing the same handler twice makes it run twice; each subscription has its own
        unsubscribe.

        Args:
            topic: the topic to handle.
            handler: called with the event dict; may be ``async`` (or return an awaitable).

        Returns:
            A function that removes this subscription (calling it again does nothing).

        Raises:
            ConfigurationError: an empty topic or a non-callable handler.

        Usage::

            unsubscribe = bus.subscribe("task:done", print)
            ...
            unsubscribe()
        """
        _check_topic(topic)
        if not callable(handler):
            raise ConfigurationError(
                f"EventBus {self.name!r}: a handler for {topic!r} must be callable, got"
                f" {handler!r}; pass a function taking the event dict"
            )
        sub = _Subscription(handler)
        with self._lock:
            self._subscriptions.setdefault(topic, []).append(sub)

        def unsubscribe() -> None:
            with self._lock:
                subs = self._subscriptions.get(topic, [])
                for i, s in enumerate(subs):
                    if s is sub:
                        del subs[i]
                        break

        return unsubscribe

    def handlers(self, topic: str) -> tuple[Handler, ...]:
        """The handlers subscribed to ``topic``, in the order they run."""
        with self._lock:
            return tuple(s.handler for s in self._subscriptions.get(topic, ()))

    def has_handlers(self, topic: str) -> bool:
        """Whether ``emit(topic, ...)`` would reach at least one handler."""
        with self._lock:
            return bool(self._subscriptions.get(topic))

    # -- emitting ---------------------------------------------------------------------------

    async def emit(self, topic: str, /, **payload: Any) -> Any:
        """Deliver an event to the topic's handlers; return the first handler's result.

        Args:
            topic: the topic (positional only, so a payload may not be called ``topic``).
            **payload: the event's fields; each handler receives them plus ``"topic"``.

        Returns:
            The result of the first subscribed handler, or ``None`` if there is none.

        Raises:
            ConfigurationError: an empty topic or a payload field named ``topic``.
            Exception: the exception of the one handler that failed, after the other handlers
                ran; ``ExceptionGroup`` if several failed.

        Usage::

            result = await bus.emit("task:summarize", text="Your input here")
        """
        results = await self._dispatch(topic, payload)
        return results[0] if results else None

    async def emit_all(self, topic: str, /, **payload: Any) -> list[Any]:
        """Like :meth:`emit`, but return every handler's result, in subscription order.

        Returns:
            One result per handler (an empty list with no handler).

        Raises:
            As :meth:`emit`.

        Usage::

            votes = await bus.emit_all("review:vote", draft=text)
        """
        return await self._dispatch(topic, payload)

    async def _dispatch(self, topic: str, payload: dict[str, Any]) -> list[Any]:
        _check_topic(topic)
        if "topic" in payload:
            raise ConfigurationError(
                f"EventBus {self.name!r}: 'topic' is reserved in an event (handlers receive"
                f" the topic as event['topic']); rename that payload field"
            )
        with self._lock:
            subs = tuple(self._subscriptions.get(topic, ()))
        rec = active_recording()
        if rec is not None:
            rec.add_entry(
                EntryKind.BUS_EMIT,
                {"topic": topic, "payload": dict(payload), "handlers": len(subs)},
            )
        results: list[Any] = []
        failures: list[tuple[str, Exception]] = []
        for sub in subs:
            event: Event = {**payload, "topic": topic}
            try:
                result = sub.handler(event)
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:
                self._record_handler(topic, sub, exc=exc)
                failures.append((sub.name, exc))
                continue
            except BaseException as exc:
                self._record_handler(topic, sub, exc=exc)
                raise
            self._record_handler(topic, sub, result=result)
            results.append(result)
        if len(failures) == 1:
            raise failures[0][1]
        if failures:
            which = ", ".join(f"{name} ({type(exc).__qualname__})" for name, exc in failures)
            raise ExceptionGroup(
                f"{len(failures)} of {len(subs)} handlers of {topic!r} on EventBus"
                f" {self.name!r} failed: {which}",
                [exc for _, exc in failures],
            )
        return results

    def _record_handler(
        self,
        topic: str,
        sub: _Subscription,
        *,
        result: Any = None,
        exc: BaseException | None = None,
    ) -> None:
        # Looked up again: the recording is whatever is active when the handler finishes.
        rec = active_recording()
        if rec is None:
            return
        data: dict[str, Any] = {"topic": topic, "handler": sub.name, "ok": exc is None}
        if exc is None:
            data["result"] = result
        else:
            data["error"] = {"type": type(exc).__qualname__, "message": str(exc)}
        rec.add_entry(EntryKind.BUS_HANDLER, data)
