"""The scripts the triage tests run: a ticket and the fake agents that handle it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from support_triage import Ticket, Triage, TriageAgents

from agentrig.fake import FakeAgent, FakeModel

TICKET = Ticket(
    id="T-1042",
    customer="Dana",
    subject="Charged twice",
    body="Hi, I was charged twice for order 1042 on March 2nd. Please refund one of them.",
)

#: What the triage pipeline makes of :data:`TICKET` (the start of the later steps' tests).
TRIAGED = Triage(
    category="billing",
    priority="high",
    facts="- charged twice for order 1042 on March 2nd\n- wants one charge refunded",
)
#: What the context broadcast hands the reply writer.
CONTEXT = "Context from 3 sources: order 1042 was captured twice; refunds take 3-5 days."

#: ``make_agents(llm=..., **overrides)`` (the fixture in ``conftest.py``).
AgentFactory = Callable[..., TriageAgents]

#: The model the app runs on in production; the fake prices its calls the same way.
LLM = "gpt-4o-mini"


def build_agents(
    fake_model: FakeModel, *, llm: str = LLM, **overrides: dict[str, Any]
) -> TriageAgents:
    """The app's agents on ``fake_model``: a happy path, any agent's script overridable.

    Every agent is strict (a prompt its script does not expect fails the test loudly) and
    priced as ``llm`` (any model in ``agentrig.fake.DEFAULT_PRICES``). Each keyword replaces
    part of one agent's script (keyword arguments of ``fake_model.agent``), e.g.
    ``build_agents(fake_model, orders={"error": "rate_limit"})``.
    """

    def agent(name: str, **script: Any) -> FakeAgent:
        script = {"model": llm, "strict": True, **script, **overrides.get(name, {})}
        return fake_model.agent(name, **script)

    extractor = agent("extractor", latency=1.5)
    # Strict mode: the extractor answers only prompts about this ticket.
    extractor.on(
        re.compile(r"Ticket T-1042 .*charged twice", re.DOTALL),
        reply=TRIAGED.facts,
    )
    return TriageAgents(
        extractor=extractor,
        classifier=agent("classifier", reply="category: billing; priority: high", latency=1),
        lookups={
            "kb": agent("kb", reply="Duplicate charges are refunded within 3-5 days.", latency=2),
            "orders": agent(
                "orders", reply="Order 1042: two captures of $49.00 on 2025-03-02.", latency=4
            ),
            "status": agent("status", reply="Payments: operational.", latency=1),
        },
        synthesizer=agent(
            "synthesizer",
            reply=lambda prompt: (
                f"Context from {prompt.count(chr(10) + '[')} sources:"
                " order 1042 was captured twice; refunds take 3-5 days."
            ),
            latency=2,
        ),
        writer=agent(
            "writer",
            replies=[
                "Hi Dana, sorry about the double charge. We are looking into it.",
                "Hi Dana, sorry about the double charge on order 1042. We refunded"
                " $49.00 today; it reaches your card within 3-5 days.",
            ],
            latency=8,
        ),
        reviewer=agent(
            "reviewer",
            replies=["Say what we did and when the money arrives.", "APPROVED"],
            latency=3,
        ),
    )
