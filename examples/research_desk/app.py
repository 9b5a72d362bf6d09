"""A research desk on the openai SDK: three researchers with a search tool, a writer, a reviewer.

:meth:`ResearchDesk.run` answers one research question:

1. **research** (a broadcast): three researchers, one per angle, work at once. Each is a tool
   loop on ``chat.completions``: the model asks for ``search`` calls, the desk runs them
   against its index and sends the results back, until the model answers with its notes. A
   researcher that fails (after the SDK's own retries) is left out and noted.
2. **write**: the writer turns the notes into a brief.
3. **review** (a supervisor loop): the reviewer answers with structured output
   (``chat.completions.parse`` into :class:`Review`); a critique sends the brief back to the
   writer, at most ``max_revisions`` times, and never past the desk's ``Deadline``.

Every stage runs inside ``pool.acquire(...)``: the model calls made in it are charged to that
stage without the code passing a budget around. Nothing here knows about tests.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import openai
from pydantic import BaseModel

from agentrig import BudgetExceeded, BudgetExhausted, BudgetPool, Deadline
from agentrig.decisions import DecisionLog
from agentrig.tracing import Tracer

log = DecisionLog(path="research_decisions.jsonl")
tracer = Tracer(export_path="traces/research.jsonl")

RESEARCH_MODEL = "gpt-4o-mini"
WRITER_MODEL = "gpt-4.1"
REVIEW_MODEL = "gpt-4.1-mini"
ANGLES = ("market", "technology", "regulation")
MAX_TOOL_STEPS = 4

SEARCH_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the desk's document index; returns the best matching snippets.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "what to look for"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 5},
            },
            "required": ["query"],
            "additionalProperties": False,
        },
    },
}

#: The desk's document index (a real desk would query a search service).
INDEX = {
    "market": "Agent-testing tools: 14 vendors, most under two years old.",
    "pricing": "Teams spend $2k-$40k a month on model calls in CI.",
    "technology": "Deterministic fakes and record/replay replace live model calls in CI.",
    "regulation": "The EU AI Act asks for documented testing of high-risk systems.",
    "audit": "Auditors ask for reproducible evidence of each release's behaviour.",
}


def search(query: str, limit: int = 2) -> str:
    """The search tool: snippets whose key appears in the query, best first."""
    words = query.lower()
    hits = [text for key, text in INDEX.items() if key in words]
    return "\n".join(hits[:limit]) or "no results"


class Review(BaseModel):
    """The reviewer's verdict (structured output)."""

    approved: bool
    critique: str


@dataclass
class DeskResult:
    """What the desk produced, and why it stopped."""

    outcome: Literal["approved", "max_revisions", "deadline", "over_budget", "no_research"]
    brief: str | None
    notes: dict[str, str] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    revisions: int = 0
    searches: list[str] = field(default_factory=list)


class ResearchDesk:
    """One desk: an openai client and the models it uses.

    Args:
        client: the SDK client; default ``openai.AsyncOpenAI()`` (reads ``OPENAI_API_KEY``).
        max_revisions: how often the reviewer may send the brief back.
        research_usd, write_usd, review_usd: what each stage may spend (USD).
    """

    def __init__(
        self,
        client: openai.AsyncOpenAI | None = None,
        *,
        max_revisions: int = 2,
        research_usd: str = "0.004",
        write_usd: str = "0.004",
        review_usd: str = "0.002",
    ):
        self.client = client if client is not None else openai.AsyncOpenAI()
        self.max_revisions = max_revisions
        self.research_usd = research_usd
        self.write_usd = write_usd
        self.review_usd = review_usd
        self._searches: list[str] = []

    async def run(self, question: str, *, pool: BudgetPool, deadline: Deadline) -> DeskResult:
        """Research ``question`` within ``pool`` and before ``deadline``."""
        self._searches = []
        with tracer.span("research_desk", attributes={"question": question}):
            try:
                async with pool.acquire(max_usd=self.research_usd, name="research"):
                    notes, failed = await self._research(question)
                if not notes:
                    log.record(decision="no_research", failed=failed)
                    return DeskResult("no_research", None, failed=failed, searches=self._searches)
                async with pool.acquire(max_usd=self.write_usd, name="write"):
                    brief = await self._write(question, notes, critique=None)
                result = await self._review_loop(question, notes, brief, pool, deadline)
            except (BudgetExceeded, BudgetExhausted) as exc:
                log.record(decision="over_budget", error=type(exc).__name__)
                return DeskResult("over_budget", None, searches=self._searches)
            result.failed = failed
            result.searches = self._searches
            return result

    # -- the stages -----------------------------------------------------------------------------

    async def _research(self, question: str) -> tuple[dict[str, str], list[str]]:
        with tracer.span("research"):
            results = await asyncio.gather(
                *(self._researcher(question, angle) for angle in ANGLES), return_exceptions=True
            )
        notes, failed = {}, []
        for angle, result in zip(ANGLES, results, strict=True):
            if isinstance(result, BaseException):
                if isinstance(result, (BudgetExceeded, BudgetExhausted)):
                    raise result
                failed.append(angle)
                log.record(decision="researcher_failed", angle=angle, error=type(result).__name__)
            else:
                notes[angle] = result
        return notes, failed

    async def _researcher(self, question: str, angle: str) -> str:
        """One researcher: a tool loop until the model answers with notes."""
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": f"You are a researcher covering the {angle} angle."},
            {"role": "user", "content": question},
        ]
        for _ in range(MAX_TOOL_STEPS):
            response = await self.client.chat.completions.create(
                model=RESEARCH_MODEL, messages=messages, tools=[SEARCH_TOOL], temperature=0
            )
            message = response.choices[0].message
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                arguments = json.loads(call.function.arguments)
                self._searches.append(f"{angle}: {arguments['query']}")
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": search(**arguments)}
                )
        raise RuntimeError(f"researcher {angle!r} did not finish in {MAX_TOOL_STEPS} steps")

    async def _write(self, question: str, notes: dict[str, str], critique: str | None) -> str:
        sources = "\n".join(f"- {angle}: {text}" for angle, text in notes.items())
        prompt = f"Question: {question}\nNotes:\n{sources}"
        if critique:
            prompt += f"\nRevise for this critique: {critique}"
        response = await self.client.chat.completions.create(
            model=WRITER_MODEL,
            messages=[
                {"role": "system", "content": "You are the writer of a research desk."},
                {"role": "user", "content": prompt},
            ],
        )
        return response.choices[0].message.content or ""

    async def _review_loop(
        self,
        question: str,
        notes: dict[str, str],
        brief: str,
        pool: BudgetPool,
        deadline: Deadline,
    ) -> DeskResult:
        revisions = 0
        with tracer.span("review"):
            while True:
                if deadline.expired():
                    log.record(decision="deadline", revisions=revisions)
                    return DeskResult("deadline", brief, notes, revisions=revisions)
                async with pool.acquire(max_usd=self.review_usd, name=f"review {revisions + 1}"):
                    parsed = await self.client.chat.completions.parse(
                        model=REVIEW_MODEL,
                        messages=[
                            {"role": "system", "content": "You are the reviewer. Be strict."},
                            {"role": "user", "content": brief},
                        ],
                        response_format=Review,
                    )
                    review = parsed.choices[0].message.parsed
                    assert review is not None
                    log.record(decision="review", approved=review.approved, revision=revisions)
                    if review.approved:
                        return DeskResult("approved", brief, notes, revisions=revisions)
                    if revisions == self.max_revisions:
                        return DeskResult("max_revisions", brief, notes, revisions=revisions)
                    revisions += 1
                    brief = await self._write(question, notes, critique=review.critique)
