"""Aliases and Protocols shared by the layers: what an agent, a reply and a budget look like."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol, TypeAlias, runtime_checkable

__all__ = ["Agent", "AgentReply", "Budget", "Money"]

#: An amount of US dollars, as :func:`agentrig.money.parse_usd` reads it (which also takes a
#: ``Fraction`` and numpy scalars); a float is read through ``repr``: ``0.1`` is one tenth.
Money: TypeAlias = "Decimal | int | float | str"


@runtime_checkable
class AgentReply(Protocol):
    """What an agent's ``run`` returns: at least the text and the tokens it used."""

    @property
    def text(self) -> str: ...

    @property
    def tokens(self) -> int: ...


@runtime_checkable
class Budget(Protocol):
    """Something a call can be charged to (a stage budget from ``BudgetPool.acquire``)."""

    def charge(self, usd: Money = 0, *, tokens: int = 0, label: str | None = None) -> None: ...


@runtime_checkable
class Agent(Protocol):
    """Anything with ``async run(prompt, *, budget=None)`` returning an :class:`AgentReply`.

    FakeModel agents and real model wrappers both qualify; the patterns accept either.
    """

    async def run(self, prompt: str, *, budget: Budget | None = None) -> AgentReply: ...
