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
from agentrig.fake import FakeAgent, FakeCall, FakeModel, FakeReply, Price
from agentrig.recording import Recording, active_recording
from agentrig.tracing import Span, Tracer, current_span, default_tracer

__version__ = "0.1.0"

__all__ = [
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
    "FakeTimeoutError",
    "LedgerEntry",
    "Price",
    "Recording",
    "ScriptExhausted",
    "SnapshotError",
    "SnapshotFormatError",
    "Span",
    "StageBudget",
    "StallError",
    "Tracer",
    "UnscriptedCall",
    "VirtualEventLoop",
    "active_recording",
    "current_span",
    "default_tracer",
    "read_decision_log",
    "run",
]
