"""A small support-ticket triage service built on agentrig's patterns and primitives."""

from __future__ import annotations

from support_triage.agents import ChatAgent, ChatReply, Completion, TriageAgents
from support_triage.app import (
    Resolution,
    Ticket,
    Triage,
    bus,
    gather_context,
    handle_ticket,
    log,
    parse_classification,
    tracer,
    triage,
    write_reply,
)

__all__ = [
    "ChatAgent",
    "ChatReply",
    "Completion",
    "Resolution",
    "Ticket",
    "Triage",
    "TriageAgents",
    "bus",
    "gather_context",
    "handle_ticket",
    "log",
    "parse_classification",
    "tracer",
    "triage",
    "write_reply",
]
