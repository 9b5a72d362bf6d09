"""The names agentrig writes and reads: span attributes, operations, entry kinds, span statuses.

One home for the vocabulary every layer shares, so a name cannot be spelt two ways: the tracer
and the fake write these names, normalization, drift, the HTML report, the OTLP export and the
CLI read them. This module imports nothing from agentrig (and nothing outside the standard
library), so it sits below every other module. ``agentrig.tracing`` re-exports the attribute
names as its public constants.

The OpenTelemetry GenAI semantic conventions are still marked *development* and moved to their
own repository in 2026, so instrumentations in the wild speak two generations of attribute
names. agentrig writes the current ones (the version is :data:`SEMCONV_VERSION`, recorded in
every snapshot header) and maps the older names onto them when it reads a span
(:data:`LEGACY_ATTRIBUTES`), so upgrading an instrumentation does not show up as drift.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final, Literal, TypeAlias

__all__ = [
    "AGENTRIG_AGENT",
    "AGENTRIG_AGENTS",
    "AGENTRIG_ANSWERED_BY",
    "AGENTRIG_ATTEMPT",
    "AGENTRIG_ATTEMPTS",
    "AGENTRIG_CHAIN",
    "AGENTRIG_COMPLETED",
    "AGENTRIG_COST_USD",
    "AGENTRIG_DEADLINE_S",
    "AGENTRIG_DEGRADED",
    "AGENTRIG_DEGRADE_REASON",
    "AGENTRIG_HALTED_AT",
    "AGENTRIG_HALTED_REASON",
    "AGENTRIG_MAX_REVISIONS",
    "AGENTRIG_OK",
    "AGENTRIG_OUTCOME",
    "AGENTRIG_PATTERN",
    "AGENTRIG_PROMPT",
    "AGENTRIG_REPLY",
    "AGENTRIG_REVISION",
    "AGENTRIG_REVISIONS",
    "AGENTRIG_SEMCONV",
    "AGENTRIG_SOURCE",
    "AGENTRIG_STAGE",
    "AGENTRIG_STAGES",
    "AGENTRIG_STAGES_COMPLETED",
    "AGENTRIG_STEP",
    "AGENTRIG_STREAM",
    "AGENTRIG_TEST",
    "AGENTRIG_UNFINISHED",
    "ERROR_TYPE",
    "EXCEPTION_MESSAGE",
    "EXCEPTION_STACKTRACE",
    "EXCEPTION_TYPE",
    "GEN_AI_AGENT_ID",
    "GEN_AI_AGENT_NAME",
    "GEN_AI_INPUT_MESSAGES",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_OUTPUT_MESSAGES",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MAX_TOKENS",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_SYSTEM",
    "GEN_AI_SYSTEM_INSTRUCTIONS",
    "GEN_AI_TOOL_CALL_ARGUMENTS",
    "GEN_AI_TOOL_CALL_ID",
    "GEN_AI_TOOL_CALL_RESULT",
    "GEN_AI_TOOL_DEFINITIONS",
    "GEN_AI_TOOL_DESCRIPTION",
    "GEN_AI_TOOL_NAME",
    "GEN_AI_TOOL_TYPE",
    "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS",
    "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "GEN_AI_WORKFLOW_NAME",
    "HTTP_RESPONSE_STATUS_CODE",
    "LEGACY_ATTRIBUTES",
    "LEGACY_PROVIDER_NAMES",
    "MODEL_OPERATIONS",
    "OPERATION_CHAT",
    "OPERATION_EMBEDDINGS",
    "OPERATION_EXECUTE_TOOL",
    "OPERATION_GENERATE_CONTENT",
    "OPERATION_INVOKE_AGENT",
    "OPERATION_INVOKE_WORKFLOW",
    "OPERATION_TEXT_COMPLETION",
    "SEMCONV_SCHEMA_URL",
    "SEMCONV_VERSION",
    "SPAN_STATUSES",
    "EntryKind",
    "SpanStatus",
    "agent_span_name",
    "model_call_span_name",
    "operation_span_name",
    "tool_span_name",
    "upgrade_attributes",
    "workflow_span_name",
]

#: The semantic-conventions release whose GenAI names agentrig writes.
SEMCONV_VERSION: Final = "1.44.0"
#: Its schema URL (the ``schemaUrl`` of an OTLP export).
SEMCONV_SCHEMA_URL: Final = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"

# -- GenAI attribute names (https://opentelemetry.io/docs/specs/semconv/gen-ai/) -----------------
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_AGENT_ID: Final = "gen_ai.agent.id"
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_SYSTEM: Final = "gen_ai.system"  # deprecated: read, never written
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
GEN_AI_TOOL_TYPE: Final = "gen_ai.tool.type"
GEN_AI_TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
GEN_AI_TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"  # opt-in content
GEN_AI_TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"  # opt-in content
GEN_AI_WORKFLOW_NAME: Final = "gen_ai.workflow.name"
#: OpenTelemetry's HTTP attribute (only a replayed cassette call has an HTTP answer of its own).
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
#: Opt-in content attributes, set on SDK calls (JSON-like values).
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"

# -- general OpenTelemetry attribute names --------------------------------------------------------
#: The class of error that ended the operation.
ERROR_TYPE: Final = "error.type"
#: Attribute names of an ``"exception"`` event.
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"

# -- GenAI operation names ------------------------------------------------------------------------
OPERATION_CHAT: Final = "chat"
OPERATION_TEXT_COMPLETION: Final = "text_completion"
OPERATION_INVOKE_AGENT: Final = "invoke_agent"
OPERATION_INVOKE_WORKFLOW: Final = "invoke_workflow"
OPERATION_EXECUTE_TOOL: Final = "execute_tool"
OPERATION_GENERATE_CONTENT: Final = "generate_content"
OPERATION_EMBEDDINGS: Final = "embeddings"
#: The operations that are a model call.
MODEL_OPERATIONS: Final = frozenset(
    {OPERATION_CHAT, OPERATION_TEXT_COMPLETION, OPERATION_GENERATE_CONTENT, OPERATION_EMBEDDINGS}
)

# -- agentrig's own span attributes ---------------------------------------------------------------
#: What a model call cost, in US dollars (a float).
AGENTRIG_COST_USD: Final = "agentrig.cost_usd"
#: The prompt and the reply text of a model call.
AGENTRIG_PROMPT: Final = "agentrig.prompt"
AGENTRIG_REPLY: Final = "agentrig.reply"
#: The SDK asked for a streamed reply.
AGENTRIG_STREAM: Final = "agentrig.stream"
#: Where a model call's answer came from (``"cassette"``).
AGENTRIG_SOURCE: Final = "agentrig.source"
#: Who acts in a span, when no GenAI name says it (read, never written by agentrig).
AGENTRIG_AGENT: Final = "agentrig.agent"
#: Patterns: which pattern a workflow span runs, and the step / stage an agent span is.
AGENTRIG_PATTERN: Final = "agentrig.pattern"
AGENTRIG_STEP: Final = "agentrig.step"
AGENTRIG_STAGE: Final = "agentrig.stage"
#: Pipeline: the planned stages, how many completed, where and why it halted.
AGENTRIG_STAGES: Final = "agentrig.stages"
AGENTRIG_COMPLETED: Final = "agentrig.completed"
AGENTRIG_STAGES_COMPLETED: Final = "agentrig.stages_completed"
AGENTRIG_HALTED_AT: Final = "agentrig.halted_at"
AGENTRIG_HALTED_REASON: Final = "agentrig.halted_reason"
#: Broadcast: the agents the input went to.
AGENTRIG_AGENTS: Final = "agentrig.agents"
#: Supervisor: the revision of a step, the bounds, the outcome.
AGENTRIG_REVISION: Final = "agentrig.revision"
AGENTRIG_REVISIONS: Final = "agentrig.revisions"
AGENTRIG_MAX_REVISIONS: Final = "agentrig.max_revisions"
AGENTRIG_DEADLINE_S: Final = "agentrig.deadline_s"
AGENTRIG_OUTCOME: Final = "agentrig.outcome"
#: Recovery patterns: retry attempts, fallback chain, degradation.
AGENTRIG_ATTEMPT: Final = "agentrig.attempt"
AGENTRIG_ATTEMPTS: Final = "agentrig.attempts"
AGENTRIG_OK: Final = "agentrig.ok"
AGENTRIG_CHAIN: Final = "agentrig.chain"
AGENTRIG_ANSWERED_BY: Final = "agentrig.answered_by"
AGENTRIG_DEGRADED: Final = "agentrig.degraded"
AGENTRIG_DEGRADE_REASON: Final = "agentrig.degrade_reason"
#: OTLP export: the test a resource belongs to, the conventions' version, a span never ended.
AGENTRIG_TEST: Final = "agentrig.test"
AGENTRIG_SEMCONV: Final = "agentrig.semconv"
AGENTRIG_UNFINISHED: Final = "agentrig.unfinished"


class EntryKind(enum.StrEnum):
    """The kinds of timeline entry a recording holds (``Recording.add_entry``).

    A ``str`` enum: members compare, hash and serialize as their value, so readers of a
    normalized document (plain strings) and writers (members) agree byte for byte.
    """

    #: ``DecisionLog.record``: the fields passed, plus ``decision`` and ``log``.
    DECISION = "decision"
    #: A stage budget was handed out: ``pool``, ``stage``, ``granted_usd``, ``max_usd``, ...
    BUDGET_ACQUIRE = "budget.acquire"
    #: A charge to a stage: ``pool``, ``stage``, ``usd``, ``tokens``, ``label``, ``accepted``.
    BUDGET_CHARGE = "budget.charge"
    #: A stage closed: ``pool``, ``stage``, ``spent_usd``, ``returned_usd``, ``spent_tokens``.
    BUDGET_RELEASE = "budget.release"
    #: The pool refused a stage: ``pool``, ``stage``, ``requested_usd``, ``available_usd``, ...
    BUDGET_REFUSED = "budget.refused"
    #: ``EventBus.emit``: ``topic``, ``payload``, ``handlers``.
    BUS_EMIT = "bus.emit"
    #: One handler ran: ``topic``, ``handler``, ``ok``, ``error`` or ``result``.
    BUS_HANDLER = "bus.handler"
    #: A ``Deadline`` expired around a block: ``deadline``, ``seconds``, ``at``.
    DEADLINE_EXPIRED = "deadline.expired"
    #: Free-form: something a test or agentrig itself wants on the timeline.
    NOTE = "note"


#: A span's status, as OpenTelemetry names them.
SpanStatus: TypeAlias = Literal["unset", "ok", "error"]
SPAN_STATUSES: Final[tuple[SpanStatus, ...]] = ("unset", "ok", "error")

#: Older attribute name -> the current one. Applied on read; when both are present the
#: current name wins and the older one is dropped.
LEGACY_ATTRIBUTES: Final[Mapping[str, str]] = {
    GEN_AI_SYSTEM: GEN_AI_PROVIDER_NAME,
    "gen_ai.usage.prompt_tokens": GEN_AI_USAGE_INPUT_TOKENS,
    "gen_ai.usage.completion_tokens": GEN_AI_USAGE_OUTPUT_TOKENS,
    # The conventions' repository renamed cache_creation to cache_write (unsettled): read both
    # as the name the published conventions carry.
    "gen_ai.usage.cache_write.input_tokens": GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    "gen_ai.openai.request.seed": "gen_ai.request.seed",
    "gen_ai.openai.request.service_tier": "openai.request.service_tier",
    "gen_ai.openai.response.service_tier": "openai.response.service_tier",
    "gen_ai.openai.response.system_fingerprint": "openai.response.system_fingerprint",
}

#: Older ``gen_ai.system`` values -> the ``gen_ai.provider.name`` that replaced them.
LEGACY_PROVIDER_NAMES: Final[Mapping[str, str]] = {
    "az.ai.inference": "azure.ai.inference",
    "az.ai.openai": "azure.ai.openai",
    "vertex_ai": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
}


def upgrade_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """``attributes`` with older GenAI names mapped onto the current ones (a new dict if any).

    Args:
        attributes: span attributes as read (not modified).

    Returns:
        The same dict when it holds no older name, else a new one, keys in their first order.
    """
    if LEGACY_ATTRIBUTES.keys().isdisjoint(attributes):
        return attributes
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        new = LEGACY_ATTRIBUTES.get(key)
        if new is None:
            out[key] = value
            continue
        if new in attributes:
            continue  # the current name is there too: it wins
        if new == GEN_AI_PROVIDER_NAME and isinstance(value, str):
            value = LEGACY_PROVIDER_NAMES.get(value, value)
        out[new] = value
    return out


def operation_span_name(operation: str, name: str | None = None) -> str:
    """``"{operation} {name}"``, or just the operation without a name (the conventions' rule)."""
    return f"{operation} {name}" if name else operation


def model_call_span_name(model: str | None) -> str:
    """The span name of a model call: ``"chat {gen_ai.request.model}"`` (``"chat gpt-4o"``)."""
    return operation_span_name(OPERATION_CHAT, model)


def agent_span_name(agent: str | None) -> str:
    """The span name of an agent run: ``"invoke_agent {gen_ai.agent.name}"``."""
    return operation_span_name(OPERATION_INVOKE_AGENT, agent)


def workflow_span_name(workflow: str | None) -> str:
    """The span name of a workflow (a pattern): ``"invoke_workflow {gen_ai.workflow.name}"``."""
    return operation_span_name(OPERATION_INVOKE_WORKFLOW, workflow)


def tool_span_name(tool: str) -> str:
    """The span name of a tool execution: ``"execute_tool {gen_ai.tool.name}"``."""
    return operation_span_name(OPERATION_EXECUTE_TOOL, tool)
