"""Recovery patterns: retry, fall back, degrade — agent wrappers that keep a run going.

Each function wraps an agent and returns an agent (``async run(prompt, *, budget=None)``), so a
recovering agent drops into any pattern — a pipeline stage, a broadcast member, a supervisor's
worker — unchanged::

    from agentrig.patterns import degrade, run_pipeline, with_fallback, with_retry

    research = with_retry(research_agent, attempts=3, backoff=2.0)       # transient errors
    research = with_fallback(research, cheap_research_agent)              # then another agent
    draft = degrade(draft_agent, fallback="(draft skipped: no budget)",   # or a cheaper answer
                    needs_usd=0.02)
    await run_pipeline([("research", research, 0.04), ("draft", draft, 0.04)], q, pool=pool)

* :func:`with_retry` — retries transient failures (timeouts, rate limits, connection errors)
  with exponential backoff and *seeded* jitter, sleeping on the running loop's clock (virtual
  under agentrig, so a 30 s backoff costs nothing in a test) and never less than a rate limit's
  ``retry_after``. The jitter comes from a ``random.Random`` seeded with ``seed=`` (default: a
  hash of the agent's name), never from the global ``random``, so every run waits the same.
* :func:`with_fallback` — the next agent when one fails, including on
  :class:`~agentrig.BudgetExceeded` / :class:`~agentrig.BudgetExhausted` (it was too expensive)
  and :class:`~agentrig.DeadlineExceeded` (it was too slow, e.g. cut by ``timeout=``).
* :func:`degrade` — a cheaper agent or a cached answer when the budget or the deadline cannot
  cover the full path: checked *before* the call (``needs_usd=`` / ``needs_seconds=``), and
  again when the full path fails with a budget or timeout error.

What lands in the recording: a span per wrapper (``retry``, ``fallback``, ``degrade``, with
``agentrig.pattern``) around a span per attempt, inside which the agent's own spans nest; and
decisions — ``retry_scheduled`` / ``retry_recovered`` / ``retry_gave_up``, ``fallback_used`` /
``fallback_exhausted``, ``degraded`` — each naming the agent, the error and what was done.
A cancellation (an outer deadline expiring, a task being cancelled) is never "recovered": it
passes through every wrapper untouched.
"""

from __future__ import annotations

import asyncio
import math
import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, TypeAlias

from agentrig._errors import (
    BudgetError,
    ConfigurationError,
    DeadlineExceeded,
    FakeRateLimitError,
    FakeTimeoutError,
)
from agentrig._types import Agent, AgentReply, Budget, Money
from agentrig.checks import check_number, check_seconds
from agentrig.deadline import Deadline
from agentrig.decisions import DecisionLog
from agentrig.money import parse_usd
from agentrig.patterns._common import (
    agent_name,
    check_agent,
    check_reply,
    error_fields,
    resolve_log,
    resolve_tracer,
)
from agentrig.tracing import Tracer
from agentrig.vocabulary import (
    AGENTRIG_ANSWERED_BY,
    AGENTRIG_ATTEMPT,
    AGENTRIG_ATTEMPTS,
    AGENTRIG_CHAIN,
    AGENTRIG_DEGRADE_REASON,
    AGENTRIG_DEGRADED,
    AGENTRIG_OK,
    AGENTRIG_PATTERN,
    GEN_AI_AGENT_NAME,
)

__all__ = [
    "CachedReply",
    "DegradingAgent",
    "FallbackAgent",
    "RetryOn",
    "RetryingAgent",
    "default_retry_on",
    "degrade",
    "with_fallback",
    "with_retry",
]

#: What to retry (or fall back on): exception classes, or a predicate on the exception.
RetryOn: TypeAlias = (
    "type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]"
)
#: A cached answer: a fixed text, or a function of the prompt returning it.
CachedAnswer: TypeAlias = "str | Callable[[str], str]"
DegradeReason = Literal["budget", "deadline", "budget_error", "timeout", "error"]

# HTTP statuses a provider returns for a transient problem (SDK errors carry status_code).
_TRANSIENT_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


def default_retry_on(exc: BaseException) -> bool:
    """The default retry test: a transient failure, worth another try.

    True for timeouts (:class:`~agentrig.FakeTimeoutError`, any ``TimeoutError`` that is not
    an expired :class:`~agentrig.Deadline`), rate limits (:class:`~agentrig.FakeRateLimitError`,
    anything with a ``retry_after``), ``ConnectionError``, and provider errors whose
    ``status_code`` is 408, 409, 429, 5xx or 529. False for everything else: a budget error, a
    bad request, a script problem would fail again the same way.
    """
    if isinstance(exc, (DeadlineExceeded, BudgetError)):
        return False
    if isinstance(exc, (FakeTimeoutError, FakeRateLimitError, TimeoutError, ConnectionError)):
        return True
    if _retry_after(exc) is not None:
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and status in _TRANSIENT_STATUS


def _retry_after(exc: BaseException) -> float | None:
    value = getattr(exc, "retry_after", None)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _predicate(value: object, param: str) -> Callable[[BaseException], bool]:
    if isinstance(value, type) and issubclass(value, BaseException):
        return lambda exc: isinstance(exc, value)
    if (
        isinstance(value, tuple)
        and value
        and all(isinstance(t, type) and issubclass(t, BaseException) for t in value)
    ):
        return lambda exc: isinstance(exc, value)
    if callable(value):
        return value
    raise ConfigurationError(
        f"`{param}` must be an exception class, a non-empty tuple of them, or a callable"
        f" exception -> bool, got {value!r}"
    )


def _seed_for(name: str) -> int:
    """A seed that depends only on the name: crc32 is stable (``hash()`` is salted per run)."""
    return zlib.crc32(name.encode("utf-8"))


def _check_deadline(deadline: object, param: str = "deadline") -> Deadline | None:
    if deadline is None or isinstance(deadline, Deadline):
        return deadline
    raise ConfigurationError(f"`{param}` must be a Deadline or None, got {deadline!r}")


# -- retry --------------------------------------------------------------------------------


class RetryingAgent:
    """An agent that retries another one; made by :func:`with_retry`.

    Attributes:
        agent: the wrapped agent.
        name: the wrapped agent's name (spans and decisions use it).
        attempts: the most attempts per call (the first one included).
        seed: the jitter's seed.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        name: str,
        attempts: int,
        backoff: float,
        multiplier: float,
        max_backoff: float,
        jitter: float,
        retry_on: Callable[[BaseException], bool],
        seed: int,
        deadline: Deadline | None,
        tracer: Tracer | None,
        log: DecisionLog | None,
    ) -> None:
        self.agent = agent
        self.name = name
        self.attempts = attempts
        self.seed = seed
        self._backoff = backoff
        self._multiplier = multiplier
        self._max_backoff = max_backoff
        self._jitter = jitter
        self._retry_on = retry_on
        self._deadline = deadline
        self._tracer = tracer
        self._log = resolve_log(log, "retry")
        self._random = random.Random(seed)

    def __repr__(self) -> str:
        return f"<RetryingAgent {self.name!r} attempts={self.attempts} seed={self.seed}>"

    def delay(self, attempt: int, error: BaseException | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based); draws from the jitter.

        ``backoff * multiplier ** (attempt - 1)``, capped at ``max_backoff``, times a factor in
        ``[1 - jitter, 1 + jitter]``, and never less than the error's ``retry_after``.
        """
        base = min(self._max_backoff, self._backoff * self._multiplier ** (attempt - 1))
        seconds = base * (1 + self._jitter * (2 * self._random.random() - 1))
        floor = _retry_after(error) if error is not None else None
        if floor is not None:
            seconds = max(seconds, floor)
        return round(seconds, 6)  # a stable number in snapshots and decisions

    async def run(self, prompt: str, *, budget: Budget | None = None) -> AgentReply:
        """Run the wrapped agent, retrying transient failures (see :func:`with_retry`)."""
        tracer = resolve_tracer(self._tracer)
        log = self._log
        attributes = {AGENTRIG_PATTERN: "retry", GEN_AI_AGENT_NAME: self.name}
        with tracer.span("retry", attributes=attributes) as span:
            attempt = 0
            while True:
                attempt += 1
                try:
                    with tracer.span("attempt", attributes={AGENTRIG_ATTEMPT: attempt}):
                        raw = await self.agent.run(prompt, budget=budget)
                        reply = check_reply(raw, f"agent {self.name!r}")
                except Exception as exc:
                    reason = self._give_up_reason(exc, attempt)
                    wait = 0.0
                    if reason is None:
                        wait = self.delay(attempt, exc)
                        if self._deadline is not None and self._deadline.remaining() < wait:
                            reason = "deadline"
                    if reason is not None:
                        log.record(
                            "retry_gave_up",
                            agent=self.name,
                            attempts=attempt,
                            reason=reason,
                            **error_fields(exc),
                        )
                        span.set_attributes({AGENTRIG_ATTEMPTS: attempt, AGENTRIG_OK: False})
                        raise
                    log.record(
                        "retry_scheduled",
                        agent=self.name,
                        attempt=attempt,
                        delay=wait,
                        **error_fields(exc),
                    )
                    await asyncio.sleep(wait)
                    continue
                if attempt > 1:
                    log.record("retry_recovered", agent=self.name, attempts=attempt)
                span.set_attributes({AGENTRIG_ATTEMPTS: attempt, AGENTRIG_OK: True})
                return reply

    def _give_up_reason(self, exc: BaseException, attempt: int) -> str | None:
        if not self._retry_on(exc):
            return "not_retryable"
        if attempt >= self.attempts:
            return "attempts"
        return None


def with_retry(
    agent: Agent,
    *,
    attempts: int = 3,
    backoff: float = 1.0,
    multiplier: float = 2.0,
    max_backoff: float = 60.0,
    jitter: float = 0.1,
    retry_on: RetryOn | None = None,
    seed: int | None = None,
    deadline: Deadline | None = None,
    name: str | None = None,
    tracer: Tracer | None = None,
    log: DecisionLog | None = None,
) -> RetryingAgent:
    """Wrap ``agent`` so that a transient failure is retried with exponential backoff.

    After failed attempt *k* it waits ``min(max_backoff, backoff * multiplier ** (k - 1))``
    seconds, spread by ``±jitter`` (a fraction) from a ``random.Random(seed)``, and never less
    than the error's ``retry_after`` (a rate limit's "come back in 20 s"). The wait is an
    ``asyncio.sleep`` on the running loop: virtual under agentrig. Every attempt gets the same
    ``budget=`` (a failed fake call costs nothing).

    Args:
        agent: the agent to retry.
        attempts: the most attempts per call, the first included (>= 1).
        backoff: seconds before the second attempt (>= 0).
        multiplier: growth of the wait per attempt (>= 1).
        max_backoff: the longest wait (>= 0), before jitter.
        jitter: the spread of each wait, a fraction in ``[0, 1]`` (0: exact waits).
        retry_on: what is retried — exception classes or a predicate; default
            :func:`default_retry_on` (timeouts, rate limits, connection and 5xx errors).
        seed: the jitter's seed; default a stable hash (crc32) of the agent's name, so two
            runs, processes or machines wait exactly the same.
        deadline: a :class:`~agentrig.Deadline` the retries must fit in: when the next wait
            would end past it, the wrapper gives up at once instead of sleeping in vain.
        name: the name in spans and decisions; default the agent's ``name``.
        tracer: the tracer for the spans; default :func:`agentrig.tracing.default_tracer`.
        log: where decisions go; default a memory-only log named ``"retry"``.

    Returns:
        A :class:`RetryingAgent`; its ``run`` returns the first successful reply, or raises
        the last error once it gives up (a non-retryable error at once).

    Raises:
        ConfigurationError: a bad argument (the message names it).
    """
    check_agent(agent, "the agent to retry")
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ConfigurationError(f"`attempts` must be an int >= 1, got {attempts!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigurationError(f"`seed` must be an int or None, got {seed!r}")
    jitter_value = check_number(jitter, "jitter")
    if jitter_value > 1:
        raise ConfigurationError(f"`jitter` is a fraction in [0, 1], got {jitter!r}")
    who = name if name is not None else agent_name(agent, "agent")
    return RetryingAgent(
        agent,
        name=who,
        attempts=attempts,
        backoff=check_number(backoff, "backoff"),
        multiplier=check_number(multiplier, "multiplier", minimum=1.0),
        max_backoff=check_number(max_backoff, "max_backoff"),
        jitter=jitter_value,
        retry_on=default_retry_on if retry_on is None else _predicate(retry_on, "retry_on"),
        seed=_seed_for(who) if seed is None else seed,
        deadline=_check_deadline(deadline),
        tracer=tracer,
        log=log,
    )


# -- fallback -----------------------------------------------------------------------------


def _default_fallback_on(exc: BaseException) -> bool:
    return isinstance(exc, Exception)


class FallbackAgent:
    """An agent that tries agents in order until one answers; made by :func:`with_fallback`.

    Attributes:
        agents: the primary, then the fallbacks, in order.
        name: the primary's name.
    """

    def __init__(
        self,
        agents: Sequence[Agent],
        names: Sequence[str],
        *,
        name: str,
        on: Callable[[BaseException], bool],
        timeout: float | None,
        tracer: Tracer | None,
        log: DecisionLog | None,
    ) -> None:
        self.agents = tuple(agents)
        self.name = name
        self._names = tuple(names)
        self._on = on
        self._timeout = timeout
        self._tracer = tracer
        self._log = resolve_log(log, "fallback")

    def __repr__(self) -> str:
        return f"<FallbackAgent {self.name!r} chain={list(self._names)}>"

    async def _one(self, agent: Agent, who: str, prompt: str, budget: Budget | None) -> Any:
        if self._timeout is None:
            return await agent.run(prompt, budget=budget)
        async with Deadline(self._timeout, name=f"{who} timeout"):
            return await agent.run(prompt, budget=budget)

    async def run(self, prompt: str, *, budget: Budget | None = None) -> AgentReply:
        """Run the agents in order; the first reply wins (see :func:`with_fallback`)."""
        tracer = resolve_tracer(self._tracer)
        log = self._log
        attributes = {
            AGENTRIG_PATTERN: "fallback",
            GEN_AI_AGENT_NAME: self.name,
            AGENTRIG_CHAIN: list(self._names),
        }
        errors: list[tuple[str, Exception]] = []
        with tracer.span("fallback", attributes=attributes) as span:
            for i, (agent, who) in enumerate(zip(self.agents, self._names, strict=True)):
                try:
                    with tracer.span(who, attributes={GEN_AI_AGENT_NAME: who}):
                        reply = check_reply(await self._one(agent, who, prompt, budget), who)
                except Exception as exc:
                    if not self._on(exc):
                        raise
                    errors.append((who, exc))
                    if i + 1 < len(self.agents):
                        log.record(
                            "fallback_used",
                            agent=who,
                            to=self._names[i + 1],
                            **error_fields(exc),
                        )
                        continue
                    log.record(
                        "fallback_exhausted",
                        agents=list(self._names),
                        errors=[f"{n}: {type(e).__qualname__}" for n, e in errors],
                    )
                    span.set_attributes({AGENTRIG_ANSWERED_BY: None})
                    raise
                span.set_attributes({AGENTRIG_ANSWERED_BY: who})
                return reply
        raise AssertionError("bug in agentrig, please report: empty fallback chain")


def with_fallback(
    primary: Agent,
    *fallbacks: Agent,
    on: RetryOn | None = None,
    timeout: float | None = None,
    name: str | None = None,
    tracer: Tracer | None = None,
    log: DecisionLog | None = None,
) -> FallbackAgent:
    """Wrap ``primary`` so that when it fails, the next of ``fallbacks`` answers instead.

    A failure is any ``Exception`` (by default): an injected or real model error, a
    :class:`~agentrig.BudgetExceeded` (the primary's call would break the stage's cap — a
    cheaper fallback may fit), :class:`~agentrig.BudgetExhausted`, or
    :class:`~agentrig.DeadlineExceeded` (with ``timeout=``, an agent that takes longer is cut
    off). Every agent gets the same prompt and ``budget=``. Cancellation passes through.

    Args:
        primary: the agent tried first.
        *fallbacks: the agents tried next, in order (at least one).
        on: which failures move on to the next agent — exception classes or a predicate;
            default every ``Exception``. Others propagate at once.
        timeout: seconds each agent may take (virtual under agentrig), or ``None``.
        name: the name in spans and decisions; default the primary's ``name``.
        tracer: the tracer for the spans; default :func:`agentrig.tracing.default_tracer`.
        log: where decisions go; default a memory-only log named ``"fallback"``.

    Returns:
        A :class:`FallbackAgent`. Its ``run`` returns the first reply; when every agent
        failed it records ``fallback_exhausted`` and re-raises the *last* agent's error (so a
        budget error still halts a pipeline cleanly, a timeout still reads as a timeout).

    Raises:
        ConfigurationError: no fallback, duplicate names, or a bad argument.
    """
    chain = [check_agent(primary, "the primary agent")]
    chain += [check_agent(a, f"fallback #{i + 1}") for i, a in enumerate(fallbacks)]
    if len(chain) < 2:
        raise ConfigurationError(
            "with_fallback needs at least one fallback agent: with_fallback(primary, cheaper)"
        )
    names = [agent_name(a, f"agent_{i + 1}") for i, a in enumerate(chain)]
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            names[i] = f"{n}#{i + 1}"  # the same agent twice (retry it once more) is fine
        seen.add(names[i])
    if timeout is not None:
        Deadline(timeout)  # validates: a number of seconds, finite, non-negative
    return FallbackAgent(
        chain,
        names,
        name=name if name is not None else names[0],
        on=_default_fallback_on if on is None else _predicate(on, "on"),
        timeout=timeout,
        tracer=tracer,
        log=log,
    )


# -- degrade ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CachedReply:
    """A cached (canned) answer given by :func:`degrade` instead of a model call.

    Attributes:
        text: the answer.
        tokens: always 0: no model was called.
        usd: always 0.
        agent: the degraded agent's name.
        degraded: always True, so a caller can tell a cached answer from a model's.
    """

    text: str
    agent: str
    tokens: int = 0
    usd: Decimal = Decimal(0)
    degraded: bool = True

    def __str__(self) -> str:
        return self.text


def _budget_left(budget: Budget | None) -> Decimal | None:
    left = getattr(budget, "remaining_usd", None)
    return left if isinstance(left, Decimal) else None


class DegradingAgent:
    """An agent with a cheaper path for when the full one cannot be afforded; see :func:`degrade`.

    Attributes:
        agent: the full path.
        fallback: the cheaper agent, or the cached answer (a str or a callable).
        name: the full agent's name.
        degraded: how many calls took the cheaper path so far.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        fallback: Agent | CachedAnswer,
        name: str,
        needs_usd: Decimal | None,
        needs_seconds: float | None,
        deadline: Deadline | None,
        on: Callable[[BaseException], bool] | None,
        tracer: Tracer | None,
        log: DecisionLog | None,
    ) -> None:
        self.agent = agent
        self.fallback = fallback
        self.name = name
        self.degraded = 0
        self._needs_usd = needs_usd
        self._needs_seconds = needs_seconds
        self._deadline = deadline
        self._on = on
        self._tracer = tracer
        self._log = resolve_log(log, "degrade")
        is_agent = callable(getattr(fallback, "run", None))
        self._cheap_name = agent_name(fallback, "fallback") if is_agent else "cache"

    def __repr__(self) -> str:
        return f"<DegradingAgent {self.name!r} fallback={self._cheap_name!r}>"

    def _reason_before(self, budget: Budget | None) -> tuple[DegradeReason, dict[str, Any]] | None:
        if self._needs_usd is not None:
            left = _budget_left(budget)
            if left is not None and left < self._needs_usd:
                return "budget", {"needs_usd": float(self._needs_usd), "left_usd": float(left)}
        if self._needs_seconds is not None and self._deadline is not None:
            left_s = self._deadline.remaining()
            if left_s < self._needs_seconds:
                return "deadline", {"needs_seconds": self._needs_seconds, "left_seconds": left_s}
        return None

    async def run(self, prompt: str, *, budget: Budget | None = None) -> AgentReply:
        """The full path if the budget and deadline cover it, else the cheaper one."""
        tracer = resolve_tracer(self._tracer)
        attributes = {AGENTRIG_PATTERN: "degrade", GEN_AI_AGENT_NAME: self.name}
        with tracer.span("degrade", attributes=attributes) as span:
            before = self._reason_before(budget)
            if before is None:
                try:
                    with tracer.span(self.name, attributes={GEN_AI_AGENT_NAME: self.name}):
                        raw = await self.agent.run(prompt, budget=budget)
                        reply = check_reply(raw, f"agent {self.name!r}")
                except Exception as exc:
                    matched = self._on(exc) if self._on is not None else None
                    reason: DegradeReason | None = None
                    if isinstance(exc, BudgetError):
                        reason = "budget_error"
                    elif isinstance(exc, TimeoutError):
                        reason = "timeout"
                    elif matched:
                        reason = "error"
                    if matched is False or reason is None:
                        raise
                    before = (reason, error_fields(exc))
                else:
                    span.set_attributes({AGENTRIG_DEGRADED: False})
                    return reply
            why, details = before
            self.degraded += 1
            self._log.record(
                "degraded", agent=self.name, reason=why, to=self._cheap_name, **details
            )
            span.set_attributes({AGENTRIG_DEGRADED: True, AGENTRIG_DEGRADE_REASON: why})
            return await self._cheap(prompt, budget, tracer)

    async def _cheap(self, prompt: str, budget: Budget | None, tracer: Tracer) -> AgentReply:
        fallback = self.fallback
        if callable(getattr(fallback, "run", None)):
            cheap: Agent = fallback  # type: ignore[assignment]
            with tracer.span(self._cheap_name, attributes={GEN_AI_AGENT_NAME: self._cheap_name}):
                return check_reply(await cheap.run(prompt, budget=budget), self._cheap_name)
        text = fallback if isinstance(fallback, str) else fallback(prompt)  # type: ignore[operator]
        if not isinstance(text, str):
            raise ConfigurationError(
                f"degrade({self.name!r}): the cached-answer callable must return a str,"
                f" returned {text!r}"
            )
        return CachedReply(text=text, agent=self.name)


def degrade(
    agent: Agent,
    *,
    fallback: Agent | CachedAnswer,
    needs_usd: Money | None = None,
    needs_seconds: float | None = None,
    deadline: Deadline | None = None,
    on: RetryOn | None = None,
    name: str | None = None,
    tracer: Tracer | None = None,
    log: DecisionLog | None = None,
) -> DegradingAgent:
    """Wrap ``agent`` with a cheaper path for when the full one cannot be covered.

    Before the call: if the ``budget=`` it is given has less than ``needs_usd`` left, or
    ``deadline`` has less than ``needs_seconds`` left, the full agent is not called at all.
    During the call: if it fails with a budget error (:class:`~agentrig.BudgetExceeded`,
    :class:`~agentrig.BudgetExhausted`) or a ``TimeoutError`` (an injected model timeout, an
    inner :class:`~agentrig.DeadlineExceeded`), the cheaper path answers instead. Either way a
    ``degraded`` decision records why (``reason``: ``"budget"``, ``"deadline"``,
    ``"budget_error"``, ``"timeout"``), what was left and what answered.

    Args:
        agent: the full (expensive, slow) path.
        fallback: the cheaper path: another agent (run with the same prompt and budget), or a
            cached answer — a str, or a callable ``prompt -> str`` — returned as a
            :class:`CachedReply` (0 tokens, $0, ``degraded=True``).
        needs_usd: what the full path needs from its budget; checked against the budget's
            ``remaining_usd`` (a stage budget has it).
        needs_seconds: how long the full path needs; checked against ``deadline``.
        deadline: the :class:`~agentrig.Deadline` the call must finish within (required with
            ``needs_seconds``).
        on: which failures of the full path degrade — exception classes or a predicate;
            default budget errors and timeouts. Others propagate.
        name: the name in spans and decisions; default the agent's ``name``.
        tracer: the tracer for the spans; default :func:`agentrig.tracing.default_tracer`.
        log: where decisions go; default a memory-only log named ``"degrade"``.

    Returns:
        A :class:`DegradingAgent`.

    Raises:
        ConfigurationError: a bad argument, or ``needs_seconds`` without ``deadline``.
    """
    check_agent(agent, "the agent to degrade")
    has_run = callable(getattr(fallback, "run", None))
    if not (has_run or isinstance(fallback, str) or callable(fallback)):
        raise ConfigurationError(
            "`fallback` must be an agent, a cached answer (str) or a callable prompt -> str,"
            f" got {fallback!r}"
        )
    usd = None if needs_usd is None else parse_usd(needs_usd, "needs_usd")
    seconds = None if needs_seconds is None else check_seconds(needs_seconds, "needs_seconds")
    checked = _check_deadline(deadline)
    if seconds is not None and checked is None:
        raise ConfigurationError(
            "`needs_seconds` is checked against a deadline: pass deadline=Deadline(...) too"
        )
    return DegradingAgent(
        agent,
        fallback=fallback,
        name=name if name is not None else agent_name(agent, "agent"),
        needs_usd=usd,
        needs_seconds=seconds,
        deadline=checked,
        on=None if on is None else _predicate(on, "on"),
        tracer=tracer,
        log=log,
    )
