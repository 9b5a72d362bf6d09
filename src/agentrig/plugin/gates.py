"""Gates: an agentrig test fails at setup on a bad marker or ini value, and after its call when
it spent more than ``@pytest.mark.agentrig(max_usd=..., max_tokens=...)`` allows.

What a run spent is read from its recording: model calls' own cost (``agentrig.cost_usd`` on
their spans), plus budget charges made outside them. A model call's charge happens inside its
span, so it is counted once, from the span.
"""

from __future__ import annotations

from collections.abc import Generator
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from agentrig.money import format_usd
from agentrig.plugin.fixtures import RECORDING
from agentrig.plugin.settings import TestSettings
from agentrig.plugin.usage import is_agentrig_test

if TYPE_CHECKING:
    from agentrig.recording import Recording

__all__ = ["GATE", "GatesPlugin", "spend"]

#: Why the cost gate failed a test (on its item), for the summary and the reports.
GATE = pytest.StashKey[str]()


def spend(recording: Recording) -> tuple[Decimal, int]:
    """What a recorded run spent, in US dollars and tokens."""
    from agentrig.money import CONTEXT, ZERO, read_usd
    from agentrig.vocabulary import (
        AGENTRIG_COST_USD,
        GEN_AI_USAGE_INPUT_TOKENS,
        GEN_AI_USAGE_OUTPUT_TOKENS,
        EntryKind,
    )

    usd = ZERO
    tokens = 0
    costed: set[int] = set()
    for span in recording.spans:
        cost = read_usd(span.attributes.get(AGENTRIG_COST_USD))
        if cost is None:
            continue
        costed.add(span.span_id)
        usd = CONTEXT.add(usd, cost)
        for key in (GEN_AI_USAGE_INPUT_TOKENS, GEN_AI_USAGE_OUTPUT_TOKENS):
            count = span.attributes.get(key)
            if isinstance(count, int) and not isinstance(count, bool):
                tokens += count
    for entry in recording.entries:
        if entry.kind is not EntryKind.BUDGET_CHARGE or entry.span_id in costed:
            continue
        amount = read_usd(entry.data.get("usd", 0))
        if amount is not None:
            usd = CONTEXT.add(usd, amount)
        count = entry.data.get("tokens", 0)
        if isinstance(count, int) and not isinstance(count, bool):
            tokens += count
    return usd, tokens


class GatesPlugin:
    """The settings gate at setup and the cost gate after the call."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if not is_agentrig_test(item):
            return
        error = TestSettings.of(item).error
        if error is not None:
            pytest.fail(error, pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        result = yield
        recording = item.stash.get(RECORDING, None)
        if recording is None:
            return result
        settings = TestSettings.of(item)
        if settings.max_usd is None and settings.max_tokens is None:
            return result
        usd, tokens = spend(recording)
        over: list[str] = []
        if settings.max_usd is not None and usd > settings.max_usd:
            over.append(f"{format_usd(usd)} spent, over max_usd={format_usd(settings.max_usd)}")
        if settings.max_tokens is not None and tokens > settings.max_tokens:
            over.append(f"{tokens} tokens used, over max_tokens={settings.max_tokens}")
        if over:
            message = (
                f"agentrig cost gate: {item.nodeid}: {'; '.join(over)}. Make the run cheaper "
                "(fewer or shorter calls, a cheaper model) or raise the cap in "
                "@pytest.mark.agentrig(...)"
            )
            item.stash[GATE] = "; ".join(over)
            pytest.fail(message, pytrace=False)
        return result
