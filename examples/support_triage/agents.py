"""The agents the triage app talks to, and an adapter for a real chat model.

The app only needs objects with ``async run(prompt, *, budget=None)`` returning ``.text`` and
``.tokens`` (``agentrig.Agent``). In production those are :class:`ChatAgent` wrappers around a
provider's client; in the tests they are ``FakeModel`` agents.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from agentrig import Agent, Budget
from agentrig.tracing import (
    AGENTRIG_COST_USD,
    GEN_AI_AGENT_NAME,
    GEN_AI_OPERATION_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    OPERATION_CHAT,
    Tracer,
    default_tracer,
    model_call_span_name,
)


@dataclass(frozen=True)
class TriageAgents:
    """Every agent the app uses.

    Attributes:
        extractor: pulls the facts out of a raw ticket.
        classifier: turns facts into ``category: ...; priority: ...``.
        lookups: the context sources asked in parallel (knowledge base, orders, status page).
        synthesizer: merges what the lookups found.
        writer: drafts the reply to the customer.
        reviewer: QA; answers ``APPROVED`` or a critique.
    """

    extractor: Agent
    classifier: Agent
    lookups: Mapping[str, Agent]
    synthesizer: Agent
    writer: Agent
    reviewer: Agent


@dataclass(frozen=True)
class Completion:
    """What a provider returned for one prompt."""

    text: str
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class ChatReply:
    """What :class:`ChatAgent` returns (satisfies ``agentrig.AgentReply``)."""

    text: str
    tokens: int
    usd: Decimal


#: ``complete(model, system, prompt)``: one call to the provider.
Complete = Callable[[str, str, str], Awaitable[Completion]]


class ChatAgent:
    """A real model behind the agent protocol: instrumented, and charged to the budget.

    Args:
        name: the agent's name (``gen_ai.agent.name``).
        model: the provider's model name.
        system: the system prompt.
        complete: the provider call, e.g. for OpenAI::

            async def complete(model, system, prompt):
                r = await client.chat.completions.create(
                    model=model,
                    messages=[{"role": "system", "content": system},
                              {"role": "user", "content": prompt}],
                )
                return Completion(r.choices[0].message.content,
                                  r.usage.prompt_tokens, r.usage.completion_tokens)

        usd_per_1k: (input, output) prices in USD per 1k tokens.
        tracer: where the ``chat {model}`` spans go.
    """

    def __init__(
        self,
        name: str,
        *,
        model: str,
        system: str,
        complete: Complete,
        usd_per_1k: tuple[str, str],
        tracer: Tracer | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.system = system
        self._complete = complete
        self._price_in, self._price_out = (Decimal(p) for p in usd_per_1k)
        self._tracer = tracer

    async def run(self, prompt: str, *, budget: Budget | None = None) -> ChatReply:
        """Call the model once and charge what it cost to ``budget``."""
        tracer = self._tracer or default_tracer()
        attributes = {
            GEN_AI_OPERATION_NAME: OPERATION_CHAT,
            GEN_AI_AGENT_NAME: self.name,
            GEN_AI_REQUEST_MODEL: self.model,
        }
        with tracer.span(model_call_span_name(self.model), attributes=attributes) as span:
            done = await self._complete(self.model, self.system, prompt)
            usd = (done.input_tokens * self._price_in + done.output_tokens * self._price_out) / 1000
            span.set_attributes(
                {
                    GEN_AI_USAGE_INPUT_TOKENS: done.input_tokens,
                    GEN_AI_USAGE_OUTPUT_TOKENS: done.output_tokens,
                    AGENTRIG_COST_USD: float(usd),
                }
            )
            tokens = done.input_tokens + done.output_tokens
            if budget is not None:
                budget.charge(usd, tokens=tokens, label=f"model.call {self.name}")
            return ChatReply(done.text, tokens, usd)
