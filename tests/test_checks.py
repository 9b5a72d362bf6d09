"""One validator per kind of argument: the same mistake reads the same way in every constructor."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from agentrig import BudgetPool, ConfigurationError, Deadline, FakeModel, VirtualEventLoop, run
from agentrig.fake import rate_limit, timeout
from agentrig.patterns import degrade, with_retry

_AGENT = FakeModel().agent("a", reply="x")

#: Every constructor that takes a duration, with the name it gives the argument.
SECONDS: dict[str, tuple[Callable[[Any], object], str]] = {
    "Deadline": (lambda v: Deadline(v), "Deadline `seconds`"),
    "agent latency": (lambda v: FakeModel().agent("a", reply="x", latency=v), "`latency`"),
    "rate_limit": (lambda v: rate_limit(retry_after=v), "`retry_after`"),
    "timeout": (lambda v: timeout(after=v), "`after`"),
    "VirtualEventLoop": (lambda v: VirtualEventLoop(stall_timeout=v), "`stall_timeout`"),
    "degrade": (lambda v: degrade(_AGENT, fallback="x", needs_seconds=v), "`needs_seconds`"),
}


@pytest.mark.parametrize("where", sorted(SECONDS))
@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("soon", "must be a number of seconds, got 'soon'"),
        (True, "must be a number of seconds, got True"),
        (math.nan, "must be a finite number of seconds, got nan"),
        (math.inf, "must be a finite number of seconds, got inf"),
        (-1, "must be non-negative, got -1"),
    ],
)
def test_a_bad_duration_reads_the_same_in_every_constructor(
    where: str, value: object, rule: str
) -> None:
    make, label = SECONDS[where]
    with pytest.raises(ConfigurationError) as refused:
        make(value)
    assert str(refused.value) == f"{label} {rule}"


def test_a_wait_bounded_by_seconds_takes_infinity_as_never_and_refuses_nan() -> None:
    pool = BudgetPool(usd=1)

    async def main() -> None:
        async with pool.acquire(wait=True, deadline=math.inf):
            pass
        with pytest.raises(ConfigurationError) as refused:
            async with pool.acquire(wait=True, deadline=math.nan):
                pass
        assert str(refused.value) == "`deadline` must be a number (inf: never) of seconds, got nan"

    run(main())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: BudgetPool(usd=1, tokens=1.5), "`tokens` must be a whole number of tokens"),
        (lambda: BudgetPool(usd=1, tokens=-1), "`tokens` must be non-negative, got -1"),
        (lambda: BudgetPool(usd=1, name=""), "BudgetPool `name` must be a non-empty string"),
        (
            lambda: BudgetPool(usd=1).acquire_nowait(name=3),
            "stage `name` must be a non-empty string or None, got 3",
        ),
        (lambda: with_retry(_AGENT, multiplier=0.5), "`multiplier` must be finite and >= 1"),
        (lambda: with_retry(_AGENT, jitter="x"), "`jitter` must be a number, got 'x'"),
    ],
)
def test_counts_names_and_factors_name_the_argument(
    make: Callable[[], object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(")):
        make()
