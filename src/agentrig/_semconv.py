"""The OpenTelemetry GenAI semantic conventions agentrig emits and reads: one home for the names.

The conventions are still marked *development* and moved to their own repository in 2026, so
instrumentations in the wild speak two generations of attribute names. agentrig writes the
current ones (the version is :data:`SEMCONV_VERSION`, recorded in every snapshot header) and
maps the older names onto them when it reads a span (:data:`LEGACY_ATTRIBUTES`), so upgrading
an instrumentation does not show up as drift. This module sits at the bottom of the layers
because normalization (pure data) needs the same table as the tracer; ``agentrig.tracing``
re-exports the names as its public constants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "LEGACY_ATTRIBUTES",
    "LEGACY_PROVIDER_NAMES",
    "SEMCONV_SCHEMA_URL",
    "SEMCONV_VERSION",
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

# -- attribute names ------------------------------------------------------------------------------
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

# -- operation names ------------------------------------------------------------------------------
OPERATION_CHAT: Final = "chat"
OPERATION_TEXT_COMPLETION: Final = "text_completion"
OPERATION_INVOKE_AGENT: Final = "invoke_agent"
OPERATION_INVOKE_WORKFLOW: Final = "invoke_workflow"
OPERATION_EXECUTE_TOOL: Final = "execute_tool"

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
