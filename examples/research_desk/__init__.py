"""A research desk written the way teams write agents today: on the openai SDK, with tools."""

from research_desk.app import ANGLES, DeskResult, ResearchDesk, Review, search

__all__ = ["ANGLES", "DeskResult", "ResearchDesk", "Review", "search"]
