"""agentrig: deterministic, snapshot-based regression tests for multi-agent LLM systems.

The curated public namespace. Submodules with public API of their own: ``agentrig.clock``,
``agentrig.recording``, ``agentrig.normalize``, ``agentrig.drift``, ``agentrig.patterns``,
``agentrig.fake``, ``agentrig.tracing``, ``agentrig.chat``, ``agentrig.providers`` (the SDK
interception seam), ``agentrig.otel`` (OpenTelemetry capture) and ``agentrig.otlp`` (OTLP/JSON
export).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentrig._errors import (
        AgentRigError,
        AgentrigWarning,
        AllAgentsFailed,
        BudgetError,
        BudgetExceeded,
        BudgetExhausted,
        CassetteError,
        CassetteFormatError,
        CassetteMiss,
        ConfigurationError,
        DeadlineExceeded,
        DecisionLogError,
        FakeModelError,
        FakeRateLimitError,
        FakeServerError,
        FakeTimeoutError,
        NetworkBlocked,
        RecordingError,
        ScriptExhausted,
        ScriptMismatch,
        SnapshotError,
        SnapshotFormatError,
        StallError,
        UnscriptedCall,
        UnsupportedEndpoint,
    )
    from agentrig._types import Agent, AgentReply, Budget
    from agentrig.budget import (
        BudgetPool,
        BudgetStatistics,
        LedgerEntry,
        Reservation,
        StageBudget,
        current_stage_budget,
    )
    from agentrig.bus import EventBus
    from agentrig.chat import FakeRequest, Message, Tool, ToolCall, ToolResult
    from agentrig.clock import VirtualEventLoop, run
    from agentrig.deadline import Deadline
    from agentrig.decisions import DecisionLog, DecisionLogContents, read_decision_log
    from agentrig.drift import DRIFT_CLASSES, Change, DriftConfig, DriftReport, Tolerance, compare
    from agentrig.fake import FakeAgent, FakeCall, FakeModel, FakeReply, Price
    from agentrig.normalize import FORMAT_VERSION, NormalizeRules, normalize
    from agentrig.recording import Recording, active_recording
    from agentrig.tools import ToolExecution, tool
    from agentrig.tracing import SEMCONV_VERSION, Span, Tracer, current_span, default_tracer

__version__ = "0.1.0"

# Public name -> the module that defines it. Imported on first access (PEP 562), so that
# loading the pytest plugin (which imports this package) costs next to nothing in a run
# without agentrig tests, and ``import agentrig`` stays cheap.
_EXPORTS: dict[str, str] = {
    "Agent": "agentrig._types",
    "AgentReply": "agentrig._types",
    "AgentRigError": "agentrig._errors",
    "AgentrigWarning": "agentrig._errors",
    "AllAgentsFailed": "agentrig._errors",
    "Budget": "agentrig._types",
    "BudgetError": "agentrig._errors",
    "BudgetExceeded": "agentrig._errors",
    "BudgetExhausted": "agentrig._errors",
    "BudgetPool": "agentrig.budget",
    "BudgetStatistics": "agentrig.budget",
    "CassetteError": "agentrig._errors",
    "CassetteFormatError": "agentrig._errors",
    "CassetteMiss": "agentrig._errors",
    "Change": "agentrig.drift",
    "ConfigurationError": "agentrig._errors",
    "DRIFT_CLASSES": "agentrig.drift",
    "Deadline": "agentrig.deadline",
    "DeadlineExceeded": "agentrig._errors",
    "DecisionLog": "agentrig.decisions",
    "DecisionLogContents": "agentrig.decisions",
    "DecisionLogError": "agentrig._errors",
    "DriftConfig": "agentrig.drift",
    "DriftReport": "agentrig.drift",
    "EventBus": "agentrig.bus",
    "FORMAT_VERSION": "agentrig.normalize",
    "FakeAgent": "agentrig.fake",
    "FakeCall": "agentrig.fake",
    "FakeModel": "agentrig.fake",
    "FakeModelError": "agentrig._errors",
    "FakeRateLimitError": "agentrig._errors",
    "FakeReply": "agentrig.fake",
    "FakeRequest": "agentrig.chat",
    "FakeServerError": "agentrig._errors",
    "FakeTimeoutError": "agentrig._errors",
    "LedgerEntry": "agentrig.budget",
    "Message": "agentrig.chat",
    "NetworkBlocked": "agentrig._errors",
    "NormalizeRules": "agentrig.normalize",
    "Price": "agentrig.fake",
    "Recording": "agentrig.recording",
    "Reservation": "agentrig.budget",
    "RecordingError": "agentrig._errors",
    "ScriptExhausted": "agentrig._errors",
    "ScriptMismatch": "agentrig._errors",
    "SnapshotError": "agentrig._errors",
    "SEMCONV_VERSION": "agentrig.tracing",
    "SnapshotFormatError": "agentrig._errors",
    "Span": "agentrig.tracing",
    "StageBudget": "agentrig.budget",
    "StallError": "agentrig._errors",
    "Tolerance": "agentrig.drift",
    "Tool": "agentrig.chat",
    "ToolCall": "agentrig.chat",
    "ToolResult": "agentrig.chat",
    "ToolExecution": "agentrig.tools",
    "Tracer": "agentrig.tracing",
    "UnscriptedCall": "agentrig._errors",
    "UnsupportedEndpoint": "agentrig._errors",
    "VirtualEventLoop": "agentrig.clock",
    "active_recording": "agentrig.recording",
    "compare": "agentrig.drift",
    "current_span": "agentrig.tracing",
    "current_stage_budget": "agentrig.budget",
    "default_tracer": "agentrig.tracing",
    "normalize": "agentrig.normalize",
    "read_decision_log": "agentrig.decisions",
    "run": "agentrig.clock",
    "tool": "agentrig.tools",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agentrig' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "DRIFT_CLASSES",
    "FORMAT_VERSION",
    "SEMCONV_VERSION",
    "Agent",
    "AgentReply",
    "AgentRigError",
    "AgentrigWarning",
    "AllAgentsFailed",
    "Budget",
    "BudgetError",
    "BudgetExceeded",
    "BudgetExhausted",
    "BudgetPool",
    "BudgetStatistics",
    "CassetteError",
    "CassetteFormatError",
    "CassetteMiss",
    "Change",
    "ConfigurationError",
    "Deadline",
    "DeadlineExceeded",
    "DecisionLog",
    "DecisionLogContents",
    "DecisionLogError",
    "DriftConfig",
    "DriftReport",
    "EventBus",
    "FakeAgent",
    "FakeCall",
    "FakeModel",
    "FakeModelError",
    "FakeRateLimitError",
    "FakeReply",
    "FakeRequest",
    "FakeServerError",
    "FakeTimeoutError",
    "LedgerEntry",
    "Message",
    "NetworkBlocked",
    "NormalizeRules",
    "Price",
    "Recording",
    "RecordingError",
    "Reservation",
    "ScriptExhausted",
    "ScriptMismatch",
    "SnapshotError",
    "SnapshotFormatError",
    "Span",
    "StageBudget",
    "StallError",
    "Tolerance",
    "Tool",
    "ToolCall",
    "ToolExecution",
    "ToolResult",
    "Tracer",
    "UnscriptedCall",
    "UnsupportedEndpoint",
    "VirtualEventLoop",
    "active_recording",
    "compare",
    "current_span",
    "current_stage_budget",
    "default_tracer",
    "normalize",
    "read_decision_log",
    "run",
    "tool",
]
