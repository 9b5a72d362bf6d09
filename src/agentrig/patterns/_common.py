"""Helpers the three patterns share: agent names, budgets per call, tracer and log defaults."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agentrig._errors import ConfigurationError
from agentrig._types import Agent, AgentReply, Budget, Money
from agentrig.budget import BudgetPool
from agentrig.decisions import DecisionLog
from agentrig.tracing import (
    GEN_AI_AGENT_NAME,
    GEN_AI_OPERATION_NAME,
    GEN_AI_WORKFLOW_NAME,
    OPERATION_INVOKE_AGENT,
    OPERATION_INVOKE_WORKFLOW,
    Tracer,
    agent_span_name,
    default_tracer,
    workflow_span_name,
)
from agentrig.vocabulary import (
    AGENTRIG_PATTERN,
)

__all__: list[str] = []


def workflow_span(pattern: str, name: str) -> tuple[str, dict[str, Any]]:
    """Span name and attributes of a pattern run: ``invoke_workflow {name}`` (GenAI semconv)."""
    return workflow_span_name(name), {
        GEN_AI_OPERATION_NAME: OPERATION_INVOKE_WORKFLOW,
        GEN_AI_WORKFLOW_NAME: name,
        AGENTRIG_PATTERN: pattern,
    }


def agent_span(agent: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    """Span name and attributes of one agent's turn: ``invoke_agent {agent}`` (GenAI semconv)."""
    return agent_span_name(agent), {
        GEN_AI_OPERATION_NAME: OPERATION_INVOKE_AGENT,
        GEN_AI_AGENT_NAME: agent,
        **extra,
    }


def agent_name(agent: object, fallback: str) -> str:
    """The agent's own ``name`` if it has a non-empty str one, else ``fallback``."""
    name = getattr(agent, "name", None)
    return name if isinstance(name, str) and name else fallback


def check_agent(agent: object, what: str) -> Agent:
    """``agent`` if it has a callable ``run``; a ConfigurationError naming ``what`` otherwise."""
    if not callable(getattr(agent, "run", None)):
        raise ConfigurationError(
            f"{what} must be an agent: an object with `async run(prompt, *, budget=None)`"
            f" returning something with .text and .tokens; got {agent!r}"
        )
    return agent  # type: ignore[return-value]


def check_reply(reply: object, who: str) -> AgentReply:
    """``reply`` if it has ``.text`` (str) and ``.tokens`` (int), else a clear error."""
    text = getattr(reply, "text", None)
    tokens = getattr(reply, "tokens", None)
    if not isinstance(text, str) or isinstance(tokens, bool) or not isinstance(tokens, int):
        raise ConfigurationError(
            f"{who} returned {reply!r}; an agent's run() must return an object with .text (str)"
            " and .tokens (int)"
        )
    return reply  # type: ignore[return-value]


def resolve_tracer(tracer: Tracer | None) -> Tracer:
    if tracer is None:
        return default_tracer()
    if not isinstance(tracer, Tracer):
        raise ConfigurationError(f"`tracer` must be a Tracer or None, got {tracer!r}")
    return tracer


def resolve_log(log: DecisionLog | None, name: str) -> DecisionLog:
    """The caller's log, or a memory-only one named after the pattern.

    A memory-only log still reports every decision into the active recording, so a pattern
    run without ``log=`` is as visible in a snapshot as one with it.
    """
    if log is None:
        return DecisionLog(name=name)
    if not isinstance(log, DecisionLog):
        raise ConfigurationError(f"`log` must be a DecisionLog or None, got {log!r}")
    return log


def check_budgeting(pool: object, budget: object, max_usd: object, *, needs_cap: bool) -> None:
    """Validate the ``pool=`` / ``budget=`` / ``max_usd=`` trio of a pattern."""
    if pool is not None and not isinstance(pool, BudgetPool):
        raise ConfigurationError(f"`pool` must be a BudgetPool or None, got {pool!r}")
    if pool is not None and budget is not None:
        raise ConfigurationError(
            "give either pool= (each call acquires its own stage budget) or budget= (every"
            " call charges the same budget), not both"
        )
    if max_usd is not None and pool is None:
        raise ConfigurationError("`max_usd` caps each call's stage of pool=; give pool= too")
    if needs_cap and pool is not None and max_usd is None:
        raise ConfigurationError(
            "with pool=, concurrent calls need max_usd= (each call's cap): without it the first"
            " call would take everything the pool has left and starve the others"
        )


@contextlib.asynccontextmanager
async def budget_for(
    pool: BudgetPool | None, budget: Budget | None, max_usd: Money | None, name: str
) -> AsyncIterator[Budget | None]:
    """A stage of ``pool`` for one call (released on exit), else ``budget`` as given."""
    if pool is None:
        yield budget
        return
    async with pool.acquire(max_usd=max_usd, name=name) as stage:
        yield stage


def unique_names(names: Sequence[str], what: str) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise ConfigurationError(
                f"{what} names must be unique (they name spans and decisions); {name!r} is used"
                f" by #{seen[name] + 1} and #{i + 1}; give them distinct names"
            )
        seen[name] = i


def error_fields(exc: BaseException) -> dict[str, Any]:
    """``error_type`` and ``message`` of an exception, for decisions and span events."""
    return {"error_type": type(exc).__qualname__, "message": str(exc)}
