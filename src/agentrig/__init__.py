"""agentrig: deterministic, snapshot-based regression tests for multi-agent LLM systems.

The curated public namespace. Submodules with public API of their own: ``agentrig.clock``,
``agentrig.recording``, ``agentrig.normalize``, ``agentrig.drift``, ``agentrig.patterns``,
``agentrig.fake``, ``agentrig.tracing``.
"""

from agentrig._errors import (
    AgentRigError,
    AllAgentsFailed,
    BudgetError,
    BudgetExceeded,
    BudgetExhausted,
    ConfigurationError,
    DeadlineExceeded,
    DecisionLogError,
    FakeModelError,
    FakeRateLimitError,
    FakeTimeoutError,
    ScriptExhausted,
    SnapshotError,
    SnapshotFormatError,
    StallError,
    UnscriptedCall,
)
from agentrig._types import Agent, AgentReply, Budget
from agentrig.budget import BudgetPool, BudgetStatistics, LedgerEntry, StageBudget
from agentrig.bus import EventBus
from agentrig.clock import VirtualEventLoop, run
from agentrig.deadline import Deadline
from agentrig.decisions import DecisionLog, DecisionLogContents, read_decision_log
from agentrig.drift import DRIFT_CLASSES, Change, DriftConfig, DriftReport, Tolerance, compare
from agentrig.fake import FakeAgent, FakeCall, FakeModel, FakeReply, Price
from agentrig.normalize import FORMAT_VERSION, NormalizeRules, normalize
from agentrig.recording import Recording, active_recording
from agentrig.tracing import Span, Tracer, current_span, default_tracer

__version__ = "0.1.0"

__all__ = [
    "DRIFT_CLASSES",
    "FORMAT_VERSION",
    "Agent",
    "AgentReply",
    "AgentRigError",
    "AllAgentsFailed",
    "Budget",
    "BudgetError",
    "BudgetExceeded",
    "BudgetExhausted",
    "BudgetPool",
    "BudgetStatistics",
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
    "FakeTimeoutError",
    "LedgerEntry",
    "NormalizeRules",
    "Price",
    "Recording",
    "ScriptExhausted",
    "SnapshotError",
    "SnapshotFormatError",
    "Span",
    "StageBudget",
    "StallError",
    "Tolerance",
    "Tracer",
    "UnscriptedCall",
    "VirtualEventLoop",
    "active_recording",
    "compare",
    "current_span",
    "default_tracer",
    "normalize",
    "read_decision_log",
    "run",
]
