"""Support-ticket triage: classify a ticket, gather context in parallel, write a reviewed reply.

The flow of :func:`handle_ticket`, one pattern per step:

1. **triage** (pipeline): ``extract`` the facts from the raw ticket, then ``classify`` them
   into a category and a priority, each stage on its own slice of the ticket's budget;
2. **context** (broadcast): ask every lookup (knowledge base, orders, status page) at once;
   the ones that answer are merged by the synthesizer, the ones that fail are noted;
3. **reply** (supervisor): the writer drafts, QA approves or critiques, within the SLA.

Whenever a step cannot finish — the budget ran out, no lookup answered, QA never approved
within the SLA — the ticket is escalated to a human queue over the event bus.

The decision log, tracer and bus are module-level objects, as in any real service; agentrig
redirects their files into a test's temporary directory while a recording is active.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from agentrig import AllAgentsFailed, BudgetError
from agentrig.budget import BudgetPool
from agentrig.bus import EventBus
from agentrig.deadline import Deadline
from agentrig.decisions import DecisionLog
from agentrig.patterns import (
    BroadcastResult,
    Stage,
    SupervisorResult,
    run_broadcast,
    run_pipeline,
    run_supervisor,
)
from agentrig.tracing import Tracer
from support_triage.agents import TriageAgents

log = DecisionLog(path="triage_decisions.jsonl")
tracer = Tracer(export_path="traces/triage.jsonl")
bus = EventBus(name="triage")

CATEGORIES = ("billing", "bug", "account", "shipping", "general")
PRIORITIES = ("urgent", "high", "normal", "low")
#: Where escalated tickets go, by category.
QUEUES = {"billing": "finance-desk", "bug": "engineering-oncall", "shipping": "logistics"}
DEFAULT_QUEUE = "tier-2"

EXTRACT_PROMPT = "Extract the facts of this support ticket as short bullet points.\n\n{input}"
CLASSIFY_PROMPT = (
    "Classify the ticket from these facts. Answer exactly"
    " 'category: <billing|bug|account|shipping|general>; priority: <urgent|high|normal|low>'."
    "\n\nFacts:\n{input}"
)
_CLASSIFICATION = re.compile(r"category:\s*(\w+).*?priority:\s*(\w+)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Ticket:
    """A customer's ticket as it arrives."""

    id: str
    customer: str
    subject: str
    body: str

    def as_prompt(self) -> str:
        return f"Ticket {self.id} from {self.customer}\nSubject: {self.subject}\n\n{self.body}"


@dataclass(frozen=True)
class Triage:
    """What the triage pipeline decided."""

    category: str
    priority: str
    facts: str


@dataclass(frozen=True)
class Resolution:
    """How a ticket was handled."""

    ticket_id: str
    status: Literal["answered", "escalated"]
    category: str
    priority: str
    reply: str | None
    queue: str | None = None
    reason: str | None = None
    sources: tuple[str, ...] = ()
    usd: Decimal = Decimal(0)


@bus.on("ticket:escalated")
def route_escalation(event: dict[str, Any]) -> str:
    """Pick the human queue for an escalated ticket (the bus returns it to the emitter)."""
    queue = QUEUES.get(event["category"], DEFAULT_QUEUE)
    if event["priority"] == "urgent":
        queue += "/urgent"
    log.record("ticket_routed", ticket=event["ticket"], queue=queue, reason=event["reason"])
    return queue


def parse_classification(text: str) -> tuple[str, str] | None:
    """``("billing", "high")`` from ``"category: billing; priority: high"``, or ``None``."""
    match = _CLASSIFICATION.search(text)
    if match is None:
        return None
    category, priority = match.group(1).lower(), match.group(2).lower()
    if category not in CATEGORIES or priority not in PRIORITIES:
        return None
    return category, priority


async def triage(ticket: Ticket, agents: TriageAgents, *, pool: BudgetPool) -> Triage | None:
    """Extract and classify (a pipeline); ``None`` if the budget ran out first."""
    result = await run_pipeline(
        [
            Stage("extract", agents.extractor, max_usd="0.01", prompt=EXTRACT_PROMPT),
            Stage("classify", agents.classifier, max_usd="0.005", prompt=CLASSIFY_PROMPT),
        ],
        ticket.as_prompt(),
        pool=pool,
        tracer=tracer,
        log=log,
        name="triage",
    )
    if not result.completed:
        return None
    parsed = parse_classification(result["classify"].text)
    if parsed is None:
        log.record("classification_unreadable", ticket=ticket.id, text=result["classify"].text)
        parsed = ("general", "normal")
    return Triage(category=parsed[0], priority=parsed[1], facts=result["extract"].text)


async def gather_context(
    ticket: Ticket, found: Triage, agents: TriageAgents, *, pool: BudgetPool
) -> BroadcastResult:
    """Ask every lookup at once (a broadcast); raises AllAgentsFailed if none answers."""
    question = (
        f"Ticket {ticket.id} ({found.category}, {found.priority}).\n"
        f"Facts:\n{found.facts}\nFind what is relevant."
    )
    return await run_broadcast(
        agents.lookups,
        question,
        aggregator=agents.synthesizer,
        pool=pool,
        max_usd="0.005",  # per lookup: all of them run (and reserve their cap) at once
        timeout=20,
        tracer=tracer,
        log=log,
        name="context",
    )


async def write_reply(
    ticket: Ticket,
    found: Triage,
    context: str,
    agents: TriageAgents,
    *,
    pool: BudgetPool,
    sla: Deadline | float,
) -> SupervisorResult:
    """Draft and review the customer reply (a supervisor loop) within the SLA.

    ``sla`` is a hard limit: seconds from now, or a :class:`~agentrig.Deadline` the caller
    started (say, when the ticket arrived).
    """
    task = (
        f"Write a reply to {ticket.customer} about '{ticket.subject}'.\n"
        f"Category: {found.category}, priority: {found.priority}.\nContext:\n{context}"
    )
    return await run_supervisor(
        agents.writer,
        agents.reviewer,
        task,
        max_revisions=2,
        deadline=sla,
        pool=pool,
        max_usd="0.02",
        tracer=tracer,
        log=log,
        name="reply",
    )


async def escalate(
    ticket: Ticket, category: str, priority: str, reason: str, *, draft: str | None = None
) -> str:
    """Hand the ticket to a human queue; returns the queue."""
    queue: str = await bus.emit(
        "ticket:escalated", ticket=ticket.id, category=category, priority=priority, reason=reason
    )
    log.record("ticket_escalated", ticket=ticket.id, reason=reason, has_draft=draft is not None)
    return queue


async def handle_ticket(
    ticket: Ticket,
    agents: TriageAgents,
    *,
    pool: BudgetPool | None = None,
    usd: str = "0.10",
    sla: Deadline | float = 120,
) -> Resolution:
    """Triage, research and answer one ticket, or escalate it.

    Args:
        ticket: the ticket.
        agents: the agents to use.
        pool: the ticket's budget; default a new pool of ``usd`` named ``ticket <id>``.
        usd: what the ticket may cost at most (when no ``pool`` is given).
        sla: the hard limit for drafting and review: seconds from when drafting starts, or a
            running :class:`~agentrig.Deadline` (e.g. started when the ticket arrived).
    """
    if pool is None:
        pool = BudgetPool(usd=usd, name=f"ticket {ticket.id}")
    with tracer.span("ticket", attributes={"ticket.id": ticket.id}) as span:
        found = await triage(ticket, agents, pool=pool)
        if found is None:
            queue = await escalate(ticket, "general", "normal", "budget")
            return Resolution(
                ticket.id,
                "escalated",
                "general",
                "normal",
                None,
                queue,
                "budget",
                (),
                pool.spent_usd,
            )
        span.set_attributes({"ticket.category": found.category, "ticket.priority": found.priority})
        log.record(
            "ticket_triaged", ticket=ticket.id, category=found.category, priority=found.priority
        )

        try:
            context = await gather_context(ticket, found, agents, pool=pool)
        except (AllAgentsFailed, BudgetError) as exc:
            reason = "no_context" if isinstance(exc, AllAgentsFailed) else "budget"
            queue = await escalate(ticket, found.category, found.priority, reason)
            return Resolution(
                ticket.id,
                "escalated",
                found.category,
                found.priority,
                None,
                queue,
                reason,
                (),
                pool.spent_usd,
            )
        sources = context.succeeded

        reply = await write_reply(ticket, found, context.output or "", agents, pool=pool, sla=sla)
        if not reply.approved:
            queue = await escalate(
                ticket, found.category, found.priority, reply.outcome, draft=reply.output
            )
            return Resolution(
                ticket.id,
                "escalated",
                found.category,
                found.priority,
                reply.output,
                queue,
                reply.outcome,
                sources,
                pool.spent_usd,
            )
        log.record("ticket_answered", ticket=ticket.id, revisions=reply.revisions)
        return Resolution(
            ticket.id,
            "answered",
            found.category,
            found.priority,
            reply.output,
            sources=sources,
            usd=pool.spent_usd,
        )
