"""Tokens and prices: the fake's deterministic token count and per-model USD prices."""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final

from agentrig._errors import (
    ConfigurationError,
)
from agentrig._types import Money
from agentrig.fake.script import DEFAULT_MODEL
from agentrig.money import CONTEXT, parse_usd

_THOUSAND = Decimal(1000)


# -- tokens ---------------------------------------------------------------------------------

# ASCII classes only: Unicode tables change between Python versions, this count must not.
# One match per token: a run of letters splits into matches of at most 8 (ceil(len / 8) of
# them), digits of at most 3, and every other non-blank character is one (counted in C).
_TOKEN_RE = re.compile(r"[A-Za-z]{1,8}|[0-9]{1,3}|[^ \t\n\r\f\v]")


def count_tokens(text: str) -> int:
    """The deterministic token count FakeModel uses (approximately tiktoken-like).

    Letter runs count ``ceil(len / 8)``, digit runs ``ceil(len / 3)``, every other
    character (punctuation, each non-ASCII character) one; ASCII whitespace is free.

    Args:
        text: the text to count.

    Returns:
        The number of tokens (0 for an empty or all-whitespace text).

    Usage::

        count_tokens("Hello, world!")          # 4: Hello , world !
        count_tokens("internationalization")   # 3
        count_tokens("2025")                   # 2: 202 5
    """
    return len(_TOKEN_RE.findall(text))


# -- prices ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Price:
    """What a model costs, in US dollars per 1,000 tokens, exact.

    Args:
        input_per_1k: USD per 1k prompt tokens.
        output_per_1k: USD per 1k reply tokens.

    Usage::

        FakeModel(prices={"my-model": Price("0.003", "0.015")})
        FakeModel(prices={"my-model": (0.003, 0.015)})     # a pair works too
    """

    input_per_1k: Decimal
    output_per_1k: Decimal

    def __init__(self, input_per_1k: Money, output_per_1k: Money) -> None:
        object.__setattr__(self, "input_per_1k", parse_usd(input_per_1k, "input_per_1k"))
        object.__setattr__(self, "output_per_1k", parse_usd(output_per_1k, "output_per_1k"))

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        """The exact cost of a call with these token counts."""
        total = CONTEXT.add(
            CONTEXT.multiply(Decimal(input_tokens), self.input_per_1k),
            CONTEXT.multiply(Decimal(output_tokens), self.output_per_1k),
        )
        return CONTEXT.divide(total, _THOUSAND)


#: Default prices (USD per 1k input / output tokens, base tier), as published by the
#: providers (figures cross-checked with the ``genai-prices`` data, 2026-12). A dated variant
#: (``gpt-4o-mini-2024-07-18``, ``claude-haiku-4-5-20251001``) is priced as its base name.
#: ``fake-model`` is priced like a typical frontier model so that costs look realistic.
#: Override or extend with ``FakeModel(prices={...})``.
DEFAULT_PRICES: Final[Mapping[str, Price]] = MappingProxyType(
    {
        DEFAULT_MODEL: Price("0.0025", "0.01"),
        # OpenAI
        "gpt-5.5": Price("0.01", "0.045"),
        "gpt-5.2": Price("0.00175", "0.014"),
        "gpt-5.1": Price("0.00125", "0.01"),
        "gpt-5": Price("0.00125", "0.01"),
        "gpt-5-mini": Price("0.00025", "0.002"),
        "gpt-5-nano": Price("0.00005", "0.0004"),
        "gpt-4o": Price("0.0025", "0.01"),
        "gpt-4o-mini": Price("0.00015", "0.0006"),
        "gpt-4.1": Price("0.002", "0.008"),
        "gpt-4.1-mini": Price("0.0004", "0.0016"),
        "gpt-4.1-nano": Price("0.0001", "0.0004"),
        "o3": Price("0.002", "0.008"),
        "o3-mini": Price("0.0011", "0.0044"),
        "o4-mini": Price("0.0011", "0.0044"),
        # Anthropic
        "claude-opus-5-5": Price("0.004", "0.02"),
        "claude-opus-5": Price("0.005", "0.025"),
        "claude-sonnet-5-5": Price("0.002", "0.01"),
        "claude-sonnet-5": Price("0.002", "0.01"),
        "claude-haiku-5-5": Price("0.0005", "0.0025"),
        "claude-opus-4-8": Price("0.005", "0.025"),
        "claude-opus-4-7": Price("0.005", "0.025"),
        "claude-opus-4-6": Price("0.005", "0.025"),
        "claude-opus-4-5": Price("0.005", "0.025"),
        "claude-opus-4-1": Price("0.015", "0.075"),
        "claude-opus-4": Price("0.015", "0.075"),
        "claude-sonnet-4-6": Price("0.003", "0.015"),
        "claude-sonnet-4-5": Price("0.003", "0.015"),
        "claude-sonnet-4": Price("0.003", "0.015"),
        "claude-haiku-4-5": Price("0.001", "0.005"),
        "claude-3-5-haiku": Price("0.0008", "0.004"),
        # Google
        "gemini-2.0-flash": Price("0.0001", "0.0004"),
    }
)


def to_price(model: str, value: object) -> Price:
    if isinstance(value, Price):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        return Price(value[0], value[1])
    if isinstance(value, (numbers.Real, Decimal, str)) and not isinstance(value, bool):
        amount = parse_usd(value, f"prices[{model!r}]")  # any amount parse_usd reads
        return Price(amount, amount)
    raise ConfigurationError(
        f"prices[{model!r}] must be a Price, an (input_per_1k, output_per_1k) pair of USD"
        f" amounts, or one amount for both, got {value!r}"
    )


# A dated snapshot or alias of a model: gpt-4o-2024-08-06, claude-haiku-4-5-20251001, ...-latest.
VARIANT_RE = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$")


def is_variant_of(model: str, name: str) -> bool:
    """Whether ``model`` is ``name`` or a dated variant of it (``name-2025-01-31``,
    ``name-20250131``, ``name-latest``), not another model sharing a prefix (``gpt-4o-mini``
    is no variant of ``gpt-4o``)."""
    return model == name or VARIANT_RE.sub("", model) == name
