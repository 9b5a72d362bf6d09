"""The interception seam: answer HTTP requests that SDK clients send, in process, while active.

Why a transport patch
---------------------
The official SDKs build their own HTTP clients (openai 3.x and anthropic 2.x on ``httpx2``,
older releases and much user code on ``httpx``), often at import time, in modules the test
never sees. The one entry point every request of every such client passes through is the
*transport*: ``httpx2.AsyncHTTPTransport.handle_async_request`` /
``httpx2.HTTPTransport.handle_request`` and their ``httpx`` namesakes. While at least one
:func:`activate` block is open, those four methods are replaced on the classes (so clients
created anywhere, before or after, sync or async, with any ``base_url``, are reached); when
the last block closes, the originals are put back. Nothing is patched outside an active block,
and a transport the user substituted (``httpx.MockTransport``, an ASGI app) is not touched.

The contract
------------
* A request is turned into a provider-neutral :class:`InterceptedRequest` (method, url, host,
  path, lower-cased headers with secrets redacted, the body bytes and its parsed JSON, a
  provider guess, whether a stream was asked for).
* The active responders are asked in order of their ``priority`` (lower first; equal
  priorities: the one activated last first). The first that returns an
  :class:`InterceptedResponse` answers; ``None`` means "not mine". Order used by agentrig:
  ``fake_model`` = :data:`PRIORITY_FAKE` (0), ``llm_cassette`` = :data:`PRIORITY_CASSETTE`
  (10), the network guard = :data:`PRIORITY_GUARD` (100). If no responder answers, the request
  goes to the real network.
* An exception a responder raises propagates out of the transport. The SDKs wrap it
  (``openai.APIConnectionError`` / ``anthropic.APIConnectionError`` with the original as
  ``__cause__``; after their own retries). A responder that wants the test to fail whatever the
  app does with that exception calls :func:`report_problem` too; the plugin fails the test
  with every reported problem.
* Latency: on the async path the seam awaits ``asyncio.sleep(response.latency)`` (virtual
  under agentrig's loop) before the response is delivered. On the sync path it does not wait:
  a sync client blocks the thread the loop would advance on, so its latency is reported (on the
  span, in the call log) but takes no time.
* ``InterceptedResponse(timeout=True)``: after the latency the seam raises the transport
  library's own ``ReadTimeout``, which the SDKs map to their ``APITimeoutError``.
* A responder that records (a cassette) sends the request to the real network with
  :meth:`InterceptedRequest.send_real` (sync path) or :meth:`InterceptedRequest.asend_real`
  (async path); both read the whole body and, for ``text/event-stream``, split it into events.

Private API
-----------
Only public names of httpx/httpx2 are used (the transport classes, ``Request``, ``Response``,
``ReadTimeout``). Replacing a method on a library class is the one intrusive act, and it is
confined to :func:`_install` / :func:`_uninstall` in this module.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, runtime_checkable

import orjson

__all__ = [
    "PRIORITY_CASSETTE",
    "PRIORITY_FAKE",
    "PRIORITY_GUARD",
    "InterceptedRequest",
    "InterceptedResponse",
    "Provider",
    "Responder",
    "SyncResponder",
    "activate",
    "is_active",
    "problems",
    "report_problem",
]

#: ``fake_model`` answers first.
PRIORITY_FAKE: Final = 0
#: ``llm_cassette`` replays what the fake does not answer.
PRIORITY_CASSETTE: Final = 10
#: The network guard refuses what neither answered (for known provider hosts).
PRIORITY_GUARD: Final = 100

Provider = Literal["openai", "anthropic"]

# Headers whose values never leave this module unredacted (the request keeps the real ones for
# send_real only).
_SECRET_HEADERS: Final = frozenset(
    {"authorization", "x-api-key", "api-key", "proxy-authorization", "cookie", "x-goog-api-key"}
)
REDACTED: Final = "[REDACTED]"


@dataclass(frozen=True, slots=True)
class InterceptedRequest:
    """One HTTP request, provider-neutral, as a responder sees it.

    Attributes:
        method: ``"POST"``, ``"GET"``, ...
        url: the full URL (query included).
        host: the host name, lower case.
        path: the URL path (``/v1/chat/completions``).
        headers: lower-cased names -> values; credentials replaced by ``"[REDACTED]"``.
        body: the raw request body.
        json: the parsed JSON body, or ``None`` (no body, or not JSON).
        provider: ``"openai"``, ``"anthropic"`` or ``None``, guessed from headers and path.
        is_stream: the body asks for a streamed reply (``"stream": true``).
        is_async: sent by an async client.
    """

    method: str
    url: str
    host: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    json: Any
    provider: Provider | None
    is_stream: bool
    is_async: bool
    _real: Callable[[], Any] = field(repr=False, compare=False)

    def send_real(self) -> InterceptedResponse:
        """Send this (sync) request to the real network and read the whole reply."""
        if self.is_async:
            raise RuntimeError(
                "send_real() is for requests of sync clients; this one came from an async"
                " client: use `await request.asend_real()`"
            )
        result: InterceptedResponse = self._real()
        return result

    async def asend_real(self) -> InterceptedResponse:
        """Send this (async) request to the real network and read the whole reply."""
        if not self.is_async:
            raise RuntimeError(
                "asend_real() is for requests of async clients; this one came from a sync"
                " client: use `request.send_real()`"
            )
        result: InterceptedResponse = await self._real()
        return result


@dataclass(frozen=True, slots=True)
class InterceptedResponse:
    """What a responder answers: a whole body, or an ordered list of SSE event chunks.

    Attributes:
        status: the HTTP status.
        headers: response headers (``content-type`` is set from ``events``/``body`` if absent).
        body: the body bytes (ignored when ``events`` is given).
        events: the SSE events, each a complete chunk (``b"data: {...}\\n\\n"``), delivered in
            order as a stream; ``None`` for a plain body.
        latency: virtual seconds the seam waits before delivering (async clients only).
        timeout: raise the transport's ``ReadTimeout`` after ``latency`` instead of answering.
    """

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    events: Sequence[bytes] | None = None
    latency: float = 0.0
    timeout: bool = False

    @classmethod
    def json_body(
        cls, data: object, *, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> InterceptedResponse:
        """A JSON response (serialized with sorted keys, so bodies are byte-stable)."""
        all_headers = {"content-type": "application/json"}
        all_headers.update(headers or {})
        return cls(
            status=status, headers=all_headers, body=orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        )

    def full_headers(self) -> dict[str, str]:
        """The headers with ``content-type`` filled in."""
        out = {k.lower(): v for k, v in self.headers.items()}
        if "content-type" not in out:
            out["content-type"] = "text/event-stream" if self.events is not None else "text/plain"
        return out


@runtime_checkable
class Responder(Protocol):
    """Answers intercepted requests, or returns ``None`` for "not mine"."""

    def handle(self, request: InterceptedRequest) -> InterceptedResponse | None:
        """Answer a request of a sync client."""
        ...

    async def handle_async(self, request: InterceptedRequest) -> InterceptedResponse | None:
        """Answer a request of an async client."""
        ...


class SyncResponder:
    """Base for a responder whose answer needs no awaiting: ``handle_async`` calls ``handle``."""

    def handle(self, request: InterceptedRequest) -> InterceptedResponse | None:
        raise NotImplementedError

    async def handle_async(self, request: InterceptedRequest) -> InterceptedResponse | None:
        return self.handle(request)


def _is_responder(obj: object) -> bool:
    """``isinstance(obj, Responder)``, as the runtime protocol check decides it.

    ``isinstance`` against a runtime-checkable Protocol costs tens of microseconds on Python
    3.11 (it inspects the protocol's members on every call), and the plugin activates one
    responder per ``fake_model`` test.
    """
    return all(getattr(obj, name, None) is not None for name in ("handle", "handle_async"))


# -- the registry ---------------------------------------------------------------------------------

# Process-wide, not a contextvar: a sync client called from a plain thread (no copied context)
# must be answered too, and tests in one process run one at a time (xdist uses processes).
_LOCK = threading.RLock()
_ACTIVE: list[tuple[int, int, Responder]] = []
_SERIAL = 0
_PROBLEMS: list[BaseException] = []
# (module name, class name, method name, original function), for the patched methods.
_ORIGINALS: list[tuple[Any, str, Any]] = []
_CALL_NUMBER = re.compile(r"call #\d+")


@contextmanager
def activate(responder: Responder, *, priority: int = PRIORITY_FAKE) -> Iterator[Responder]:
    """Let ``responder`` answer requests of every httpx/httpx2 client while the block runs.

    Args:
        responder: the :class:`Responder`.
        priority: lower is asked first (see the module notes for agentrig's order).

    Usage::

        with activate(my_responder, priority=PRIORITY_FAKE):
            openai.OpenAI(api_key="x").chat.completions.create(...)   # answered in process
    """
    global _SERIAL
    if not _is_responder(responder):
        raise TypeError(
            f"activate() needs a Responder (handle and handle_async methods), got {responder!r}"
        )
    with _LOCK:
        _SERIAL += 1
        entry = (priority, -_SERIAL, responder)
        if not _ACTIVE:
            _install()
        _ACTIVE.append(entry)
        _ACTIVE.sort(key=lambda e: (e[0], e[1]))
    try:
        yield responder
    finally:
        with _LOCK:
            _ACTIVE.remove(entry)
            if not _ACTIVE:
                _uninstall()
                _PROBLEMS.clear()


def is_active() -> bool:
    """Whether any responder is active (the transports are patched)."""
    with _LOCK:
        return bool(_ACTIVE)


def report_problem(error: BaseException) -> None:
    """Note an error the test must fail with, even if the app swallows what the SDK raised.

    The same message is kept once, call numbers aside (an SDK's retries repeat a request).
    """
    key = _CALL_NUMBER.sub("call #", str(error))
    with _LOCK:
        if all(_CALL_NUMBER.sub("call #", str(p)) != key for p in _PROBLEMS):
            _PROBLEMS.append(error)


def problems(*, clear: bool = False) -> list[BaseException]:
    """The problems reported since the first activation (optionally forgetting them)."""
    with _LOCK:
        out = list(_PROBLEMS)
        if clear:
            _PROBLEMS.clear()
        return out


def _responders() -> list[Responder]:
    with _LOCK:
        return [r for _, _, r in _ACTIVE]


# -- patching (the only place library classes are modified) ---------------------------------------

_LIBRARIES: Final = ("httpx2", "httpx")


def _install() -> None:
    for name in _LIBRARIES:
        try:
            lib = importlib.import_module(name)
        except ImportError:
            continue
        sync_cls = lib.HTTPTransport
        async_cls = lib.AsyncHTTPTransport
        sync_orig = sync_cls.handle_request
        async_orig = async_cls.handle_async_request
        _ORIGINALS.append((sync_cls, "handle_request", sync_orig))
        _ORIGINALS.append((async_cls, "handle_async_request", async_orig))
        sync_cls.handle_request = _make_sync(lib, sync_orig)
        async_cls.handle_async_request = _make_async(lib, async_orig)


def _uninstall() -> None:
    while _ORIGINALS:
        cls, attr, original = _ORIGINALS.pop()
        setattr(cls, attr, original)


def _make_sync(lib: Any, original: Callable[..., Any]) -> Callable[..., Any]:
    def handle_request(self: Any, request: Any) -> Any:
        body = request.read()

        def real() -> InterceptedResponse:
            response = original(self, request)
            try:
                data = response.read()
            finally:
                response.close()
            return _captured(response.status_code, response.headers, data)

        seen = _describe(request, body, is_async=False, real=real)
        for responder in _responders():
            answer = responder.handle(seen)
            if answer is not None:
                if answer.timeout:
                    raise lib.ReadTimeout(
                        f"agentrig: {seen.method} {seen.url} timed out (injected)", request=request
                    )
                return _sync_response(lib, answer)
        return original(self, request)

    handle_request.__agentrig_patch__ = True  # type: ignore[attr-defined]
    return handle_request


def _make_async(lib: Any, original: Callable[..., Any]) -> Callable[..., Any]:
    async def handle_async_request(self: Any, request: Any) -> Any:
        body = await request.aread()

        async def real() -> InterceptedResponse:
            response = await original(self, request)
            try:
                data = await response.aread()
            finally:
                await response.aclose()
            return _captured(response.status_code, response.headers, data)

        seen = _describe(request, body, is_async=True, real=real)
        for responder in _responders():
            answer = await responder.handle_async(seen)
            if answer is not None:
                if answer.latency > 0:
                    await asyncio.sleep(answer.latency)
                if answer.timeout:
                    raise lib.ReadTimeout(
                        f"agentrig: {seen.method} {seen.url} timed out (injected)", request=request
                    )
                return _async_response(lib, answer)
        return await original(self, request)

    handle_async_request.__agentrig_patch__ = True  # type: ignore[attr-defined]
    return handle_async_request


def _sync_response(lib: Any, answer: InterceptedResponse) -> Any:
    headers = answer.full_headers()
    if answer.events is None:
        return lib.Response(answer.status, headers=headers, content=answer.body)
    chunks = list(answer.events)

    def stream() -> Iterator[bytes]:
        yield from chunks

    return lib.Response(answer.status, headers=headers, content=stream())


def _async_response(lib: Any, answer: InterceptedResponse) -> Any:
    headers = answer.full_headers()
    if answer.events is None:
        return lib.Response(answer.status, headers=headers, content=answer.body)
    chunks = list(answer.events)

    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return lib.Response(answer.status, headers=headers, content=stream())


def _captured(status: int, headers: Any, data: bytes) -> InterceptedResponse:
    plain = {k.lower(): v for k, v in headers.items()}
    # The body is already decoded by the library: drop what described the wire encoding.
    for name in ("content-encoding", "content-length", "transfer-encoding"):
        plain.pop(name, None)
    if plain.get("content-type", "").startswith("text/event-stream"):
        return InterceptedResponse(status=status, headers=plain, events=split_events(data))
    return InterceptedResponse(status=status, headers=plain, body=data)


def split_events(data: bytes) -> list[bytes]:
    """Split an SSE body into complete events (each ending in a blank line)."""
    text = data.replace(b"\r\n", b"\n")
    events = [part + b"\n\n" for part in text.split(b"\n\n") if part.strip()]
    return events


def _describe(
    request: Any, body: bytes, *, is_async: bool, real: Callable[[], Any]
) -> InterceptedRequest:
    headers: dict[str, str] = {}
    for key, value in request.headers.multi_items():
        name = key.lower()
        shown = REDACTED if name in _SECRET_HEADERS else value
        headers[name] = f"{headers[name]}, {shown}" if name in headers else shown
    parsed: Any = None
    if body:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
    path = request.url.path
    return InterceptedRequest(
        method=request.method,
        url=str(request.url),
        host=(request.url.host or "").lower(),
        path=path,
        headers=headers,
        body=body,
        json=parsed,
        provider=_guess_provider(headers, path),
        is_stream=isinstance(parsed, dict) and parsed.get("stream") is True,
        is_async=is_async,
        _real=real,
    )


def _guess_provider(headers: Mapping[str, str], path: str) -> Provider | None:
    if "anthropic-version" in headers or "x-api-key" in headers:
        return "anthropic"
    agent = headers.get("user-agent", "").lower()
    if agent.startswith("anthropic"):
        return "anthropic"
    if agent.startswith("openai") or "openai-organization" in headers:
        return "openai"
    if path.endswith("/messages"):
        return "anthropic"
    if path.endswith(("/chat/completions", "/responses", "/embeddings", "/completions")):
        return "openai"
    return None
