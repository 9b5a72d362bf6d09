"""A small pydantic-ai app on the Anthropic provider, as a team would write it.

``planner`` is a pydantic-ai ``Agent`` on ``claude-haiku-4-5``: it may call the
``weather`` tool for each city, and must answer with an :class:`Itinerary` (pydantic-ai asks
Claude for it through its ``final_result`` output tool). :func:`plan_trip` runs it inside a
stage of the caller's :class:`~agentrig.BudgetPool`, so every model call is charged there.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_ai import Agent
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.providers.anthropic import AnthropicProvider

from agentrig import BudgetPool

MODEL = "claude-haiku-4-5"
#: The planner's weather source (a real app would call a weather API).
FORECASTS = {"lisbon": "sunny, 24C", "porto": "cloudy, 19C", "madrid": "hot, 31C"}


class Stop(BaseModel):
    city: str
    days: int = Field(ge=1)
    weather: str


class Itinerary(BaseModel):
    title: str
    stops: list[Stop]


def planner() -> Agent[None, Itinerary]:
    """The planning agent (built on call: the provider reads ``ANTHROPIC_API_KEY``)."""
    agent = Agent(
        AnthropicModel(MODEL, provider=AnthropicProvider()),
        output_type=Itinerary,
        system_prompt="You are a travel planner. Check the weather of every city you plan.",
    )

    @agent.tool_plain
    def weather(city: str) -> str:
        """The forecast for a city."""
        return FORECASTS.get(city.lower(), "unknown")

    return agent


async def plan_trip(request: str, *, pool: BudgetPool) -> Itinerary:
    """Plan a trip within the ``planning`` stage of ``pool``."""
    async with pool.acquire(max_usd="0.01", name="planning"):
        result = await planner().run(request)
    return result.output
