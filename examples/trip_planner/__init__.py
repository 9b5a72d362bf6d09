"""A trip planner on pydantic-ai with Anthropic's Claude: a tool, structured output, a budget."""

from trip_planner.app import Itinerary, plan_trip, planner

__all__ = ["Itinerary", "plan_trip", "planner"]
