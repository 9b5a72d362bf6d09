"""The pipeline pattern: ordered stages, each refining the previous output on its own budget.

Usage::

    from agentrig import BudgetPool
    from agentrig.patterns import Stage, run_pipeline

    pool = BudgetPool(usd=0.10)
    result = await run_pipeline(
        [
            Stage("research", research_agent, max_usd=0.04),
            Stage("draft", draft_agent, max_usd=0.04, prompt="Write a report from:\\n{input}"),
            ("review", review_agent, 0.02),          # a (name, agent, max_usd) tuple works too
        ],
        "battery recycling in 2025",
        pool=pool,
        log=DecisionLog(path="pipeline_decisions.jsonl"),
    )
    result.completed, result.output, [s.name for s in result.stages]

What it does, stage by stage:

* acquires the stage's budget with ``pool.acquire(max_usd=stage.max_usd, name=stage.name)``
  and passes it to ``agent.run(prompt, budget=stage_budget)``;
* the first stage's prompt is the pipeline's input, every later stage's the previous stage's
  output text, unless a ``prompt`` (per stage, or for the whole pipeline) says otherwise;
* records the decision ``stage_complete`` (``stage``, ``tokens``, ``usd``).

When the money runs out — the pool has nothing left to hand out (``BudgetExhausted``) or a
call would break its stage's cap (``BudgetExceeded``) — the pipeline *halts cleanly*: it
records ``pipeline_halted`` (``stage``, ``reason``, ``error_type``, ``message``) and returns
the stages completed so far with ``completed=False``. Any other exception records
``pipeline_failed`` and propagates. A run that completes records ``pipeline_complete``.

Spans follow the OpenTelemetry GenAI conventions: one ``"invoke_workflow pipeline"`` span
(``name=`` replaces ``pipeline``), and inside it one ``"invoke_agent {agent}"`` span per stage
(with ``gen_ai.agent.name`` and ``agentrig.stage``), inside which the agent's own spans nest
(``invoke_workflow pipeline › invoke_agent draft › chat fake-model``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, TypeAlias

from agentrig._errors import BudgetError, BudgetExceeded, ConfigurationError
from agentrig._types import Agent, AgentReply, Money
from agentrig.budget import BudgetPool
from agentrig.decisions import DecisionLog
from agentrig.money import sum_usd
from agentrig.patterns._common import (
    agent_name,
    agent_span,
    check_agent,
    check_reply,
    error_fields,
    resolve_log,
    resolve_tracer,
    unique_names,
    workflow_span,
)
from agentrig.tracing import Tracer
from agentrig.vocabulary import (
    AGENTRIG_COMPLETED,
    AGENTRIG_HALTED_AT,
    AGENTRIG_HALTED_REASON,
    AGENTRIG_STAGE,
    AGENTRIG_STAGES,
    AGENTRIG_STAGES_COMPLETED,
)

__all__ = ["PipelineResult", "Stage", "StageLike", "StageResult", "run_pipeline"]

HaltReason = Literal["budget_exhausted", "budget_exceeded"]


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of a pipeline.

    Attributes:
        name: the stage's name (its span, its stage budget, its decisions); unique.
        agent: any agent (``async run(prompt, *, budget=None)``).
        max_usd: the stage's cap, acquired from the pool; ``None`` takes whatever is left.
        max_tokens: an optional token cap for the stage.
        prompt: how to build the stage's prompt from the previous output: a format string
            with ``{input}`` (the previous stage's text, or the pipeline's input for the first
            stage) and ``{original}`` (the pipeline's input), or a callable
            ``previous_text -> prompt``. ``None``: the previous text as is (or the pipeline's
            ``prompt=``).
    """

    name: str
    agent: Agent
    max_usd: Money | None = None
    max_tokens: int | None = None
    prompt: str | Callable[[str], str] | None = None


#: A stage, or a ``(name, agent)`` / ``(name, agent, max_usd)`` tuple.
StageLike: TypeAlias = "Stage | tuple[str, Agent] | tuple[str, Agent, Money | None]"


@dataclass(frozen=True, slots=True)
class StageResult:
    """What one completed stage produced.

    Attributes:
        name: the stage's name.
        prompt: the prompt it was given.
        text: the agent's reply text.
        tokens: the agent's reply tokens.
        usd: what the stage spent (from its stage budget, exact).
        reply: the agent's reply object itself (a ``FakeReply`` for fake agents).
    """

    name: str
    prompt: str
    text: str
    tokens: int
    usd: Decimal
    reply: AgentReply


@dataclass(frozen=True, slots=True)
class PipelineResult:
    """The outcome of :func:`run_pipeline`.

    Attributes:
        input: the pipeline's input.
        stages: the completed stages, in order (all of them when ``completed``).
        completed: True if every stage ran.
        output: the last completed stage's text; ``None`` if no stage completed.
        halted_at: the stage the pipeline halted at (it did not complete), or ``None``.
        halted_reason: ``"budget_exhausted"`` (the pool had nothing left for the stage) or
            ``"budget_exceeded"`` (a call would break the stage's cap), or ``None``.
        error: the budget error that halted the pipeline, or ``None``.
    """

    input: str
    stages: tuple[StageResult, ...]
    completed: bool
    output: str | None
    halted_at: str | None = None
    halted_reason: HaltReason | None = None
    error: BudgetError | None = None

    @property
    def tokens(self) -> int:
        """Tokens of every completed stage together."""
        return sum(s.tokens for s in self.stages)

    @property
    def usd(self) -> Decimal:
        """What the completed stages spent together, exact."""
        return sum_usd(s.usd for s in self.stages)

    def __getitem__(self, name: str) -> StageResult:
        """The completed stage named ``name`` (``KeyError`` names the completed ones)."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        done = [s.name for s in self.stages]
        raise KeyError(f"no completed stage named {name!r}; completed: {done}")


def _as_stage(item: object, index: int) -> Stage:
    if isinstance(item, Stage):
        stage = item
    elif isinstance(item, tuple) and len(item) in (2, 3):
        stage = Stage(item[0], item[1], item[2] if len(item) == 3 else None)
    else:
        raise ConfigurationError(
            f"stage #{index + 1} must be a Stage or a (name, agent[, max_usd]) tuple, got {item!r}"
        )
    if not isinstance(stage.name, str) or not stage.name:
        raise ConfigurationError(
            f"stage #{index + 1} needs a non-empty str name, got {stage.name!r}"
        )
    check_agent(stage.agent, f"stage {stage.name!r}'s agent")
    if not (stage.prompt is None or isinstance(stage.prompt, str) or callable(stage.prompt)):
        raise ConfigurationError(
            f"stage {stage.name!r}: `prompt` must be a format string or a callable"
            f" previous_text -> str, got {stage.prompt!r}"
        )
    if isinstance(stage.prompt, str):
        _format(stage.prompt, stage.name, "", "")  # fail before any money is spent
    return stage


def _format(template: str, stage: str, previous: str, original: str) -> str:
    try:
        return template.format_map({"input": previous, "original": original})
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigurationError(
            f"stage {stage!r}: the prompt template {template!r} cannot be filled ({exc!r});"
            " it may use {input} (the previous output) and {original} (the pipeline's input);"
            " double literal braces as {{ and }}"
        ) from None


def _prompt_for(
    stage: Stage,
    previous: str,
    original: str,
    default: Callable[[Stage, str], str] | None,
) -> str:
    if isinstance(stage.prompt, str):
        return _format(stage.prompt, stage.name, previous, original)
    if stage.prompt is not None:
        text = stage.prompt(previous)
    elif default is not None:
        text = default(stage, previous)
    else:
        return previous
    if not isinstance(text, str):
        raise ConfigurationError(
            f"stage {stage.name!r}: the prompt callable must return a str, returned {text!r}"
        )
    return text


async def run_pipeline(
    stages: Sequence[StageLike],
    input: str,
    *,
    pool: BudgetPool,
    tracer: Tracer | None = None,
    log: DecisionLog | None = None,
    prompt: Callable[[Stage, str], str] | None = None,
    name: str = "pipeline",
) -> PipelineResult:
    """Run ``stages`` in order, each on the previous output and its own stage budget.

    Args:
        stages: :class:`Stage` objects or ``(name, agent[, max_usd])`` tuples; names unique.
        input: the first stage's input.
        pool: the pool every stage acquires its budget from.
        tracer: the tracer for the spans; default :func:`agentrig.tracing.default_tracer`.
        log: where decisions go; default a memory-only log named ``"pipeline"`` (decisions
            reach the active recording either way).
        prompt: builds a stage's prompt from ``(stage, previous_text)`` for stages without a
            ``prompt`` of their own; default the previous text as is.
        name: the name of the pipeline's span.

    Returns:
        A :class:`PipelineResult`; ``completed=False`` with the partial results when the
        budget ran out.

    Raises:
        ConfigurationError: no stages, duplicate names, a bad stage or argument.
        Exception: whatever a stage's agent raises, other than a budget error (recorded as
            ``pipeline_failed`` first).
    """
    if not isinstance(input, str):
        raise ConfigurationError(f"the pipeline's `input` must be a str, got {input!r}")
    if not isinstance(pool, BudgetPool):
        raise ConfigurationError(f"`pool` must be a BudgetPool, got {pool!r}")
    if isinstance(stages, (str, bytes)) or not isinstance(stages, Sequence) or not stages:
        raise ConfigurationError(
            f"`stages` must be a non-empty sequence of Stage or (name, agent[, max_usd]),"
            f" got {stages!r}"
        )
    plan = [_as_stage(item, i) for i, item in enumerate(stages)]
    unique_names([s.name for s in plan], "pipeline stage")
    if prompt is not None and not callable(prompt):
        raise ConfigurationError(
            f"`prompt` must be a callable (stage, previous_text) -> str, got {prompt!r}"
        )
    tracer = resolve_tracer(tracer)
    log = resolve_log(log, "pipeline")

    done: list[StageResult] = []
    previous = input
    span_name, attributes = workflow_span("pipeline", name)
    attributes[AGENTRIG_STAGES] = [s.name for s in plan]
    with tracer.span(span_name, attributes=attributes) as span:
        for stage in plan:
            stage_span_name, stage_attributes = agent_span(
                agent_name(stage.agent, stage.name), **{AGENTRIG_STAGE: stage.name}
            )
            halted: BudgetError | None = None
            with tracer.span(stage_span_name, attributes=stage_attributes) as stage_span:
                text = _prompt_for(stage, previous, input, prompt)
                try:
                    async with pool.acquire(
                        max_usd=stage.max_usd, max_tokens=stage.max_tokens, name=stage.name
                    ) as budget:
                        raw = await stage.agent.run(text, budget=budget)
                        reply = check_reply(raw, f"stage {stage.name!r}'s agent")
                        spent = budget.spent_usd
                except BudgetError as exc:
                    # Caught inside the stage span, so record it there ourselves.
                    stage_span.record_exception(exc)
                    halted = exc
                except Exception as exc:
                    log.record("pipeline_failed", stage=stage.name, **error_fields(exc))
                    raise
                else:
                    done.append(
                        StageResult(stage.name, text, reply.text, reply.tokens, spent, reply)
                    )
                    log.record(
                        "stage_complete", stage=stage.name, tokens=reply.tokens, usd=float(spent)
                    )
            if halted is not None:
                reason: HaltReason = (
                    "budget_exceeded" if isinstance(halted, BudgetExceeded) else "budget_exhausted"
                )
                log.record(
                    "pipeline_halted", stage=stage.name, reason=reason, **error_fields(halted)
                )
                span.set_attributes(
                    {
                        AGENTRIG_COMPLETED: False,
                        AGENTRIG_STAGES_COMPLETED: len(done),
                        AGENTRIG_HALTED_AT: stage.name,
                        AGENTRIG_HALTED_REASON: reason,
                    }
                )
                return PipelineResult(
                    input=input,
                    stages=tuple(done),
                    completed=False,
                    output=done[-1].text if done else None,
                    halted_at=stage.name,
                    halted_reason=reason,
                    error=halted,
                )
            previous = done[-1].text
        result = PipelineResult(
            input=input, stages=tuple(done), completed=True, output=done[-1].text
        )
        log.record(
            "pipeline_complete",
            stages=len(done),
            tokens=result.tokens,
            usd=float(result.usd),
        )
        span.set_attributes({AGENTRIG_COMPLETED: True, AGENTRIG_STAGES_COMPLETED: len(done)})
        return result
