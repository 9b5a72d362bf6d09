"""The app: two pydantic-ai agents, one delegating to the other through a tool."""

from __future__ import annotations

from pydantic_ai import Agent, RunContext
from pydantic_ai.models import Model

#: What the knowledge base holds (a real service would query a search index).
KNOWLEDGE: dict[str, list[str]] = {
    "battery recycling": [
        "Hydrometallurgy recovers 95% of lithium.",
        "Pyrometallurgy is cheaper but loses lithium.",
    ],
    "solid-state batteries": ["Solid electrolytes resist dendrites."],
}

researcher = Agent(
    name="researcher",
    instructions="Research the topic with the search tool and summarize the findings.",
)
coordinator = Agent(
    name="coordinator",
    deps_type=Model,  # the model the researcher runs on
    instructions="Answer the question; delegate research to the researcher.",
)
# Instrumented as in production: every run, model call and tool call is an OpenTelemetry span.
researcher.instrument = True
coordinator.instrument = True


async def lookup(query: str) -> list[str]:
    """The knowledge-base client (the I/O a test replaces)."""
    return KNOWLEDGE.get(query.lower(), [])


@researcher.tool_plain
async def search(query: str) -> list[str]:
    """Search the knowledge base."""
    return await lookup(query)


@coordinator.tool
async def delegate_research(ctx: RunContext[Model], topic: str) -> str:
    """Ask the researcher about a topic."""
    result = await researcher.run(f"Research: {topic}", model=ctx.deps, usage=ctx.usage)
    return result.output


async def answer(question: str, *, coordinator_model: Model, researcher_model: Model) -> str:
    """Answer ``question``: the coordinator delegates research, then writes the answer."""
    result = await coordinator.run(question, model=coordinator_model, deps=researcher_model)
    return result.output
