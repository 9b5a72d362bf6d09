"""FakeModel behind the seam: SDK requests answered in the provider's own wire format.

Which requests are the fake's
-----------------------------
A request whose path ends in ``/chat/completions`` or ``/responses`` (OpenAI and every
OpenAI-compatible gateway) or ``/v1/messages`` (Anthropic), on any host: the fake answers it.
Another request that an SDK sent (the provider guess of the seam) or that goes to a known
provider host — embeddings, images, audio, files, batches, models — is refused with
:class:`~agentrig.UnsupportedEndpoint` naming the endpoint. Anything else (the app's own HTTP
calls, a local server) is not the fake's and goes on.

What the app sees
-----------------
* A reply: the provider's JSON, or its SSE stream when ``stream=True``.
* ``error="rate_limit"``: HTTP 429 with ``retry-after`` (the script's seconds); the SDK's own
  retry waits it out — in virtual time for async clients. ``"overloaded"``: Anthropic's 529
  (``overloaded_error``), for OpenAI a 503. ``"server_error"``: 500. ``"timeout"``: after the
  latency, the transport's ``ReadTimeout`` (the SDK's ``APITimeoutError``, which it retries).
  Sync clients sleep for real between retries: they get ``retry-after-ms: 1``.
* A malformed body: HTTP 400 naming the field, as the provider would answer.
* A stage budget that cannot afford the call: the call is refused before it is made (recorded,
  no spend), and :class:`~agentrig.BudgetExceeded` is raised from the transport. openai 3.x
  lets it through unchanged: the app sees the ``BudgetExceeded`` itself. anthropic 2.x (and
  openai 1.x/2.x) wrap it: the app sees ``APIConnectionError`` whose ``__cause__`` is the
  ``BudgetExceeded``, after the SDK's retries (each refused and recorded too).
  :func:`agentrig.providers.budget_exceeded` finds it in both cases.
* A script error (a ToolCall for a tool the app did not offer, arguments or structured output
  that misfit the app's schema, an unscripted call in strict mode, an exhausted script, an
  unsupported endpoint): raised the same way, and also reported to the seam, so the test
  fails with the message even if the app swallows the SDK's error.
* Any other ``error=`` exception: raised from the transport, so it reaches the app as above
  (itself through openai 3.x, as the ``__cause__`` of an ``APIConnectionError`` otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from agentrig._errors import (
    AgentRigError,
    BudgetExceeded,
    ConfigurationError,
    FakeModelError,
    FakeRateLimitError,
    FakeServerError,
    FakeTimeoutError,
    UnsupportedEndpoint,
)
from agentrig.chat import FakeRequest
from agentrig.fake import FakeModel, FakeReply
from agentrig.providers import anthropic_wire, openai_wire
from agentrig.providers.intercept import (
    InterceptedRequest,
    InterceptedResponse,
    report_problem,
)
from agentrig.providers.wire import BadRequest

__all__ = ["KNOWN_PROVIDER_HOSTS", "FakeModelResponder"]

#: Hosts of LLM providers: a request to one of them that nothing answers is refused.
KNOWN_PROVIDER_HOSTS: Final = (
    "api.openai.com",
    "api.anthropic.com",
    "generativelanguage.googleapis.com",
    "api.mistral.ai",
    "api.groq.com",
    "openrouter.ai",
)

_Parse = Callable[[InterceptedRequest], FakeRequest]
_Render = Callable[[FakeRequest, FakeReply, Mapping[str, Any]], InterceptedResponse]
_Error = Callable[..., InterceptedResponse]


class FakeModelResponder:
    """Answers SDK requests from a :class:`~agentrig.FakeModel` (see the module notes)."""

    def __init__(self, fake: FakeModel, *, provider_hosts: tuple[str, ...] = KNOWN_PROVIDER_HOSTS):
        self.fake = fake
        self.provider_hosts = provider_hosts

    def __repr__(self) -> str:
        return f"<FakeModelResponder {self.fake!r}>"

    # -- the Responder protocol -------------------------------------------------------------

    def handle(self, request: InterceptedRequest) -> InterceptedResponse | None:
        route = self._route(request)
        if route is None:
            return None
        parse, render, error = route
        try:
            fake_request = parse(request)
        except BadRequest as exc:
            return error(400, "invalid_request_error", str(exc), False)
        try:
            reply = self.fake.respond_sync(fake_request)
        except BaseException as exc:
            return self._failure(exc, error, is_async=False)
        return render(fake_request, reply, request.json)

    async def handle_async(self, request: InterceptedRequest) -> InterceptedResponse | None:
        route = self._route(request)
        if route is None:
            return None
        parse, render, error = route
        try:
            fake_request = parse(request)
        except BadRequest as exc:
            return error(400, "invalid_request_error", str(exc), True)
        try:
            reply = await self.fake.respond(fake_request)
        except BaseException as exc:
            return self._failure(exc, error, is_async=True)
        return render(fake_request, reply, request.json)

    # -- internals --------------------------------------------------------------------------

    def _route(self, request: InterceptedRequest) -> tuple[_Parse, _Render, _Error] | None:
        path = request.path.rstrip("/")
        if request.method == "POST":
            if path.endswith("/chat/completions"):
                return openai_wire.parse_chat, openai_wire.render_chat, _openai_error
            if path.endswith("/responses"):
                return openai_wire.parse_responses, openai_wire.render_responses, _openai_error
            if path.endswith("/messages") and (
                request.provider == "anthropic" or request.host == "api.anthropic.com"
            ):
                return (
                    anthropic_wire.parse_messages,
                    anthropic_wire.render_messages,
                    _anthropic_error,
                )
        if request.provider is not None or request.host in self.provider_hosts:
            problem = UnsupportedEndpoint(
                f"FakeModel does not serve {request.method} {request.path} (host"
                f" {request.host}): it answers chat.completions, responses and Anthropic"
                " messages. Embeddings, images, audio, files, batches and model listings are"
                " not faked; call them outside the fake_model test, stub that function of your"
                " app, or record them with llm_cassette"
            )
            report_problem(problem)
            raise problem
        return None

    def _failure(
        self,
        exc: BaseException,
        error: _Error,
        *,
        is_async: bool,
    ) -> InterceptedResponse:
        if isinstance(exc, FakeRateLimitError):
            seconds = exc.retry_after if exc.retry_after is not None else 1.0
            return error(429, "rate_limit", str(exc), is_async, retry_after=seconds)
        if isinstance(exc, FakeServerError):
            kind = "overloaded" if exc.status == 529 else "server"
            return error(exc.status, kind, str(exc), is_async, retry_after=exc.retry_after)
        if isinstance(exc, FakeTimeoutError):
            return InterceptedResponse(timeout=True)
        if isinstance(exc, (FakeModelError, ConfigurationError)) or (
            isinstance(exc, AgentRigError) and not isinstance(exc, BudgetExceeded)
        ):
            report_problem(exc)
        raise exc


def _retry_headers(retry_after: float | None, is_async: bool) -> dict[str, str]:
    if retry_after is None:
        return {}
    headers = {"retry-after": f"{retry_after:g}"}
    # Sync clients sleep in real time between retries: ask for a 1 ms wait instead.
    headers["retry-after-ms"] = f"{retry_after * 1000:g}" if is_async else "1"
    return headers


def _openai_error(
    status: int, kind: str, message: str, is_async: bool, *, retry_after: float | None = None
) -> InterceptedResponse:
    names = {
        "rate_limit": "rate_limit_exceeded",
        "overloaded": "server_error",
        "server": "server_error",
    }
    if status == 529:
        status = 503  # OpenAI says "overloaded" with a 503
    return openai_wire.error_response(
        status, names.get(kind, kind), message, headers=_retry_headers(retry_after, is_async)
    )


def _anthropic_error(
    status: int, kind: str, message: str, is_async: bool, *, retry_after: float | None = None
) -> InterceptedResponse:
    names = {
        "rate_limit": "rate_limit_error",
        "overloaded": "overloaded_error",
        "server": "api_error",
    }
    return anthropic_wire.error_response(
        status, names.get(kind, kind), message, headers=_retry_headers(retry_after, is_async)
    )
