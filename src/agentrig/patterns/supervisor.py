"""The supervisor pattern: a worker drafts, a supervisor approves or critiques, the worker revises.

Usage::

    from agentrig.patterns import run_supervisor

    result = await run_supervisor(
        writer_agent,
        editor_agent,
        "Write the release notes for 2.0",
        max_revisions=3,
        deadline=120,                 # seconds (virtual under agentrig's loop), or a Deadline
    )
    result.outcome                    # "approved" | "max_revisions" | "deadline" | "budget"
    result.output                     # the final draft
    result.revisions                  # how many times the worker revised

The loop::

    draft = worker(task)                                         step "draft"
    repeat:
        review = supervisor(review_prompt(task, draft))          step "review"
        approved?                 -> stop, outcome "approved"
        revisions == max_revisions -> stop, outcome "max_revisions"
        draft = worker(revise_prompt(task, draft, review))      step "revise"

each step an ``"invoke_agent {agent}"`` span with ``agentrig.step``, inside one
``"invoke_workflow supervisor"`` span (OpenTelemetry GenAI conventions);

so every draft, the last revision included, is reviewed once, and ``max_revisions=0`` means
one draft and one review. The whole loop runs under the hard ``deadline``
(``async with deadline:``): when it expires the call in flight is cancelled and the outcome is
``"deadline"``, with the last *completed* draft as the output (``None`` if even the first
draft did not finish). A budget error (the pool ran out, a call would break its cap) stops the
loop the same way with outcome ``"budget"``.

Decisions: ``draft_reviewed`` after each review (``revision``, ``approved``, ``feedback``) and
``supervisor_finished`` once (``outcome``, ``revisions``, ``reviews``, plus ``error_type`` and
``message`` for ``"deadline"`` and ``"budget"``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from agentrig._errors import BudgetError, ConfigurationError, DeadlineExceeded
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
    workflow_span,
)
from agentrig.tracing import Tracer
from agentrig.vocabulary import (
    AGENTRIG_DEADLINE_S,
    AGENTRIG_MAX_REVISIONS,
    AGENTRIG_OUTCOME,
    AGENTRIG_REVISION,
    AGENTRIG_REVISIONS,
    AGENTRIG_STEP,
)

__all__ = [
    "SupervisorOutcome",
    "SupervisorResult",
    "SupervisorRound",
    "default_approve",
    "default_review_prompt",
    "default_revise_prompt",
    "run_supervisor",
]

SupervisorOutcome = Literal["approved", "max_revisions", "deadline", "budget"]

#: What the default approval test looks for in the supervisor's reply.
APPROVED = "APPROVED"


def default_approve(review: str) -> bool:
    """The default approval test: ``"APPROVED"`` appears in the review (case-sensitive)."""
    return APPROVED in review


def default_review_prompt(task: str, draft: str) -> str:
    """The supervisor's default prompt."""
    return (
        f"Review this draft.\nTask: {task}\nDraft:\n{draft}\n"
        f"Reply {APPROVED} if it is ready; otherwise give a critique."
    )


def default_revise_prompt(task: str, draft: str, critique: str) -> str:
    """The worker's default prompt for a revision."""
    return f"Revise the draft.\nTask: {task}\nDraft:\n{draft}\nCritique:\n{critique}"


@dataclass(frozen=True, slots=True)
class SupervisorRound:
    """One review: the draft the supervisor saw and what it said.

    Attributes:
        revision: 0 for the first draft, then 1, 2, ... for each revision.
        draft: the draft's text.
        review: the supervisor's reply text.
        approved: whether the approval test passed.
    """

    revision: int
    draft: str
    review: str
    approved: bool


@dataclass(frozen=True, slots=True)
class SupervisorResult:
    """The outcome of :func:`run_supervisor`.

    Attributes:
        task: the task.
        output: the final (last completed) draft; ``None`` if no draft completed.
        outcome: ``"approved"``, ``"max_revisions"``, ``"deadline"`` or ``"budget"``.
        revisions: how many revised drafts the worker completed.
        rounds: every review, in order.
        error: the :class:`~agentrig.DeadlineExceeded` or budget error that stopped the loop.
    """

    task: str
    output: str | None
    outcome: SupervisorOutcome
    revisions: int
    rounds: tuple[SupervisorRound, ...]
    error: Exception | None = None

    @property
    def approved(self) -> bool:
        """Whether the supervisor approved the final draft."""
        return self.outcome == "approved"


async def run_supervisor(
    worker: Agent,
    supervisor: Agent,
    task: str,
    *,
    max_revisions: int = 3,
    deadline: Deadline | float | None = None,
    approve: Callable[[str], bool] | None = None,
    pool: BudgetPool | None = None,
    max_usd: Money | None = None,
    budget: Budget | None = None,
    tracer: Tracer | None = None,
    log: DecisionLog | None = None,
    review_prompt: Callable[[str, str], str] | None = None,
    revise_prompt: Callable[[str, str, str], str] | None = None,
    name: str = "supervisor",
) -> SupervisorResult:
    """Draft, review and revise until approval, ``max_revisions`` or the deadline.

    Args:
        worker: the agent that drafts and revises.
        supervisor: the agent that reviews.
        task: the worker's first prompt (and context for the other prompts).
        max_revisions: how many revisions at most after the first draft (>= 0).
        deadline: a hard limit for the whole loop: a :class:`~agentrig.Deadline` or seconds
            (a Deadline named after the span, started now); ``None``: no limit.
        approve: the approval test on the supervisor's reply; default
            :func:`default_approve` (``"APPROVED" in reply``).
        pool: a pool each call acquires its own stage from (named ``draft``, ``review-1``,
            ``revise-1``, ...), capped at ``max_usd`` (``None``: whatever is left).
        max_usd: each call's cap with ``pool``.
        budget: one budget every call charges (instead of ``pool``).
        tracer: the tracer for the spans; default :func:`agentrig.tracing.default_tracer`.
        log: where decisions go; default a memory-only log named ``"supervisor"``.
        review_prompt: ``(task, draft) -> prompt`` for the supervisor.
        revise_prompt: ``(task, draft, critique) -> prompt`` for the worker.
        name: the name of the loop's span.

    Returns:
        A :class:`SupervisorResult`.

    Raises:
        ConfigurationError: a bad argument.
        Exception: whatever an agent raises other than a budget error or the expiry of
            ``deadline`` (recorded as ``supervisor_finished`` with outcome ``"error"`` first).
    """
    check_agent(worker, "`worker`")
    check_agent(supervisor, "`supervisor`")
    if not isinstance(task, str):
        raise ConfigurationError(f"the supervisor's `task` must be a str, got {task!r}")
    if isinstance(max_revisions, bool) or not isinstance(max_revisions, int) or max_revisions < 0:
        raise ConfigurationError(
            f"`max_revisions` must be a non-negative int, got {max_revisions!r}"
        )
    check_budgeting(pool, budget, max_usd, needs_cap=False)
    for param, fn in (
        ("approve", approve),
        ("review_prompt", review_prompt),
        ("revise_prompt", revise_prompt),
    ):
        if fn is not None and not callable(fn):
            raise ConfigurationError(f"`{param}` must be a callable or None, got {fn!r}")
    if deadline is None or isinstance(deadline, Deadline):
        hard = deadline
    else:
        hard = Deadline(deadline, name=name)
    is_approved = approve or default_approve
    make_review = review_prompt or default_review_prompt
    make_revision = revise_prompt or default_revise_prompt
    tracer = resolve_tracer(tracer)
    log = resolve_log(log, "supervisor")

    async def call(step: str, agent: Agent, prompt: str, revision: int, stage: str) -> AgentReply:
        step_span_name, attributes = agent_span(
            agent_name(agent, step), **{AGENTRIG_STEP: step, AGENTRIG_REVISION: revision}
        )
        with tracer.span(step_span_name, attributes=attributes):
            async with budget_for(pool, budget, max_usd, stage) as call_budget:
                raw = await agent.run(prompt, budget=call_budget)
            return check_reply(raw, f"the {step} agent")

    rounds: list[SupervisorRound] = []
    draft: str | None = None
    revisions = 0
    outcome: SupervisorOutcome
    stopped_by: Exception | None = None
    span_name, attributes = workflow_span("supervisor", name)
    attributes[AGENTRIG_MAX_REVISIONS] = max_revisions
    if hard is not None:
        attributes[AGENTRIG_DEADLINE_S] = hard.seconds
    with tracer.span(span_name, attributes=attributes) as span:
        try:
            async with hard if hard is not None else contextlib.nullcontext():
                draft = (await call("draft", worker, task, 0, "draft")).text
                while True:
                    prompt = make_review(task, draft)
                    review = (
                        await call(
                            "review", supervisor, prompt, revisions, f"review-{revisions + 1}"
                        )
                    ).text
                    approved = _mutation.verdict(name, bool(is_approved(review)))  # mutate
                    rounds.append(SupervisorRound(revisions, draft, review, approved))
                    log.record(
                        "draft_reviewed", revision=revisions, approved=approved, feedback=review
                    )
                    if approved:
                        outcome = "approved"
                        break
                    if revisions >= max_revisions:
                        outcome = "max_revisions"
                        break
                    prompt = make_revision(task, draft, review)
                    draft = (
                        await call(
                            "revise", worker, prompt, revisions + 1, f"revise-{revisions + 1}"
                        )
                    ).text
                    revisions += 1
        except DeadlineExceeded as exc:
            if hard is None or not hard.expired():
                raise  # someone else's deadline: not ours to handle
            outcome, stopped_by = "deadline", exc
        except BudgetError as exc:
            outcome, stopped_by = "budget", exc
        except Exception as exc:
            log.record(
                "supervisor_finished",
                outcome="error",
                revisions=revisions,
                reviews=len(rounds),
                **error_fields(exc),
            )
            raise
        fields: dict[str, Any] = {
            "outcome": outcome,
            "revisions": revisions,
            "reviews": len(rounds),
        }
        if stopped_by is not None:
            fields.update(error_fields(stopped_by))
        log.record("supervisor_finished", **fields)
        span.set_attributes({AGENTRIG_OUTCOME: outcome, AGENTRIG_REVISIONS: revisions})
        return SupervisorResult(
            task=task,
            output=draft,
            outcome=outcome,
            revisions=revisions,
            rounds=tuple(rounds),
            error=stopped_by,
        )
