"""The three classic multi-agent patterns as library code, fully instrumented.

* :func:`run_pipeline` — ordered stages, each refining the previous output under its own
  ``pool.acquire(max_usd=...)``; an exhausted pool halts it cleanly with partial results.
* :func:`run_broadcast` — the same input to N agents at once (``gather(...,
  return_exceptions=True)``), failures recorded, the survivors synthesized by an aggregator.
* :func:`run_supervisor` — a worker drafts, a supervisor approves or critiques, the worker
  revises; stops at approval, ``max_revisions`` or a hard ``Deadline``.
* Recovery wrappers (:mod:`agentrig.patterns.recovery`): :func:`with_retry`,
  :func:`with_fallback`, :func:`degrade` — agents that wrap agents, so they fit any pattern.

They accept any agent with ``async run(prompt, *, budget=None)`` returning an object with
``.text`` and ``.tokens`` (:class:`agentrig.Agent`): a FakeModel agent in tests, a wrapper of
a real model in production. Each opens spans through the tracer and records its decisions
through a :class:`~agentrig.decisions.DecisionLog`, so an active recording shows the whole run.

Usage::

    from agentrig.patterns import run_broadcast, run_pipeline, run_supervisor

    result = await run_pipeline([("research", research, 0.04), ("draft", draft, 0.04)],
                                "battery recycling", pool=BudgetPool(usd=0.10))
"""

from __future__ import annotations

from agentrig.patterns.broadcast import (
    AgentResponse,
    BroadcastResult,
    default_synthesis_prompt,
    run_broadcast,
)
from agentrig.patterns.pipeline import PipelineResult, Stage, StageResult, run_pipeline
from agentrig.patterns.recovery import (
    CachedReply,
    DegradingAgent,
    FallbackAgent,
    RetryingAgent,
    default_retry_on,
    degrade,
    with_fallback,
    with_retry,
)
from agentrig.patterns.supervisor import (
    SupervisorOutcome,
    SupervisorResult,
    SupervisorRound,
    default_approve,
    default_review_prompt,
    default_revise_prompt,
    run_supervisor,
)

__all__ = [
    "AgentResponse",
    "BroadcastResult",
    "CachedReply",
    "DegradingAgent",
    "FallbackAgent",
    "PipelineResult",
    "RetryingAgent",
    "Stage",
    "StageResult",
    "SupervisorOutcome",
    "SupervisorResult",
    "SupervisorRound",
    "default_approve",
    "default_retry_on",
    "default_review_prompt",
    "default_revise_prompt",
    "default_synthesis_prompt",
    "degrade",
    "run_broadcast",
    "run_pipeline",
    "run_supervisor",
    "with_fallback",
    "with_retry",
]
