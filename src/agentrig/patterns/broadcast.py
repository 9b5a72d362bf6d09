"""The broadcast pattern: the same input to N agents at once, the survivors synthesized.

Usage::

    from agentrig.patterns import run_broadcast

    result = await run_broadcast(
        {"forums": forums_agent, "papers": papers_agent, "news": news_agent},
        "What changed in battery recycling this year?",
        aggregator=editor_agent,
        timeout=30,                       # per agent, in (virtual) seconds
    )
    result.output                         # the aggregator's synthesis
    result.succeeded, result.failed       # names, in the declared order

What it does:

* runs every agent on ``input`` concurrently with ``asyncio.gather(..., return_exceptions=True)``,
  each in an ``"invoke_agent {agent}"`` span (``gen_ai.agent.name``), optionally under a per-agent
  ``timeout`` (a :class:`~agentrig.Deadline`: a late agent is cancelled and counts as failed
  with :class:`~agentrig.DeadlineExceeded`);
* goes through the results **in the declared order** (never completion order, so concurrency
  cannot reorder a snapshot): each failure becomes an ``"agent_failed"`` event on the
  ``"invoke_workflow broadcast"`` span and an ``agent_failed`` decision (``agent``, ``error_type``,
  ``message``);
* if every agent failed, records ``broadcast_failed`` and raises
  :class:`~agentrig.AllAgentsFailed` listing each agent's error (chained from an
  ``ExceptionGroup`` of them);
* otherwise gives the survivors' texts, in declared order, to the ``aggregator`` (in an
  ``"invoke_agent {aggregator}"`` span with ``agentrig.step="aggregate"``) and records
  ``broadcast_complete`` (``succeeded``, ``failed``, ``synthesized``). If the aggregator itself
  fails, ``aggregate_failed`` is recorded and its exception propagates.

Budgets: ``budget=`` is passed to every call as is; or ``pool=`` with ``max_usd=`` gives every
call (agents and aggregator) its own stage of the pool, named after the agent, capped at
``max_usd``. A stage the pool cannot grant makes that agent fail like any other error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from agentrig._errors import AllAgentsFailed, ConfigurationError
from agentrig._types import Agent, AgentReply, Budget, Money
from agentrig.budget import BudgetPool
from agentrig.deadline import Deadline
from agentrig.decisions import DecisionLog
from agentrig.mutate import hook as _mutation
from agentrig.patterns._common import (
    agent_name,
    agent_span,
    budget_for,
    check_agent,
    check_budgeting,
    check_reply,
    error_fields,
    resolve_log,
    resolve_tracer,
    unique_names,
    workflow_span,
)
from agentrig.tracing import Tracer
from agentrig.vocabulary import (
    AGENTRIG_AGENTS,
    AGENTRIG_STEP,
)

__all__ = ["AgentResponse", "BroadcastResult", "run_broadcast"]


@dataclass(frozen=True, slots=True)
class AgentResponse:
    """What one agent of a broadcast returned, or how it failed.

    Attributes:
        name: the agent's name.
        reply: its reply, or ``None`` if it failed.
        error: the exception it failed with, or ``None``.
    """

    name: str
    reply: AgentReply | None
    error: Exception | None

    @property
    def ok(self) -> bool:
        """Whether the agent returned a reply."""
        return self.error is None

    @property
    def text(self) -> str | None:
        """The reply text, or ``None`` for a failure."""
        return None if self.reply is None else self.reply.text

    @property
    def tokens(self) -> int:
        """The reply's tokens (0 for a failure)."""
        return 0 if self.reply is None else self.reply.tokens


@dataclass(frozen=True, slots=True)
class BroadcastResult:
    """The outcome of :func:`run_broadcast`.

    Attributes:
        input: what every agent was given.
        responses: one per agent, in the declared order.
        output: the aggregator's text; ``None`` without an aggregator.
        aggregate: the aggregator's reply object, or ``None``.
    """

    input: str
    responses: tuple[AgentResponse, ...]
    output: str | None
    aggregate: AgentReply | None

    @property
    def survivors(self) -> tuple[AgentResponse, ...]:
        """The responses of the agents that succeeded, in declared order."""
        return tuple(r for r in self.responses if r.ok)

    @property
    def succeeded(self) -> tuple[str, ...]:
        """Names of the agents that succeeded, in declared order."""
        return tuple(r.name for r in self.responses if r.ok)

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the agents that failed, in declared order."""
        return tuple(r.name for r in self.responses if not r.ok)

    @property
    def tokens(self) -> int:
        """Tokens of every reply, the aggregator's included."""
        extra = 0 if self.aggregate is None else self.aggregate.tokens
        return sum(r.tokens for r in self.responses) + extra

    def __getitem__(self, name: str) -> AgentResponse:
        """The response of the agent named ``name``."""
        for response in self.responses:
            if response.name == name:
                return response
        raise KeyError(f"no agent named {name!r}; agents: {[r.name for r in self.responses]}")


def default_synthesis_prompt(input: str, survivors: Sequence[AgentResponse]) -> str:
    """The aggregator's default prompt: the input, then each survivor's text under its name."""
    parts = [input, "", f"Synthesize these {len(survivors)} responses into one answer:"]
    parts += [f"[{r.name}] {r.text}" for r in survivors]
    return "\n".join(parts)


def _named_agents(agents: object) -> list[tuple[str, Agent]]:
    if isinstance(agents, Mapping):
        pairs = []
        for key, agent in agents.items():
            if not isinstance(key, str) or not key:
                raise ConfigurationError(
                    f"broadcast agent names must be non-empty str, got {key!r}"
                )
            pairs.append((key, check_agent(agent, f"broadcast agent {key!r}")))
    elif isinstance(agents, Sequence) and not isinstance(agents, (str, bytes)):
        pairs = [
            (agent_name(a, f"agent_{i + 1}"), check_agent(a, f"broadcast agent #{i + 1}"))
            for i, a in enumerate(agents)
        ]
    else:
        raise ConfigurationError(
            f"`agents` must be a sequence of agents or a mapping name -> agent, got {agents!r}"
        )
    if not pairs:
        raise ConfigurationError("a broadcast needs at least one agent")
    unique_names([n for n, _ in pairs], "broadcast agent")
    return pairs


async def run_broadcast(
    agents: Sequence[Agent] | Mapping[str, Agent],
    input: str,
    *,
    aggregator: Agent | None,
    pool: BudgetPool | None = None,
    max_usd: Money | None = None,
    budget: Budget | None = None,
    timeout: float | None = None,
    tracer: Tracer | None = None,
    log: DecisionLog | None = None,
    synthesize: Callable[[str, Sequence[AgentResponse]], str] | None = None,
    name: str = "broadcast",
) -> BroadcastResult:
    """Send ``input`` to every agent concurrently; synthesize the survivors with ``aggregator``.

    Args:
        agents: the agents, as a sequence (named by their ``name`` attribute, else
            ``agent_1``, ``agent_2``, ...) or a mapping name -> agent; names unique.
        input: the prompt every agent gets.
        aggregator: the agent that synthesizes the survivors, or ``None`` to skip synthesis.
        pool: a pool each call acquires its own stage from (needs ``max_usd``).
        max_usd: each call's cap with ``pool``.
        budget: one budget every call charges (instead of ``pool``).
        timeout: seconds each agent may take (virtual under agentrig's loop); a late agent
            is cancelled and counts as failed.
        tracer: the tracer for the spans; default :func:`agentrig.tracing.default_tracer`.
        log: where decisions go; default a memory-only log named ``"broadcast"``.
        synthesize: builds the aggregator's prompt from ``(input, survivors)``; default
            :func:`default_synthesis_prompt`.
        name: the name of the broadcast's span.

    Returns:
        A :class:`BroadcastResult`, responses in declared order.

    Raises:
        AllAgentsFailed: every agent failed (the message lists each one's error).
        ConfigurationError: no agents, duplicate names, or a bad argument.
        Exception: whatever the aggregator raises.
    """
    if not isinstance(input, str):
        raise ConfigurationError(f"the broadcast's `input` must be a str, got {input!r}")
    pairs = _named_agents(agents)
    if aggregator is not None:
        check_agent(aggregator, "`aggregator`")
    check_budgeting(pool, budget, max_usd, needs_cap=True)
    if timeout is not None:
        Deadline(timeout)  # validates: a number of seconds, finite, non-negative
    if synthesize is not None and not callable(synthesize):
        raise ConfigurationError(
            f"`synthesize` must be a callable (input, survivors) -> str, got {synthesize!r}"
        )
    tracer = resolve_tracer(tracer)
    log = resolve_log(log, "broadcast")

    async def one(agent_name_: str, agent: Agent) -> AgentReply:
        agent_span_name_, attributes = agent_span(agent_name_)
        with tracer.span(agent_span_name_, attributes=attributes):
            async with budget_for(pool, budget, max_usd, agent_name_) as call_budget:
                if timeout is None:
                    raw = await agent.run(input, budget=call_budget)
                else:
                    async with Deadline(timeout, name=f"{agent_name_} timeout"):
                        raw = await agent.run(input, budget=call_budget)
            return check_reply(raw, f"broadcast agent {agent_name_!r}")

    pairs = _mutation.broadcast_members(name, pairs)  # agentrig mutate's switch
    names = [n for n, _ in pairs]
    span_name, attributes = workflow_span("broadcast", name)
    attributes[AGENTRIG_AGENTS] = names
    with tracer.span(span_name, attributes=attributes) as span:
        # Tasks start in creation order, so spans and calls start in the declared order.
        results = await asyncio.gather(*(one(n, a) for n, a in pairs), return_exceptions=True)
        responses: list[AgentResponse] = []
        for agent_name_, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result  # cancellation or interrupt: not an agent failure
                fields = error_fields(result)
                span.add_event("agent_failed", agent=agent_name_, **fields)
                log.record("agent_failed", agent=agent_name_, **fields)
                responses.append(AgentResponse(agent_name_, None, result))
            else:
                responses.append(AgentResponse(agent_name_, result, None))
        succeeded = [r.name for r in responses if r.ok]
        failed = [r.name for r in responses if not r.ok]
        span.set_attributes({"agents_succeeded": len(succeeded), "agents_failed": len(failed)})
        if not succeeded:
            log.record("broadcast_failed", failed=failed)
            errors = [r.error for r in responses if r.error is not None]
            lines = "; ".join(
                f"{r.name}: {type(r.error).__qualname__}: {r.error}" for r in responses
            )
            raise AllAgentsFailed(
                f"all {len(responses)} agents of broadcast {name!r} failed, so there is nothing"
                f" to synthesize — {lines}. Script at least one agent to succeed, raise the"
                " timeout= or the budget, or handle AllAgentsFailed",
                errors={r.name: r.error for r in responses if r.error is not None},
            ) from ExceptionGroup(f"{name}: every agent failed", errors)

        survivors = tuple(r for r in responses if r.ok)
        output: str | None = None
        aggregate: AgentReply | None = None
        if aggregator is not None:
            make_prompt = synthesize or default_synthesis_prompt
            prompt = make_prompt(input, survivors)
            if not isinstance(prompt, str):
                raise ConfigurationError(f"`synthesize` must return a str, returned {prompt!r}")
            who = agent_name(aggregator, "aggregator")
            agg_span_name, agg_attributes = agent_span(who, **{AGENTRIG_STEP: "aggregate"})
            try:
                with tracer.span(agg_span_name, attributes=agg_attributes):
                    async with budget_for(pool, budget, max_usd, who) as call_budget:
                        raw = await aggregator.run(prompt, budget=call_budget)
                    aggregate = check_reply(raw, f"aggregator {who!r}")
            except Exception as exc:
                log.record("aggregate_failed", agent=who, **error_fields(exc))
                raise
            output = aggregate.text
        log.record(
            "broadcast_complete",
            succeeded=succeeded,
            failed=failed,
            synthesized=aggregator is not None,
        )
        return BroadcastResult(
            input=input, responses=tuple(responses), output=output, aggregate=aggregate
        )
