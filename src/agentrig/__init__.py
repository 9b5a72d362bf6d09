"""agentrig: deterministic, snapshot-based regression tests for multi-agent LLM systems.

The curated public namespace, in two tiers. The top level holds what a test author constructs
and catches: the fake model, the runtime primitives, the recording, the errors. The engine
behind the snapshots lives in its modules: ``agentrig.normalize`` (``normalize``,
``NormalizeRules``, ``dumps``, ``loads``, ``FORMAT_VERSION``) and ``agentrig.drift``
(``compare``, ``DriftConfig``, ``DriftReport``, ``Change``, ``Tolerance``, ``DRIFT_CLASSES``).
No public name is also a submodule, so what this namespace offers cannot change when a
submodule is imported. Other submodules with public API of their own: ``agentrig.clock``,
``agentrig.recording``, ``agentrig.patterns``, ``agentrig.fake``, ``agentrig.tracing``,
``agentrig.chat``, ``agentrig.document`` (the snapshot document codec), ``agentrig.providers``
(the SDK interception seam), ``agentrig.otel`` (OpenTelemetry capture) and ``agentrig.otlp``
(OTLP/JSON export); they are reachable as attributes without an import.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentrig._errors import (
        AgentRigError,
        AgentrigWarning,
        AllAgentsFailed,
        ArgumentTypeError,
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
        StateError,
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
    from agentrig.fake import FakeAgent, FakeCall, FakeModel, FakeReply, Price
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
    "ArgumentTypeError": "agentrig._errors",
    "Budget": "agentrig._types",
    "BudgetError": "agentrig._errors",
    "BudgetExceeded": "agentrig._errors",
    "BudgetExhausted": "agentrig._errors",
    "BudgetPool": "agentrig.budget",
    "BudgetStatistics": "agentrig.budget",
    "CassetteError": "agentrig._errors",
    "CassetteFormatError": "agentrig._errors",
    "CassetteMiss": "agentrig._errors",
    "ConfigurationError": "agentrig._errors",
    "Deadline": "agentrig.deadline",
    "DeadlineExceeded": "agentrig._errors",
    "DecisionLog": "agentrig.decisions",
    "DecisionLogContents": "agentrig.decisions",
    "DecisionLogError": "agentrig._errors",
    "EventBus": "agentrig.bus",
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
    "StateError": "agentrig._errors",
    "Tool": "agentrig.chat",
    "ToolCall": "agentrig.chat",
    "ToolResult": "agentrig.chat",
    "ToolExecution": "agentrig.tools",
    "Tracer": "agentrig.tracing",
    "UnscriptedCall": "agentrig._errors",
    "UnsupportedEndpoint": "agentrig._errors",
    "VirtualEventLoop": "agentrig.clock",
    "active_recording": "agentrig.recording",
    "current_span": "agentrig.tracing",
    "current_stage_budget": "agentrig.budget",
    "default_tracer": "agentrig.tracing",
    "read_decision_log": "agentrig.decisions",
    "run": "agentrig.clock",
    "tool": "agentrig.tools",
}

# Submodules reachable as attributes before anything imported them (``agentrig.drift.compare``).
_SUBMODULES: frozenset[str] = frozenset(
    {
        "chat",
        "clock",
        "document",
        "drift",
        "fake",
        "normalize",
        "otel",
        "otlp",
        "patterns",
        "providers",
        "recording",
        "tracing",
    }
)
# Engine names that left the top level: the module that holds them now. Still served, with a
# DeprecationWarning that says where to import them from.
_MOVED: dict[str, str] = {
    "Change": "agentrig.drift",
    "DRIFT_CLASSES": "agentrig.drift",
    "DriftConfig": "agentrig.drift",
    "DriftReport": "agentrig.drift",
    "FORMAT_VERSION": "agentrig.normalize",
    "NormalizeRules": "agentrig.normalize",
    "Tolerance": "agentrig.drift",
    "compare": "agentrig.drift",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        if name in _SUBMODULES:
            return importlib.import_module(f"agentrig.{name}")  # binds it on the package
        moved = _MOVED.get(name)
        if moved is None:
            raise AttributeError(f"module 'agentrig' has no attribute {name!r}")
        warnings.warn(
            f"agentrig.{name} is engine API now: use `from {moved} import {name}`",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(moved), name)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "SEMCONV_VERSION",
    "Agent",
    "AgentReply",
    "AgentRigError",
    "AgentrigWarning",
    "AllAgentsFailed",
    "ArgumentTypeError",
    "Budget",
    "BudgetError",
    "BudgetExceeded",
    "BudgetExhausted",
    "BudgetPool",
    "BudgetStatistics",
    "CassetteError",
    "CassetteFormatError",
    "CassetteMiss",
    "ConfigurationError",
    "Deadline",
    "DeadlineExceeded",
    "DecisionLog",
    "DecisionLogContents",
    "DecisionLogError",
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
    "StateError",
    "Tool",
    "ToolCall",
    "ToolExecution",
    "ToolResult",
    "Tracer",
    "UnscriptedCall",
    "UnsupportedEndpoint",
    "VirtualEventLoop",
    "active_recording",
    "current_span",
    "current_stage_budget",
    "default_tracer",
    "read_decision_log",
    "run",
    "tool",
]
