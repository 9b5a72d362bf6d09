"""A deterministic, scripted stand-in for an LLM: same input, same output, every run, for free.

Usage::

    from agentrig.fake import FakeModel

    fake_model = FakeModel()
    research = fake_model.agent("research", reply="notes about X")                  # fixed
    draft = fake_model.agent("draft", reply=lambda prompt: f"report on {prompt[:20]}")
    review = fake_model.agent("review", replies=["1. tighten intro", "APPROVED"])   # one per call
    flaky = fake_model.agent("web", error=TimeoutError("search timed out"))         # fails
    slow = fake_model.agent("deep", reply="...", latency=30.0)                      # virtual s

    out = await research.run("query", budget=stage_budget)
    out.text, out.tokens, out.usd            # 'notes about X', 4, Decimal('0.0000075')
    fake_model.calls                         # the call log, in call order

How a call is answered
----------------------
Each call to ``agent.run(prompt)`` is answered by the first of these that applies:

1. **Rules** added with :meth:`FakeAgent.on`, in the order they were added; the first rule
   whose matcher matches the prompt answers (a substring, a compiled regular expression
   searched in the prompt, or a callable ``prompt -> bool``). A rule given ``times=N`` answers
   N calls and is then used up.
2. **The agent's** ``error=``: every call fails with it, or with ``fail_times=N`` only the first
   N calls that reach this step ("fail N times, then succeed").
3. ``replies=[...]``: one reply per call, in order. When they run out, ``reply=`` answers the
   remaining calls if it was given; otherwise ``exhausted=`` decides: ``"raise"`` (default:
   :class:`~agentrig.ScriptExhausted`, because a script shorter than the run is usually a test
   bug), ``"repeat_last"`` or ``"cycle"``.
4. ``reply=``: a fixed text, or a callable ``prompt -> str``.
5. **The default reply** ``"[<agent>] reply to: <first 40 characters of the prompt>"`` — or,
   in strict mode, :class:`~agentrig.UnscriptedCall` listing the agent's rules and the prompt.

The answer is chosen synchronously when the call starts, so concurrent calls to one agent are
answered in the order they were made, whatever order they finish in.

Chat requests and SDK calls
---------------------------
Every call is answered from a :class:`~agentrig.FakeRequest` (``agentrig.chat``): for
``run(prompt)`` one user message; for an SDK request (``agentrig.providers``) the whole
conversation, tools and schema. The request *is* the prompt as a ``str`` (the last user text),
so rules and callables written for ``run`` keep working. A reply may be text, a
:class:`~agentrig.ToolCall` or a list of them, or structured output (a dict or pydantic model);
see ``agentrig.chat`` for how each is checked. SDK requests are routed to agents by
:meth:`FakeModel.route` (``model=`` / ``system=`` of :meth:`FakeModel.agent`). Ambient stage
budgets (:func:`agentrig.budget.current_stage_budget`) apply to SDK calls; ``run`` charges only
the ``budget=`` it is given, as before.

Failures
--------
``error=`` (on an agent or a rule) takes an exception instance (raised as a fresh copy each
call), an exception class (instantiated with a message naming the agent and call), or a
built-in failure: ``"overloaded"`` / ``"server_error"`` / :func:`server_error` raise
:class:`~agentrig.FakeServerError` (529 / 500) after the latency, ``"rate_limit"`` /
:func:`rate_limit` raises
:class:`~agentrig.FakeRateLimitError` at once (a 429 costs no time; ``retry_after`` is on the
error), ``"timeout"`` / :func:`timeout` waits the call's latency (or ``after=`` seconds) in
virtual time and then raises :class:`~agentrig.FakeTimeoutError`. Every other failure also
takes the call's latency before it is raised (a latency function gets 0 output tokens). A
failed call uses no tokens and costs nothing.

Tokens and money
----------------
Token counts are deterministic and need no network or model download (:func:`count_tokens`,
approximately tiktoken-like): the text is split, ASCII-only, into runs of letters, runs of
digits and single other characters, ASCII whitespace being free; a letter run counts
``ceil(len / 8)`` tokens (most English words are one token), a digit run one token per 3
digits (as cl100k splits numbers), every other character one token (punctuation, each
non-ASCII character). ``""`` is 0 tokens. Pass ``tokenizer=`` to use another count.

The cost of a call, exact in :class:`~decimal.Decimal`::

    usd = (input_tokens * price.input_per_1k + output_tokens * price.output_per_1k) / 1000

with the prices of the agent's model from :data:`DEFAULT_PRICES` updated by ``prices=``. A
model with no price is refused when the agent is created (it would silently cost nothing).

Budgets
-------
``run(prompt, budget=stage)`` charges the call's cost and tokens to ``stage`` with the label
``"model.call <agent>"``. With ``check_budget=True`` (default) a call whose exact cost the
budget cannot afford is refused *before* it is made — on a :class:`~agentrig.StageBudget`
atomically: the cost is held (``stage.reserve``) from the check until the charge, so concurrent
calls on one stage can never together spend past its cap — it raises
:class:`~agentrig.BudgetExceeded`, takes no time and spends nothing, so a budget is never
overspent by a fake. If the charge still fails after the call (another task spent the money
in the meantime, or a budget without ``can_afford``), the budget records the spend as refused
(``accepted=False``, never dropped) and the ``BudgetExceeded`` propagates.

Tracing
-------
Every call is one span named ``"chat {model}"`` (through ``tracer=``, else
:func:`agentrig.tracing.default_tracer`, so it lands in the active recording) with the
OpenTelemetry GenAI attributes ``gen_ai.operation.name="chat"``, ``gen_ai.provider.name``
(``"agentrig"``), ``gen_ai.agent.name``,
``gen_ai.request.model``, ``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``, plus
``agentrig.cost_usd`` (a float), and the text as ``agentrig.prompt`` and ``agentrig.reply``
(attributes, not events, so a changed reply reads as a text drift of that span). A failure is
recorded on the span as an exception with ``error.type``.

Determinism
-----------
Nothing here uses randomness, ``hash()``, ``id()``, set order or the wall clock: the same
script and prompts give the same replies, tokens, costs and (virtual) timings on every run,
hash seed and Python version.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import numbers
import re
import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias

from agentrig._errors import (
    BudgetExceeded,
    ConfigurationError,
    FakeRateLimitError,
    FakeServerError,
    FakeTimeoutError,
    ScriptExhausted,
    ScriptMismatch,
    StateError,
    UnscriptedCall,
)
from agentrig._secrets import redact_secrets
from agentrig._types import Budget, Money
from agentrig.budget import Reservation, StageBudget, current_stage_budget
from agentrig.chat import (
    FakeRequest,
    ToolCall,
    canonical_json,
    example_for_schema,
    validate_against_schema,
)
from agentrig.checks import check_seconds
from agentrig.model_span import reply_attributes, request_attributes, unspent_attributes
from agentrig.money import CONTEXT, ZERO, format_usd, parse_usd
from agentrig.mutate import hook as _mutation
from agentrig.recording import active_recording
from agentrig.tracing import (
    ERROR_TYPE,
    Tracer,
    default_tracer,
    model_call_span_name,
)
from agentrig.vocabulary import AGENTRIG_PROMPT, AGENTRIG_REPLY

__all__ = [
    "AGENTRIG_PROMPT",
    "AGENTRIG_REPLY",
    "DEFAULT_MODEL",
    "DEFAULT_PRICES",
    "PROVIDER_NAME",
    "SPAN_NAME",
    "FakeAgent",
    "FakeCall",
    "FakeModel",
    "FakeReply",
    "Price",
    "RateLimit",
    "ServerError",
    "Timeout",
    "count_tokens",
    "overloaded",
    "rate_limit",
    "server_error",
    "timeout",
]

#: The operation of the span every model call opens; the span is named
#: ``"chat {gen_ai.request.model}"`` (:func:`agentrig.tracing.model_call_span_name`).
SPAN_NAME: Final = "chat"
#: ``gen_ai.provider.name`` of calls the fake answers itself.
PROVIDER_NAME: Final = "agentrig"
#: The model agents use unless told otherwise.
DEFAULT_MODEL: Final = "fake-model"

#: A latency: virtual seconds, or a function of the reply's output tokens returning them.
Latency: TypeAlias = "float | int | Callable[[int], float]"
#: What a reply is: text, a tool call (or a list: parallel calls), or structured output (a
#: dict/list or a pydantic model).
ReplyValue: TypeAlias = "str | ToolCall | Sequence[ToolCall] | Mapping[str, Any] | Any"
#: A reply: a value, or a function of the request (a :class:`~agentrig.FakeRequest`, which is
#: also the prompt as a str) returning one.
Reply: TypeAlias = "ReplyValue | Callable[[FakeRequest], ReplyValue]"
#: What a rule matches on: a substring, a compiled regex, or a predicate on the request.
Matcher: TypeAlias = "str | re.Pattern[str] | Callable[[FakeRequest], bool]"
#: An injected failure.
ErrorSpec: TypeAlias = (
    "BaseException | type[BaseException]"
    " | Literal['rate_limit', 'timeout', 'overloaded', 'server_error']"
    " | RateLimit | Timeout | ServerError"
)
# An injected failure once the strings are resolved.
_Failure: TypeAlias = "BaseException | type[BaseException] | RateLimit | Timeout | ServerError"
Exhausted = Literal["raise", "repeat_last", "cycle"]
_EXHAUSTED: tuple[str, ...] = ("raise", "repeat_last", "cycle")

_THOUSAND = Decimal(1000)


# -- tokens ---------------------------------------------------------------------------------

# ASCII classes only: Unicode tables change between Python versions, this count must not.
_TOKEN_RE = re.compile(r"[A-Za-z]+|[0-9]+|[^ \t\n\r\f\v]")
_LETTERS_PER_TOKEN = 8
_DIGITS_PER_TOKEN = 3


def count_tokens(text: str) -> int:
    """The deterministic token count FakeModel uses (approximately tiktoken-like).

    Letter runs count ``ceil(len / 8)``, digit runs ``ceil(len / 3)``, every other
    character (punctuation, each non-ASCII character) one; ASCII whitespace is free.

    Args:
        text: the text to count.

    Returns:
        The number of tokens (0 for an empty or all-whitespace text).

    Usage::

        count_tokens("Hello, world!")          # 4: Hello , world !
        count_tokens("internationalization")   # 3
        count_tokens("2025")                   # 2: 202 5
    """
    total = 0
    for piece in _TOKEN_RE.findall(text):
        first = piece[0]
        if "a" <= first <= "z" or "A" <= first <= "Z":
            total += -(-len(piece) // _LETTERS_PER_TOKEN)
        elif "0" <= first <= "9":
            total += -(-len(piece) // _DIGITS_PER_TOKEN)
        else:
            total += 1
    return total


# -- prices ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Price:
    """What a model costs, in US dollars per 1,000 tokens, exact.

    Args:
        input_per_1k: USD per 1k prompt tokens.
        output_per_1k: USD per 1k reply tokens.

    Usage::

        FakeModel(prices={"my-model": Price("0.003", "0.015")})
        FakeModel(prices={"my-model": (0.003, 0.015)})     # a pair works too
    """

    input_per_1k: Decimal
    output_per_1k: Decimal

    def __init__(self, input_per_1k: Money, output_per_1k: Money) -> None:
        object.__setattr__(self, "input_per_1k", parse_usd(input_per_1k, "input_per_1k"))
        object.__setattr__(self, "output_per_1k", parse_usd(output_per_1k, "output_per_1k"))

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        """The exact cost of a call with these token counts."""
        total = CONTEXT.add(
            CONTEXT.multiply(Decimal(input_tokens), self.input_per_1k),
            CONTEXT.multiply(Decimal(output_tokens), self.output_per_1k),
        )
        return CONTEXT.divide(total, _THOUSAND)


#: Default prices (USD per 1k input / output tokens, base tier), as published by the
#: providers (figures cross-checked with the ``genai-prices`` data, 2026-12). A dated variant
#: (``gpt-4o-mini-2024-07-18``, ``claude-haiku-4-5-20251001``) is priced as its base name.
#: ``fake-model`` is priced like a typical frontier model so that costs look realistic.
#: Override or extend with ``FakeModel(prices={...})``.
DEFAULT_PRICES: Final[Mapping[str, Price]] = MappingProxyType(
    {
        DEFAULT_MODEL: Price("0.0025", "0.01"),
        # OpenAI
        "gpt-5.5": Price("0.01", "0.045"),
        "gpt-5.2": Price("0.00175", "0.014"),
        "gpt-5.1": Price("0.00125", "0.01"),
        "gpt-5": Price("0.00125", "0.01"),
        "gpt-5-mini": Price("0.00025", "0.002"),
        "gpt-5-nano": Price("0.00005", "0.0004"),
        "gpt-4o": Price("0.0025", "0.01"),
        "gpt-4o-mini": Price("0.00015", "0.0006"),
        "gpt-4.1": Price("0.002", "0.008"),
        "gpt-4.1-mini": Price("0.0004", "0.0016"),
        "gpt-4.1-nano": Price("0.0001", "0.0004"),
        "o3": Price("0.002", "0.008"),
        "o3-mini": Price("0.0011", "0.0044"),
        "o4-mini": Price("0.0011", "0.0044"),
        # Anthropic
        "claude-opus-5-5": Price("0.004", "0.02"),
        "claude-opus-5": Price("0.005", "0.025"),
        "claude-sonnet-5-5": Price("0.002", "0.01"),
        "claude-sonnet-5": Price("0.002", "0.01"),
        "claude-haiku-5-5": Price("0.0005", "0.0025"),
        "claude-opus-4-8": Price("0.005", "0.025"),
        "claude-opus-4-7": Price("0.005", "0.025"),
        "claude-opus-4-6": Price("0.005", "0.025"),
        "claude-opus-4-5": Price("0.005", "0.025"),
        "claude-opus-4-1": Price("0.015", "0.075"),
        "claude-opus-4": Price("0.015", "0.075"),
        "claude-sonnet-4-6": Price("0.003", "0.015"),
        "claude-sonnet-4-5": Price("0.003", "0.015"),
        "claude-sonnet-4": Price("0.003", "0.015"),
        "claude-haiku-4-5": Price("0.001", "0.005"),
        "claude-3-5-haiku": Price("0.0008", "0.004"),
        # Google
        "gemini-2.0-flash": Price("0.0001", "0.0004"),
    }
)


def _to_price(model: str, value: object) -> Price:
    if isinstance(value, Price):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        return Price(value[0], value[1])
    if isinstance(value, (numbers.Real, Decimal, str)) and not isinstance(value, bool):
        amount = parse_usd(value, f"prices[{model!r}]")  # any amount parse_usd reads
        return Price(amount, amount)
    raise ConfigurationError(
        f"prices[{model!r}] must be a Price, an (input_per_1k, output_per_1k) pair of USD"
        f" amounts, or one amount for both, got {value!r}"
    )


# -- built-in failures ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateLimit:
    """An injected rate limit: raises :class:`~agentrig.FakeRateLimitError` at once.

    Attributes:
        retry_after: the seconds the "provider" asks to wait, put on the error.
    """

    retry_after: float = 1.0

    def __post_init__(self) -> None:
        check_seconds(self.retry_after, "retry_after")


@dataclass(frozen=True, slots=True)
class Timeout:
    """An injected timeout: waits, then raises :class:`~agentrig.FakeTimeoutError`.

    Attributes:
        after: virtual seconds the call takes before it times out; ``None``: the call's
            latency (of the rule, agent or model).
    """

    after: float | None = None

    def __post_init__(self) -> None:
        if self.after is not None:
            check_seconds(self.after, "after")


@dataclass(frozen=True, slots=True)
class ServerError:
    """An injected provider error after the call's latency: HTTP 500, or 529 (overloaded).

    Raises :class:`~agentrig.FakeServerError` from ``run``; an SDK client receives the HTTP
    status with ``retry-after: <retry_after>`` (and retries it, as it would in production;
    the header keeps the SDK's randomly jittered backoff out of the virtual timings).
    """

    status: int = 500
    retry_after: float = 1.0

    def __post_init__(self) -> None:
        check_seconds(self.retry_after, "retry_after")
        if self.status not in (500, 502, 503, 529):
            raise ConfigurationError(
                f"ServerError `status` must be 500, 502, 503 or 529, got {self.status!r}"
            )


def overloaded() -> ServerError:
    """An "overloaded" failure (Anthropic's 529) for ``error=`` (same as ``"overloaded"``)."""
    return ServerError(529)


def server_error(*, status: int = 500, retry_after: float = 1.0) -> ServerError:
    """A server failure (HTTP 500 by default) for ``error=`` (same as ``"server_error"``)."""
    return ServerError(status, retry_after)


def rate_limit(*, retry_after: float = 1.0) -> RateLimit:
    """A rate-limit failure for ``error=`` (``error="rate_limit"`` is ``rate_limit()``).

    Usage::

        web = fake_model.agent("web", error=rate_limit(retry_after=20), fail_times=2, reply="ok")
    """
    return RateLimit(retry_after=check_seconds(retry_after, "retry_after"))


def timeout(*, after: float | None = None) -> Timeout:
    """A timeout failure for ``error=`` (``error="timeout"`` is ``timeout()``).

    Usage::

        deep = fake_model.agent("deep", error=timeout(after=60))   # 60 virtual s, then raises
    """
    return Timeout(after=None if after is None else check_seconds(after, "after"))


# A dated snapshot or alias of a model: gpt-4o-2024-08-06, claude-haiku-4-5-20251001, ...-latest.
_VARIANT_RE = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$")


def is_variant_of(model: str, name: str) -> bool:
    """Whether ``model`` is ``name`` or a dated variant of it (``name-2025-01-31``,
    ``name-20250131``, ``name-latest``), not another model sharing a prefix (``gpt-4o-mini``
    is no variant of ``gpt-4o``)."""
    return model == name or _VARIANT_RE.sub("", model) == name


def _check_latency(value: object, param: str) -> Latency:
    if callable(value):
        return value
    return check_seconds(value, param)


def _check_error(value: object, param: str) -> _Failure:
    if value == "rate_limit":
        return RateLimit()
    if value == "timeout":
        return Timeout()
    if value == "overloaded":
        return ServerError(529)
    if value == "server_error":
        return ServerError(500)
    if isinstance(value, (BaseException, RateLimit, Timeout, ServerError)):
        return value
    if isinstance(value, type) and issubclass(value, BaseException):
        return value
    raise ConfigurationError(
        f"`{param}` must be an exception instance or class, 'rate_limit', 'timeout',"
        f" 'overloaded', 'server_error', rate_limit(...), timeout(...) or server_error(...),"
        f" got {value!r}"
    )


def _check_reply(value: object, param: str) -> Reply:
    if _is_reply_value(value) or callable(value):
        if (
            isinstance(value, (list, tuple))
            and any(isinstance(v, ToolCall) for v in value)
            and not all(isinstance(v, ToolCall) for v in value)
        ):
            raise ConfigurationError(
                f"`{param}`: a list of tool calls must hold only ToolCall objects, got {value!r}"
            )
        return value
    raise ConfigurationError(
        f"`{param}` must be a str or a callable request -> reply, a ToolCall (or a list of"
        f" them), a dict or a pydantic model, got {type(value).__name__} {value!r}"
    )


def _preview(text: str, limit: int = 40) -> str:
    """A short, one-line preview of a prompt for messages."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[:limit] + "…"


# -- records --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FakeReply:
    """What :meth:`FakeAgent.run` returns.

    Attributes:
        text: the reply text.
        tokens: ``input_tokens + output_tokens``.
        input_tokens: tokens of the prompt.
        output_tokens: tokens of the reply.
        usd: the exact cost of the call.
        model: the model that answered.
        agent: the agent's name.
        latency: the virtual seconds the call took.
        call: the agent's call number, from 1.

    ``str(reply)`` is the text.
    """

    text: str
    tokens: int
    input_tokens: int
    output_tokens: int
    usd: Decimal
    model: str
    agent: str
    latency: float
    call: int
    tool_calls: tuple[ToolCall, ...] = ()
    structured: Any = None
    finish_reason: str = "stop"

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class FakeCall:
    """One entry of the call log (``fake_model.calls``, ``agent.calls``).

    Attributes:
        agent: the agent's name.
        model: its model.
        call: the agent's call number, from 1.
        prompt: the prompt.
        text: the reply text; ``None`` if the call failed before producing one.
        error: the exception the call raised, or ``None``.
        input_tokens: prompt tokens charged (0 for a failed call).
        output_tokens: reply tokens charged (0 for a failed call).
        usd: what the call cost (0 for a failed call).
        latency: the virtual seconds the call took (until it failed, for a failure).
        t: the loop time when the call started (virtual under agentrig's loop).
        answered_by: which part of the script answered: ``"rule #1 (substring 'x')"``,
            ``"error="``, ``"replies[0]"``, ``"reply="``, ``"default"``, ...
        request: the :class:`~agentrig.FakeRequest` (messages, tools, schema, ...).
        tool_calls: the tool calls the reply made (empty for a text reply).
    """

    agent: str
    model: str
    call: int
    prompt: str
    text: str | None
    error: BaseException | None
    input_tokens: int
    output_tokens: int
    usd: Decimal
    latency: float
    t: float
    answered_by: str
    request: FakeRequest | None = None
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def tokens(self) -> int:
        """``input_tokens + output_tokens``."""
        return self.input_tokens + self.output_tokens

    @property
    def ok(self) -> bool:
        """Whether the call returned a reply."""
        return self.error is None


@dataclass(slots=True)
class _Rule:
    matcher: Matcher
    reply: Reply | None
    error: _Failure | None
    latency: Latency | None
    remaining: int | None

    def describe(self) -> str:
        m = self.matcher
        if isinstance(m, str):
            text = f"substring {m!r}"
        elif isinstance(m, re.Pattern):
            text = f"regex {m.pattern!r}"
        else:
            text = f"callable {getattr(m, '__qualname__', type(m).__qualname__)}"
        return text

    def matches(self, prompt: FakeRequest) -> bool:
        m = self.matcher
        if isinstance(m, str):
            return m in prompt
        if isinstance(m, re.Pattern):
            return m.search(prompt) is not None
        return bool(m(prompt))


@dataclass(frozen=True, slots=True)
class _Step:
    """How one call will be answered (chosen synchronously when it starts)."""

    source: str
    text: ReplyValue | None = None  # named text for agentrig mutate's hook
    error: _Failure | None = None
    latency: Latency | None = None


@dataclass(slots=True)
class _State:
    calls: int = 0
    failures: int = 0
    reply_index: int = 0
    rules: list[_Rule] = field(default_factory=list)


# -- the model ------------------------------------------------------------------------------


class FakeModel:
    """A scripted, deterministic LLM that makes agents (:meth:`agent`) and logs their calls.

    Args:
        model: the model name agents use unless given ``model=``.
        strict: when True, a call no script step answers raises
            :class:`~agentrig.UnscriptedCall` instead of getting the default reply.
        prices: model name -> :class:`Price` (or an ``(input_per_1k, output_per_1k)`` pair),
            merged over :data:`DEFAULT_PRICES`.
        latency: the default latency of every call, in virtual seconds, or a function of the
            reply's output tokens, or a mapping from model name to either (models not in it
            take 0).
        tracer: the tracer for the ``"chat {model}"`` spans; default
            :func:`~agentrig.tracing.default_tracer` (looked up at each call).
        tokenizer: a function ``text -> int`` replacing :func:`count_tokens`.
        check_budget: refuse a call the ``budget=`` cannot afford before making it (see the
            module notes); False always makes the call and lets the charge decide.

    Raises:
        ConfigurationError: an invalid argument (the message names it).

    Usage::

        fake_model = FakeModel(prices={"big": (0.01, 0.03)}, latency=0.5, strict=True)
        review = fake_model.agent("review", model="big", replies=["fix intro", "APPROVED"])
        out = agentrig.run(review.run("Review: ..."))
        fake_model.calls[0].usd
    """

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        strict: bool = False,
        prices: Mapping[str, Price | tuple[Money, Money] | Money] | None = None,
        latency: Latency | Mapping[str, Latency] = 0.0,
        tracer: Tracer | None = None,
        tokenizer: Callable[[str], int] | None = None,
        check_budget: bool = True,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ConfigurationError(f"FakeModel `model` must be a non-empty str, got {model!r}")
        if not isinstance(strict, bool):
            raise ConfigurationError(f"FakeModel `strict` must be True or False, got {strict!r}")
        if not isinstance(check_budget, bool):
            raise ConfigurationError(
                f"FakeModel `check_budget` must be True or False, got {check_budget!r}"
            )
        if tracer is not None and not isinstance(tracer, Tracer):
            raise ConfigurationError(f"FakeModel `tracer` must be a Tracer or None, got {tracer!r}")
        if tokenizer is not None and not callable(tokenizer):
            raise ConfigurationError(
                f"FakeModel `tokenizer` must be a callable text -> int, got {tokenizer!r}"
            )
        table = dict(DEFAULT_PRICES)
        if prices is not None:
            if not isinstance(prices, Mapping):
                raise ConfigurationError(
                    f"FakeModel `prices` must be a mapping of model name to Price, got {prices!r}"
                )
            for name, value in prices.items():
                if not isinstance(name, str) or not name:
                    raise ConfigurationError(
                        f"FakeModel `prices` keys must be model names (non-empty str), got {name!r}"
                    )
                table[name] = _to_price(name, value)
        self.model = model
        self.strict = strict
        self.check_budget = check_budget
        self.tracer = tracer
        self._prices: Mapping[str, Price] = MappingProxyType(table)
        self._latency: Latency | dict[str, Latency]
        if isinstance(latency, Mapping):
            self._latency = {
                str(k): _check_latency(v, f"latency[{k!r}]") for k, v in latency.items()
            }
        else:
            self._latency = _check_latency(latency, "latency")
        self._tokenizer: Callable[[str], int] = tokenizer or count_tokens
        self._agents: dict[str, FakeAgent] = {}
        # The call log: one slot per call, reserved when the call starts (so the log is in
        # call order, not completion order), filled when it ends.
        self._log: list[FakeCall | None] = []
        self._lock = threading.RLock()
        self._check_price(model, "model")

    def __repr__(self) -> str:
        return redact_secrets(
            f"<FakeModel model={self.model!r} agents={list(self._agents)} calls={len(self.calls)}"
            f" usd={self.total_usd} strict={self.strict}>"
        )

    # -- configuration ----------------------------------------------------------------------

    def _price_key(self, model: str) -> str | None:
        """The price-table key for ``model``: itself, or the name it is a dated variant of
        (``gpt-4o-mini-2024-07-18`` is priced as ``gpt-4o-mini``)."""
        if model in self._prices:
            return model
        base = _VARIANT_RE.sub("", model)
        return base if base in self._prices else None

    def _check_price(self, model: str, param: str) -> None:
        if self._price_key(model) is None:
            known = ", ".join(sorted(self._prices))
            raise ConfigurationError(
                f"FakeModel has no price for {param} {model!r} (known: {known}); pass"
                f" prices={{{model!r}: (input_usd_per_1k, output_usd_per_1k)}} to FakeModel,"
                f" or prices={{{model!r}: 0}} to make it free"
            )

    @property
    def prices(self) -> Mapping[str, Price]:
        """The price table in use (defaults updated by ``prices=``), read-only."""
        return self._prices

    def price(self, model: str) -> Price:
        """The price of ``model`` (raises ConfigurationError naming the known models)."""
        self._check_price(model, "model")
        key = self._price_key(model)
        assert key is not None
        return self._prices[key]

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` under this model's tokenizer."""
        n = self._tokenizer(text)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigurationError(
                f"FakeModel tokenizer must return a non-negative int, returned {n!r}"
            )
        return n

    def agent(
        self,
        name: str,
        *,
        reply: Reply | None = None,
        replies: Sequence[Reply] | None = None,
        exhausted: Exhausted = "raise",
        error: ErrorSpec | None = None,
        fail_times: int | None = None,
        latency: Latency | None = None,
        model: str | re.Pattern[str] | None = None,
        system: str | re.Pattern[str] | None = None,
        strict: bool | None = None,
    ) -> FakeAgent:
        """Make a scripted agent (see the module notes for the order script steps answer in).

        Args:
            name: the agent's name, unique within this FakeModel (``gen_ai.agent.name``).
            reply: a fixed reply (text, :class:`~agentrig.ToolCall` or a list of them, a dict
                or pydantic model for structured output), or a callable ``request -> reply``
                (the :class:`~agentrig.FakeRequest` is also the prompt as a ``str``).
            replies: replies (or callables) used one per call, in order.
            exhausted: what happens once ``replies`` ran out and no ``reply=`` is given:
                ``"raise"`` (:class:`~agentrig.ScriptExhausted`), ``"repeat_last"``, ``"cycle"``.
            error: a failure for every call (or the first ``fail_times`` calls): an exception
                instance or class, ``"rate_limit"``, ``"timeout"``, :func:`rate_limit`,
                :func:`timeout`.
            fail_times: with ``error``, fail this many calls, then answer from the script.
            latency: virtual seconds per call, or a function of output tokens; default the
                FakeModel's latency for the agent's model.
            model: the model name (must have a price); default the FakeModel's ``model``.
                Given explicitly, the agent also answers SDK calls for that model (the exact
                name, or a dated variant ``<model>-2025-...``; a compiled ``re.Pattern`` is
                searched in the requested model).
            system: answer SDK calls whose system prompt contains this substring (or matches
                this ``re.Pattern``); with ``model=`` too, both must match.
            strict: override the FakeModel's ``strict`` for this agent.

        Returns:
            The :class:`FakeAgent`.

        Raises:
            ConfigurationError: a duplicate name or an invalid argument.
        """
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"agent `name` must be a non-empty str, got {name!r}")
        if name in self._agents:
            raise ConfigurationError(
                f"FakeModel already has an agent named {name!r}; agent names are unique (they"
                " label spans and the call log). Reuse fake_model.agents[name], or pick"
                " another name"
            )
        who = f"agent {name!r}"
        agent_model = self.model if model is None or isinstance(model, re.Pattern) else model
        if not isinstance(agent_model, str) or not agent_model:
            raise ConfigurationError(
                f"{who}: `model` must be a non-empty str or a re.Pattern, got {model!r}"
            )
        self._check_price(agent_model, f"{who}'s model")
        if system is not None and not (
            isinstance(system, re.Pattern) or (isinstance(system, str) and system)
        ):
            raise ConfigurationError(
                f"{who}: `system` must be a non-empty str or a re.Pattern, got {system!r}"
            )
        if reply is not None:
            reply = _check_reply(reply, "reply")
        reply_list: tuple[Reply, ...] | None = None
        if replies is not None:
            if isinstance(replies, str) or not isinstance(replies, Sequence):
                raise ConfigurationError(
                    f"{who}: `replies` must be a sequence of replies (one per call), got"
                    f" {replies!r}; for one fixed reply use reply="
                )
            for i, item in enumerate(replies):
                if not (_is_reply_value(item) or callable(item)):
                    raise ConfigurationError(
                        f"{who}: replies[{i}] must be a str, a ToolCall (or a list of them), a"
                        " dict, a pydantic model or a callable request -> reply, got"
                        f" {type(item).__name__} {item!r}"
                    )
                _check_reply(item, f"replies[{i}]")
            reply_list = tuple(replies)
        if exhausted not in _EXHAUSTED:
            raise ConfigurationError(
                f"{who}: `exhausted` must be one of {', '.join(map(repr, _EXHAUSTED))},"
                f" got {exhausted!r}"
            )
        if exhausted != "raise" and reply_list is None:
            raise ConfigurationError(f"{who}: `exhausted` applies to replies=[...]; give replies")
        if exhausted != "raise" and reply is not None:
            raise ConfigurationError(
                f"{who}: give either reply= (answers once replies=[...] ran out) or"
                f" exhausted={exhausted!r}, not both"
            )
        if exhausted != "raise" and reply_list == ():
            raise ConfigurationError(f"{who}: exhausted={exhausted!r} needs at least one reply")
        error_spec = None if error is None else _check_error(error, "error")
        if fail_times is not None:
            if isinstance(fail_times, bool) or not isinstance(fail_times, int) or fail_times < 1:
                raise ConfigurationError(
                    f"{who}: `fail_times` must be a positive int, got {fail_times!r}"
                )
            if error_spec is None:
                raise ConfigurationError(
                    f"{who}: `fail_times` needs error= (what the failing calls raise)"
                )
        agent_latency = None if latency is None else _check_latency(latency, "latency")
        if strict is not None and not isinstance(strict, bool):
            raise ConfigurationError(f"{who}: `strict` must be True, False or None, got {strict!r}")
        made = FakeAgent._create(
            self,
            name=name,
            model=agent_model,
            reply=reply,
            replies=reply_list,
            exhausted=exhausted,
            error=error_spec,
            fail_times=fail_times,
            latency=agent_latency,
            strict=self.strict if strict is None else strict,
        )
        made._route_model = model
        made._route_system = system
        self._agents[name] = made
        return made

    # -- SDK calls --------------------------------------------------------------------------

    def route(self, request: FakeRequest) -> FakeAgent:
        """The agent that answers an SDK request (see the routing notes in the module doc).

        The first agent, in creation order, whose ``model=``/``system=`` match; else the
        default agent named after the requested model (created on first use, with the
        default reply), or, in strict mode, :class:`~agentrig.UnscriptedCall`.
        """
        for made in self._agents.values():
            if made._routes(request):
                return made
        existing = self._agents.get(request.model)
        if existing is not None:
            return existing
        if self.strict:
            lines = [
                "FakeModel (strict) has no agent for this request:",
                request.describe(),
                "Agents and what they answer:",
            ]
            lines += [f"  {a.name!r}: {a.describe_route()}" for a in self._agents.values()]
            if not self._agents:
                lines.append("  (none)")
            lines.append(
                f"Add fake_model.agent('<name>', model={request.model!r}, reply=...) or"
                " system='<part of the system prompt>', or use strict=False for a default reply."
            )
            raise UnscriptedCall("\n".join(lines))
        self._check_price(request.model, "the requested model")
        with self._lock:
            found = self._agents.get(request.model)
            if found is None:
                found = self.agent(request.model, model=request.model)
                found._route_model = None  # a default agent: it never claims other requests
        return found

    async def respond(self, request: FakeRequest, *, budget: Budget | None = None) -> FakeReply:
        """Answer an SDK request: route it, charge ``budget`` (default the ambient stage).

        The ambient stage is :func:`agentrig.budget.current_stage_budget`: the
        ``pool.acquire(...)`` block the calling task is in.
        """
        made = self.route(request)
        stage = budget if budget is not None else current_stage_budget()
        return await _drive_async(made._call(request, stage, wire=True))

    def respond_sync(self, request: FakeRequest, *, budget: Budget | None = None) -> FakeReply:
        """:meth:`respond` for sync clients: the same answer, taking no (virtual) time."""
        made = self.route(request)
        stage = budget if budget is not None else current_stage_budget()
        return _drive_sync(made._call(request, stage, wire=True))

    # -- reading ----------------------------------------------------------------------------

    @property
    def agents(self) -> Mapping[str, FakeAgent]:
        """The agents made so far, by name, in creation order (read-only)."""
        return MappingProxyType(self._agents)

    @property
    def calls(self) -> tuple[FakeCall, ...]:
        """Finished calls of every agent, in the order the calls *started*."""
        with self._lock:
            return tuple(c for c in self._log if c is not None)

    @property
    def total_usd(self) -> Decimal:
        """What every finished call cost together, exact."""
        total = ZERO
        for c in self.calls:
            total = CONTEXT.add(total, c.usd)
        return total

    @property
    def total_tokens(self) -> int:
        """Tokens of every finished call together."""
        return sum(c.tokens for c in self.calls)

    # -- internals --------------------------------------------------------------------------

    def _default_latency(self, model: str) -> Latency:
        if isinstance(self._latency, dict):
            return self._latency.get(model, 0.0)
        return self._latency

    def _reserve_slot(self) -> int:
        with self._lock:
            self._log.append(None)
            return len(self._log) - 1

    def _fill_slot(self, slot: int, record: FakeCall) -> None:
        with self._lock:
            self._log[slot] = record


class FakeAgent:
    """A scripted agent: ``await agent.run(prompt, budget=...)`` returns a :class:`FakeReply`.

    Made by :meth:`FakeModel.agent`, never directly. Satisfies :class:`agentrig.Agent`.

    Usage::

        review = fake_model.agent("review", reply="looks fine")
        review.on("draft v1", reply="1. tighten intro").on(re.compile(r"v2$"), reply="APPROVED")
        out = await review.run("draft v1")
        out.text                       # '1. tighten intro'
        review.calls[0].answered_by    # "rule #1 (substring 'draft v1')"
    """

    __slots__ = (
        "_error",
        "_exhausted",
        "_fail_times",
        "_fake",
        "_latency",
        "_lock",
        "_replies",
        "_reply",
        "_route_model",
        "_route_system",
        "_state",
        "model",
        "name",
        "strict",
    )

    _fake: FakeModel
    name: str
    model: str
    strict: bool
    _reply: Reply | None
    _replies: tuple[Reply, ...] | None
    _route_model: str | re.Pattern[str] | None
    _route_system: str | re.Pattern[str] | None
    _exhausted: Exhausted
    _error: _Failure | None
    _fail_times: int | None
    _latency: Latency | None
    _lock: threading.RLock
    _state: _State

    def __init__(self) -> None:
        raise StateError("FakeAgent is not created directly: use fake_model.agent(name, reply=...)")

    @classmethod
    def _create(
        cls,
        fake: FakeModel,
        *,
        name: str,
        model: str,
        reply: Reply | None,
        replies: tuple[Reply, ...] | None,
        exhausted: Exhausted,
        error: _Failure | None,
        fail_times: int | None,
        latency: Latency | None,
        strict: bool,
    ) -> FakeAgent:
        self = object.__new__(cls)
        self._fake = fake
        self.name = name
        self.model = model
        self.strict = strict
        self._reply = reply
        self._replies = replies
        self._exhausted = exhausted
        self._error = error
        self._fail_times = fail_times
        self._latency = latency
        self._route_model = None
        self._route_system = None
        self._state = _State()
        # Guards the script state. Reentrant, and never the FakeModel's lock: script callables
        # run under it and may read fake_model.calls or agent.call_count.
        self._lock = threading.RLock()
        return self

    def __repr__(self) -> str:
        return redact_secrets(
            f"<FakeAgent {self.name!r} model={self.model!r} calls={self._state.calls}"
            f" rules={len(self._state.rules)}>"
        )

    # -- scripting --------------------------------------------------------------------------

    def on(
        self,
        match: Matcher,
        *,
        reply: Reply | None = None,
        error: ErrorSpec | None = None,
        latency: Latency | None = None,
        times: int | None = None,
    ) -> FakeAgent:
        """Add a rule: calls whose prompt matches are answered with ``reply`` or ``error``.

        Rules are checked in the order they were added, before everything else the agent was
        given; the first match answers.

        Args:
            match: a substring of the prompt, a compiled ``re.Pattern`` searched in it, or a
                callable ``prompt -> bool``.
            reply: the reply text, or a callable ``prompt -> str``.
            error: a failure instead of a reply (as for :meth:`FakeModel.agent`).
            latency: this rule's latency, overriding the agent's.
            times: answer at most this many calls, then let later steps answer.

        Returns:
            The agent, so rules can be chained.

        Raises:
            ConfigurationError: neither or both of ``reply`` and ``error``, or a bad argument.
        """
        who = f"agent {self.name!r} rule"
        if isinstance(match, str):
            if not match:
                raise ConfigurationError(f"{who}: an empty substring matches every prompt")
        elif not isinstance(match, re.Pattern) and not callable(match):
            raise ConfigurationError(
                f"{who}: `match` must be a str, a compiled re.Pattern or a callable"
                f" prompt -> bool, got {match!r}"
            )
        if (reply is None) == (error is None):
            raise ConfigurationError(f"{who} on {match!r}: give exactly one of reply= or error=")
        if times is not None and (
            isinstance(times, bool) or not isinstance(times, int) or times < 1
        ):
            raise ConfigurationError(f"{who}: `times` must be a positive int, got {times!r}")
        self._state.rules.append(
            _Rule(
                matcher=match,
                reply=None if reply is None else _check_reply(reply, "reply"),
                error=None if error is None else _check_error(error, "error"),
                latency=None if latency is None else _check_latency(latency, "latency"),
                remaining=times,
            )
        )
        return self

    # -- reading ----------------------------------------------------------------------------

    @property
    def calls(self) -> tuple[FakeCall, ...]:
        """This agent's finished calls, in call order."""
        return tuple(c for c in self._fake.calls if c.agent == self.name)

    @property
    def call_count(self) -> int:
        """How many calls were started (finished or not)."""
        return self._state.calls

    # -- calling ----------------------------------------------------------------------------

    async def run(self, prompt: str, *, budget: Budget | None = None) -> FakeReply:
        """Answer ``prompt`` from the script, after the call's latency in (virtual) time.

        Args:
            prompt: the prompt.
            budget: a stage budget (``pool.acquire(...)``) to charge the call's cost and
                tokens to, or ``None``.

        Returns:
            The :class:`FakeReply`.

        Raises:
            ScriptExhausted: ``replies=[...]`` ran out (see ``exhausted=``).
            UnscriptedCall: strict mode and nothing in the script answered.
            BudgetExceeded: the budget cannot afford the call (refused before it is made), or
                the charge broke a cap (the spend is recorded all the same).
            FakeRateLimitError, FakeTimeoutError, FakeServerError, or the exception given
                as ``error=``.
            ConfigurationError: a non-str prompt, or a script callable returned a bad value.
            ScriptMismatch: the script answered with a ToolCall (``run`` offers no tools) or
                structured output that does not fit.
        """
        # A script error points at the caller's line; these frames' locals (the raw prompt,
        # with any secret in it) are not printed with ``-l``.
        __tracebackhide__ = True
        if not isinstance(prompt, str):
            raise ConfigurationError(
                f"FakeModel agent {self.name!r}: the prompt must be a str, got"
                f" {type(prompt).__name__} {prompt!r}"
            )
        request = FakeRequest.from_prompt(prompt, model=self.model)
        return await _drive_async(self._call(request, budget))

    # -- internals --------------------------------------------------------------------------

    def _call(
        self, request: FakeRequest, budget: Budget | None, *, wire: bool = False
    ) -> Generator[float, None, FakeReply]:
        """One call, as a generator that yields the virtual seconds to wait.

        The async driver (:func:`_drive_async`) sleeps them; the sync driver
        (:func:`_drive_sync`, for sync SDK clients) does not. Every model call of every kind
        goes through here, so there is one span builder and one call-log entry per call.
        """
        __tracebackhide__ = True  # (see run): its locals hold the prompt and the request
        fake = self._fake
        tracer = fake.tracer if fake.tracer is not None else default_tracer()
        now = _clock()
        started = now()
        slot = fake._reserve_slot()
        with self._lock:
            self._state.calls += 1
            n = self._state.calls
        model = request.model
        answer: _Answer | None = None
        usd = ZERO
        in_tokens = out_tokens = 0
        source = "?"
        charging = False  # set just before budget.charge: from then on the spend is recorded
        reservation: Reservation | None = None
        error: BaseException | None = None
        prompt = request.prompt
        attributes = request_attributes(
            request,
            agent=self.name,
            provider=request.provider if wire else PROVIDER_NAME,
            wire=wire,
        )
        try:
            with tracer.span(model_call_span_name(model), attributes=attributes) as span:
                try:
                    step = self._choose(request, n)  # synchronous: call order decides
                    step = _mutation.call_step(self.name, n, step, request.tools)  # mutate's switch
                    source = step.source
                    latency_spec = step.latency
                    if latency_spec is None:
                        latency_spec = self._latency
                    if latency_spec is None:
                        latency_spec = fake._default_latency(self.model)
                    latency_spec = _mutation.call_latency(self.name, n, latency_spec)
                    if step.error is not None:
                        raise (yield from self._fail(step.error, latency_spec, n))
                    answer = self._answer(step, request, n)
                    in_tokens = request.count_tokens(fake.count_tokens)
                    out_tokens = answer.output_tokens(fake.count_tokens)
                    usd = fake.price(model).cost(in_tokens, out_tokens)
                    if budget is not None and fake.check_budget:
                        reservation = self._precheck(budget, usd, in_tokens + out_tokens, n, prompt)
                    seconds = self._seconds(latency_spec, out_tokens)
                    span.set_attributes(
                        reply_attributes(
                            text=answer.text,
                            tool_calls=answer.tool_calls,
                            finish_reason=answer.finish_reason,
                            input_tokens=in_tokens,
                            output_tokens=out_tokens,
                            usd=usd,
                            wire=wire,
                        )
                    )
                    if seconds:
                        yield seconds
                    if budget is not None:
                        charging = True
                        label = f"model.call {self.name}"
                        if reservation is not None:
                            reservation.commit(label=label)
                        else:
                            budget.charge(usd, tokens=in_tokens + out_tokens, label=label)
                except BaseException as exc:
                    if reservation is not None and not charging:
                        reservation.cancel()
                    if not charging:  # nothing was spent: say so on the span
                        span.set_attributes(unspent_attributes())
                    span.set_attribute(ERROR_TYPE, type(exc).__qualname__)
                    raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            # One log entry per call, failed or not; a failed call logs its text, tokens and
            # cost only if it was charged (the spend happened).
            spent = error is None or charging
            elapsed = now() - started
            fake._fill_slot(
                slot,
                FakeCall(
                    agent=self.name,
                    model=model,
                    call=n,
                    prompt=prompt,
                    text=answer.text if spent and answer is not None else None,
                    error=error,
                    input_tokens=in_tokens if spent else 0,
                    output_tokens=out_tokens if spent else 0,
                    usd=usd if spent else ZERO,
                    latency=elapsed,
                    t=started,
                    answered_by=source,
                    request=request,
                    tool_calls=answer.tool_calls if spent and answer is not None else (),
                ),
            )
        assert answer is not None
        return FakeReply(
            text=answer.text,
            tokens=in_tokens + out_tokens,
            input_tokens=in_tokens,
            output_tokens=out_tokens,
            usd=usd,
            model=model,
            agent=self.name,
            latency=elapsed,
            call=n,
            tool_calls=answer.tool_calls,
            structured=answer.structured,
            finish_reason=answer.finish_reason,
        )

    def _choose(self, request: FakeRequest, n: int) -> _Step:
        """Pick the script step that answers call ``n`` (see the module notes for the order)."""
        __tracebackhide__ = True  # (see run)
        prompt = request.prompt
        with self._lock:
            state = self._state
            for i, rule in enumerate(state.rules, start=1):
                if rule.remaining == 0 or not rule.matches(request):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                source = f"rule #{i} ({rule.describe()})"
                if rule.error is not None:
                    return _Step(source, error=rule.error, latency=rule.latency)
                assert rule.reply is not None
                return _Step(
                    source, text=self._value(rule.reply, request, source), latency=rule.latency
                )
            if self._error is not None and (
                self._fail_times is None or state.failures < self._fail_times
            ):
                state.failures += 1
                return _Step("error=", error=self._error)
            replies = self._replies
            if replies is not None:
                i = state.reply_index
                if i < len(replies):
                    state.reply_index += 1
                    source = f"replies[{i}]"
                    return _Step(source, text=self._value(replies[i], request, source))
                if self._reply is None:
                    if self._exhausted == "repeat_last":
                        source = f"replies[{len(replies) - 1}] (repeat_last)"
                        return _Step(source, text=self._value(replies[-1], request, source))
                    if self._exhausted == "cycle":
                        j = (i - len(replies)) % len(replies)
                        state.reply_index += 1
                        source = f"replies[{j}] (cycle)"
                        return _Step(source, text=self._value(replies[j], request, source))
                    raise ScriptExhausted(
                        f"FakeModel agent {self.name!r} has no reply left for call #{n}"
                        f" (prompt {_preview(prompt)!r}): its {len(replies)} replies=[...] were"
                        " used by earlier calls; give more replies=[...] or a rule with"
                        " on(...), or pass exhausted='repeat_last' or 'cycle'"
                    )
            if self._reply is not None:
                return _Step("reply=", text=self._value(self._reply, request, "reply="))
            if self.strict:
                raise UnscriptedCall(self._unscripted_message(request, n))
            if request.schema is not None:
                return _Step("default", text=_Structured(example_for_schema(request.schema)))
            return _Step("default", text=f"[{self.name}] reply to: {_preview(prompt)}")

    def _value(self, reply: Reply, request: FakeRequest, source: str) -> ReplyValue:
        """The reply value a script step gives (a callable is called with the request)."""
        if not callable(reply) or isinstance(reply, (ToolCall, type)):
            return reply
        value = reply(request)
        if callable(value) or not _is_reply_value(value):
            raise ConfigurationError(
                f"FakeModel agent {self.name!r}: the {source} callable must return a str (or a"
                " ToolCall, a list of ToolCalls, a dict or a pydantic model), returned"
                f" {type(value).__name__} {value!r}"
            )
        return value

    def _answer(self, step: _Step, request: FakeRequest, n: int) -> _Answer:
        """Turn a reply value into text / tool calls / structured output, checked."""
        value = step.text
        where = f"FakeModel agent {self.name!r} call #{n} ({step.source})"
        if isinstance(value, str):
            if request.schema is not None:
                try:
                    parsed = json.loads(value)
                except ValueError:
                    raise ScriptMismatch(
                        f"{where} replied with text {_preview(value)!r}, but the app asked for"
                        f" structured output ({request.schema_name or 'a JSON schema'}); reply"
                        " with a dict or a pydantic model (or JSON text) that fits the schema"
                    ) from None
                validate_against_schema(parsed, request.schema, what=f"{where}: the reply")
                return _Answer(text=value, structured=parsed)
            return _Answer(text=value)
        calls = _as_tool_calls(value)
        if calls is not None:
            return _Answer(text="", tool_calls=self._check_calls(calls, request, where))
        if isinstance(value, _Structured):
            value = value.value
        data = _structured_data(value)
        if request.schema is not None:
            validate_against_schema(data, request.schema, what=f"{where}: the structured reply")
        return _Answer(text=canonical_json(data), structured=data)

    def _check_calls(
        self, calls: tuple[ToolCall, ...], request: FakeRequest, where: str
    ) -> tuple[ToolCall, ...]:
        if request.api == "run":
            raise ScriptMismatch(
                f"{where} replied with a ToolCall, but agent.run(prompt) offers no tools; tool"
                " calls answer SDK chat requests that offer tools (see docs/providers.md)"
            )
        out = []
        for index, call in enumerate(calls):
            tool = request.tool(call.name)
            if tool is None:
                offered = ", ".join(request.tool_names) or "none"
                raise ScriptMismatch(
                    f"{where} calls tool {call.name!r}, which the app did not offer (offered:"
                    f" {offered}); script a ToolCall for one of the offered tools"
                )
            if tool.parameters:
                validate_against_schema(
                    dict(call.arguments),
                    tool.parameters,
                    what=f"{where}: the arguments of ToolCall({call.name!r})",
                )
            if call.id is None:
                call = ToolCall(
                    call.name, call.arguments, id=self._tool_call_id(call, request, index)
                )
            out.append(call)
        return tuple(out)

    def _tool_call_id(self, call: ToolCall, request: FakeRequest, index: int) -> str:
        """A tool call id from content, not from a counter.

        Concurrent requests can reach the fake in an order decided by threads (openai's async
        client computes its platform headers in a worker thread on its first requests), so a
        counter would make ids, and the snapshots quoting them, differ between runs. Unique
        within a conversation: the agent, the conversation's length and last user text, the
        call and its place in the reply go into the hash.
        """
        key = canonical_json(
            [
                self.name,
                len(request.messages),
                request.prompt,
                call.name,
                dict(call.arguments),
                index,
            ]
        )
        return "call_" + hashlib.sha256(key.encode()).hexdigest()[:16]

    def _unscripted_message(self, prompt: str, n: int) -> str:
        lines = [
            f"FakeModel agent {self.name!r} (strict) has no script for call #{n} with prompt"
            f" {_preview(prompt, 80)!r}."
        ]
        rules = self._state.rules
        if rules:
            lines.append(f"None of its {len(rules)} rule(s) matched:")
            for i, rule in enumerate(rules, start=1):
                used = " (used up)" if rule.remaining == 0 else ""
                lines.append(f"  rule #{i}: {rule.describe()}{used}")
        else:
            lines.append("It has no rules.")
        if isinstance(prompt, FakeRequest) and prompt.api != "run":
            lines.append("The request: " + prompt.describe())
        lines.append(
            "Add a rule with agent.on('<part of the prompt>', reply=...), give the agent"
            " reply=... or replies=[...], or create the FakeModel with strict=False to get"
            " a default reply."
        )
        return "\n".join(lines)

    def _fail(
        self, spec: _Failure, latency: Latency, n: int
    ) -> Generator[float, None, BaseException]:
        """Wait as the failure requires (by yielding seconds) and return the exception."""
        where = f"FakeModel agent {self.name!r} (call #{n})"
        if isinstance(spec, RateLimit):
            return FakeRateLimitError(
                f"{where} was rate limited (injected by the script); retry after"
                f" {spec.retry_after:g}s",
                retry_after=spec.retry_after,
            )
        if isinstance(spec, Timeout):
            seconds = spec.after if spec.after is not None else self._seconds(latency, 0)
            if seconds:
                yield seconds
            return FakeTimeoutError(
                f"{where} timed out after {seconds:g}s (injected by the script)"
            )
        seconds = self._seconds(latency, 0)
        if seconds:
            yield seconds
        if isinstance(spec, ServerError):
            what = "is overloaded" if spec.status == 529 else "had a server error"
            return FakeServerError(
                f"{where} {what} (HTTP {spec.status}, injected by the script)",
                status=spec.status,
                retry_after=spec.retry_after,
            )
        if isinstance(spec, BaseException):
            try:
                return copy.copy(spec)  # a fresh object: tracebacks must not pile up
            except Exception:
                return spec
        try:
            return spec(f"{where}: injected {spec.__name__}")
        except Exception as exc:
            raise ConfigurationError(
                f"{where}: cannot create the injected {spec.__qualname__} with a message"
                f" ({exc}); pass an exception instance as error= instead"
            ) from exc

    def _seconds(self, latency: Latency, output_tokens: int) -> float:
        if not callable(latency):
            return float(latency)
        value = latency(output_tokens)
        try:
            return check_seconds(value, "latency")
        except ConfigurationError:
            raise ConfigurationError(
                f"FakeModel agent {self.name!r}: the latency callable returned {value!r} for"
                f" {output_tokens} output tokens; it must return finite, non-negative seconds"
            ) from None

    def _precheck(
        self, budget: Budget, usd: Decimal, tokens: int, n: int, prompt: str
    ) -> Reservation | None:
        """Refuse a call the budget cannot afford; hold its cost on a StageBudget (atomic)."""
        reservation: Reservation | None = None
        if isinstance(budget, StageBudget):
            reservation = budget.reserve(usd, tokens=tokens)
            if reservation is not None:
                return reservation
        else:
            can_afford = getattr(budget, "can_afford", None)
            if not callable(can_afford) or can_afford(usd, tokens=tokens):
                return None
        left = getattr(budget, "remaining_usd", None)
        detail = f" (it has {format_usd(left)} left)" if isinstance(left, Decimal) else ""
        name = getattr(budget, "name", None)
        which = f"budget {name!r}" if isinstance(name, str) else "the budget"
        raise BudgetExceeded(
            f"FakeModel agent {self.name!r} call #{n} (prompt {_preview(prompt)!r}) would cost"
            f" {format_usd(usd)} for {tokens} tokens, more than {which} can afford{detail};"
            " the call was not made and nothing was spent. Acquire the stage with a larger"
            " max_usd= (or max_tokens=), give the pool more, or check_budget=False on the"
            " FakeModel to make the call and let the charge be refused"
        )

    def _routes(self, request: FakeRequest) -> bool:
        """Whether this agent claims an SDK request (its ``model=``/``system=`` match)."""
        if self._route_model is None and self._route_system is None:
            return False
        m = self._route_model
        if m is not None:
            if isinstance(m, re.Pattern):
                if m.search(request.model) is None:
                    return False
            elif not is_variant_of(request.model, m):
                return False
        s = self._route_system
        if s is not None:
            system = request.system or ""
            if isinstance(s, re.Pattern):
                return s.search(system) is not None
            return s in system
        return True

    def describe_route(self) -> str:
        """How this agent claims SDK calls, for messages."""
        parts = []
        if isinstance(self._route_model, re.Pattern):
            parts.append(f"model regex {self._route_model.pattern!r}")
        elif self._route_model is not None:
            parts.append(f"model {self._route_model!r}")
        if isinstance(self._route_system, re.Pattern):
            parts.append(f"system regex {self._route_system.pattern!r}")
        elif self._route_system is not None:
            parts.append(f"system containing {self._route_system!r}")
        return " and ".join(parts) or "no model=/system= (answers agent.run only)"


# -- drivers, answers and attributes ------------------------------------------------------


async def _drive_async(call: Generator[float, None, FakeReply]) -> FakeReply:
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


def _drive_sync(call: Generator[float, None, FakeReply]) -> FakeReply:
    """Run a call without waiting: a sync client blocks the thread the loop advances on."""
    __tracebackhide__ = True  # as in _drive_async
    while True:
        try:
            call.send(None)
        except StopIteration as stop:
            result: FakeReply = stop.value
            return result


def _clock() -> Callable[[], float]:
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


@dataclass(frozen=True, slots=True)
class _Structured:
    """A structured reply produced by FakeModel itself (the default for a schema)."""

    value: object


@dataclass(frozen=True, slots=True)
class _Answer:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    structured: object = None

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"

    def output_tokens(self, count: Callable[[str], int]) -> int:
        total = count(self.text)
        for call in self.tool_calls:
            total += count(call.name) + count(call.arguments_json)
        return total


def _as_tool_calls(value: object) -> tuple[ToolCall, ...] | None:
    if isinstance(value, ToolCall):
        return (value,)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, ToolCall) for v in value):
        return tuple(value)
    return None


def _structured_data(value: object) -> object:
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        return dump(mode="json")
    return value


def _is_reply_value(value: object) -> bool:
    if isinstance(value, (str, ToolCall, Mapping, list, tuple, _Structured)):
        return True
    return callable(getattr(value, "model_dump", None)) and not isinstance(value, type)
