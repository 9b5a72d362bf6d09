"""BudgetPool and StageBudget: exact money, reservations, waiting, the ledger, the recording."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import decimal
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from agentrig import (
    AgentRigError,
    BudgetError,
    BudgetExceeded,
    BudgetExhausted,
    ConfigurationError,
    StateError,
)
from agentrig._types import Budget
from agentrig.budget import BudgetPool, BudgetStatistics, LedgerEntry, StageBudget
from agentrig.clock import run
from agentrig.deadline import Deadline
from agentrig.recording import Recording

D = Decimal


@dataclass
class _Reply:
    text: str
    tokens: int


class _ChargingAgent:
    """A minimal agent: charges a fixed cost to the budget it is given."""

    def __init__(self, usd: float, tokens: int) -> None:
        self.usd = usd
        self.tokens = tokens

    async def run(self, prompt: str, *, budget: Budget | None = None) -> _Reply:
        if budget is not None:
            budget.charge(self.usd, tokens=self.tokens, label="research")
        return _Reply(text=f"notes about {prompt}", tokens=self.tokens)


# -- the seed usage ---------------------------------------------------------------------------


async def test_seed_snippet_works_verbatim() -> None:
    research_agent = _ChargingAgent(usd=0.012, tokens=900)
    raw_input = "X"

    pool = BudgetPool(usd=0.10)
    async with pool.acquire(max_usd=0.04) as stage_budget:
        out = await research_agent.run(raw_input, budget=stage_budget)

    assert out.text == "notes about X"
    stats = pool.statistics()
    assert stats.spent_usd == D("0.012")
    assert stats.reserved_usd == 0
    assert stats.available_usd == D("0.088")
    assert stats.spent_tokens == 900
    assert stage_budget.closed
    assert repr(pool) == "<BudgetPool 'pool' cap=$0.10 spent=$0.012 reserved=$0.00>"


def test_stage_budget_satisfies_the_budget_protocol() -> None:
    with BudgetPool(usd=1).acquire_nowait() as stage:
        assert isinstance(stage, Budget)


# -- exact money ------------------------------------------------------------------------------


def test_point_one_plus_point_two_fits_a_point_three_cap_exactly() -> None:
    pool = BudgetPool(usd=0.3)
    with pool.acquire_nowait(max_usd=0.3) as stage:
        stage.charge(0.1)
        stage.charge(0.2)  # with floats, 0.1 + 0.2 = 0.30000000000000004 > 0.3
        assert stage.spent_usd == D("0.3")
        assert stage.remaining_usd == 0
        assert not stage.can_afford(D("1e-30"))
    assert pool.spent_usd == D("0.3")
    assert [e.accepted for e in pool.ledger] == [True, True]


@pytest.mark.parametrize(
    ("given", "exact"),
    [
        (0.1, D("0.1")),
        (0.04, D("0.04")),
        (1, D(1)),
        ("0.035", D("0.035")),
        (" 0.5 ", D("0.5")),
        (D("0.000002"), D("0.000002")),
        (0, D(0)),
        (-0.0, D(0)),
    ],
)
def test_amounts_of_every_accepted_type_are_read_exactly(given: Any, exact: Decimal) -> None:
    assert BudgetPool(usd=given).cap_usd == exact


def test_money_stays_exact_whatever_the_callers_decimal_context() -> None:
    pool = BudgetPool(usd=10)
    with decimal.localcontext() as ctx:
        ctx.prec = 2  # a caller's narrow context must not round the pool's sums
        with pool.acquire_nowait() as stage:
            stage.charge("1.234")
            stage.charge("0.001")
    assert pool.spent_usd == D("1.235")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (float("nan"), r"`usd` must be a finite amount of US dollars, got nan"),
        (D("NaN"), r"`usd` must be a finite amount of US dollars, got Decimal\('NaN'\)"),
        ("nan", r"`usd` must be a finite amount of US dollars, got 'nan'"),
        (float("inf"), r"`usd` must be a finite amount of US dollars, got inf"),
        (float("-inf"), r"`usd` must be a finite amount of US dollars, got -inf"),
        (D("Infinity"), r"`usd` must be a finite amount"),
        (-0.01, r"`usd` must be non-negative, got -0.01"),
        (D("-1"), r"`usd` must be non-negative, got Decimal\('-1'\)"),
        (True, r"`usd` must be an amount of US dollars, got the boolean True"),
        (None, r"`usd` must be an amount of US dollars \(Decimal, int, float or str\), got None"),
        ([0.1], r"got \[0.1\] of type list"),
        ("ten cents", r"`usd` must be an amount of US dollars, got the string 'ten cents'"),
        (10**15, r"`usd` must be below 10\*\*15 US dollars"),
        (D("1e-61"), r"`usd` has more than 60 decimal places"),
    ],
)
def test_bad_pool_caps_are_refused_naming_the_parameter_and_value(bad: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        BudgetPool(usd=bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.01, True, "abc"])
def test_bad_charges_are_refused_before_touching_the_ledger(bad: Any) -> None:
    pool = BudgetPool(usd=1)
    with pool.acquire_nowait() as stage:
        with pytest.raises(ConfigurationError, match=r"`usd` must be"):
            stage.charge(bad)
        with pytest.raises(ConfigurationError, match=r"`usd` must be"):
            stage.can_afford(bad)
    assert pool.ledger == ()
    assert pool.spent_usd == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_usd": float("nan")}, r"`max_usd` must be a finite amount"),
        ({"max_usd": -1}, r"`max_usd` must be non-negative, got -1"),
        ({"max_tokens": -5}, r"`max_tokens` must be non-negative, got -5"),
        ({"max_tokens": 1.5}, r"`max_tokens` must be a whole number of tokens \(an int\), got 1.5"),
        ({"max_tokens": False}, r"`max_tokens` must be a whole number of tokens"),
        ({"name": ""}, r"stage `name` must be a non-empty string or None, got ''"),
        ({"max_usd": 0.2}, r"a stage asks for max_usd=\$0.20, more than pool 'p'"),
        ({"max_usd": 0.2, "name": "x"}, r"stage 'x' asks .* can ever hold \(cap \$0.10\); lower"),
        ({"max_tokens": 101}, r"max_tokens=101, more than pool 'p' can ever hold \(cap 100"),
    ],
)
def test_bad_acquire_arguments_are_configuration_errors(
    kwargs: dict[str, Any], message: str
) -> None:
    pool = BudgetPool(usd=0.10, tokens=100, name="p")
    with pytest.raises(ConfigurationError, match=message):
        pool.acquire_nowait(**kwargs)
    with pytest.raises(ConfigurationError, match=message):
        pool.acquire(**kwargs)  # checked at the call, not when the block is entered
    with pool.acquire_nowait(max_usd=0.01) as stage:
        assert stage.name == "stage-1"  # invalid acquires take no number


def test_bad_pool_tokens_and_names_are_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"`tokens` must be non-negative, got -1"):
        BudgetPool(usd=1, tokens=-1)
    with pytest.raises(ConfigurationError, match=r"`tokens` must be a whole number"):
        BudgetPool(usd=1, tokens=True)
    with pytest.raises(ConfigurationError, match=r"BudgetPool `name` must be a non-empty"):
        BudgetPool(usd=1, name="")


def test_configuration_errors_are_value_errors_and_agentrig_errors() -> None:
    with pytest.raises(ValueError):
        BudgetPool(usd=-1)
    assert issubclass(BudgetExceeded, BudgetError)
    assert issubclass(BudgetExhausted, BudgetError)
    assert issubclass(BudgetError, AgentRigError)


# -- the grant rule ---------------------------------------------------------------------------


def test_a_stage_is_granted_its_max_usd_when_the_pool_has_it() -> None:
    pool = BudgetPool(usd=0.10)
    with pool.acquire_nowait(max_usd=0.04, name="research") as stage:
        assert stage.cap_usd == D("0.04")
        assert stage.requested_usd == D("0.04")
        assert pool.statistics().reserved_usd == D("0.04")
        assert pool.available_usd == D("0.06")


def test_a_stage_is_granted_only_what_the_pool_has_left() -> None:
    pool = BudgetPool(usd=0.10)
    first = pool.acquire_nowait(max_usd=0.07)
    second = pool.acquire_nowait(max_usd=0.05)
    assert second.cap_usd == D("0.03")  # min(max_usd, available)
    assert second.requested_usd == D("0.05")
    assert pool.available_usd == 0
    first.close()
    second.close()


def test_max_usd_none_takes_whatever_is_left() -> None:
    pool = BudgetPool(usd=0.10)
    with pool.acquire_nowait(max_usd=0.04), pool.acquire_nowait() as rest:
        assert rest.cap_usd == D("0.06")
        assert rest.requested_usd is None


def test_max_usd_zero_is_granted_even_from_an_exhausted_pool() -> None:
    pool = BudgetPool(usd=0.10)
    with pool.acquire_nowait(), pool.acquire_nowait(max_usd=0) as free:
        assert free.cap_usd == 0
        free.charge(0)  # free work is fine
        with pytest.raises(BudgetExceeded):
            free.charge(0.01)


def test_stages_are_named_stage_n_in_order_per_pool() -> None:
    pool = BudgetPool(usd=1)
    names = []
    for _ in range(3):
        with pool.acquire_nowait(max_usd=0.1) as stage:
            names.append(stage.name)
    with pool.acquire_nowait(max_usd=0.1, name="review") as named:
        names.append(named.name)
    assert names == ["stage-1", "stage-2", "stage-3", "review"]


# -- unspent money comes back -----------------------------------------------------------------


async def test_unspent_money_returns_to_the_pool_when_the_block_exits() -> None:
    pool = BudgetPool(usd=0.10)
    async with pool.acquire(max_usd=0.04) as stage:
        stage.charge(0.01)
        assert pool.statistics().reserved_usd == D("0.03")
        assert pool.available_usd == D("0.06")
    stats = pool.statistics()
    assert (stats.spent_usd, stats.reserved_usd, stats.available_usd) == (
        D("0.01"),
        D(0),
        D("0.09"),
    )
    assert stats.open_stages == 0


async def test_unspent_money_returns_when_the_block_raises() -> None:
    pool = BudgetPool(usd=0.10)
    with pytest.raises(RuntimeError, match="agent crashed"):
        async with pool.acquire(max_usd=0.04) as stage:
            stage.charge(0.015)
            raise RuntimeError("agent crashed")
    assert stage.closed
    assert pool.statistics().reserved_usd == 0
    assert pool.available_usd == D("0.085")
    assert pool.spent_usd == D("0.015")  # what was spent stays spent


def test_close_is_idempotent_and_with_closes() -> None:
    pool = BudgetPool(usd=0.10)
    stage = pool.acquire_nowait(max_usd=0.05)
    stage.close()
    stage.close()
    assert pool.statistics().open_stages == 0
    assert pool.available_usd == D("0.10")


# -- an exhausted pool ------------------------------------------------------------------------


async def test_an_exhausted_pool_fails_fast_saying_what_to_do() -> None:
    pool = BudgetPool(usd=0.10)
    async with pool.acquire(max_usd=0.10, name="research"):
        with pytest.raises(
            BudgetExhausted,
            match=(
                r"stage 'draft' asked pool 'pool' for \$0.04, but nothing is available "
                r"\(cap \$0.10, spent \$0.00, reserved \$0.10 by 1 open stage\)\. "
                r"Let the open stages finish first, pass wait=True"
            ),
        ):
            async with pool.acquire(max_usd=0.04, name="draft"):
                pytest.fail("must not be entered")  # pragma: no cover
    assert pool.statistics().open_stages == 0


def test_acquire_nowait_fails_fast_too() -> None:
    pool = BudgetPool(usd=0.10)
    with pool.acquire_nowait(), pytest.raises(BudgetExhausted, match=r"nothing is available"):
        pool.acquire_nowait(max_usd=0.01)


def test_a_fully_spent_pool_says_waiting_would_not_help() -> None:
    pool = BudgetPool(usd=0.10)
    with pool.acquire_nowait() as stage:
        stage.charge(0.10)

    async def main() -> None:
        async with pool.acquire(max_usd=0.01, wait=True, deadline=60):
            pytest.fail("must not be entered")  # pragma: no cover

    with pytest.raises(
        BudgetExhausted,
        match=r"has nothing left to hand out and nothing can come back .*waiting would not help",
    ):
        run(main())


def test_an_exhausted_token_cap_fails_fast() -> None:
    pool = BudgetPool(usd=1, tokens=1000)
    with pool.acquire_nowait(max_usd=0.5, max_tokens=1000) as stage:
        assert stage.cap_tokens == 1000
        with pytest.raises(
            BudgetExhausted,
            match=(
                r"stage 'stage-2' asked pool 'pool' for \$0.10 and 10 tokens, but no tokens are"
                r" available \(cap \$1.00, spent \$0.00, reserved \$0.50 by 1 open stage;"
                r" tokens: cap 1000, spent 0, reserved 1000\)\..* a larger tokens="
            ),
        ):
            pool.acquire_nowait(max_usd=0.1, max_tokens=10)
        stage.charge(0, tokens=1000)

    async def main() -> None:
        async with pool.acquire(max_usd=0.1, wait=True):
            pytest.fail("must not be entered")  # pragma: no cover

    with pytest.raises(BudgetExhausted, match=r"has no tokens left to hand out"):
        run(main())


def test_a_waiter_for_tokens_waits_for_tokens() -> None:
    pool = BudgetPool(usd=1, tokens=1000)

    async def main() -> tuple[float, int | None]:
        hog = pool.acquire_nowait(max_usd=0.1)  # all 1000 tokens, a tenth of the money
        asyncio.get_running_loop().call_at(4, hog.close)
        async with pool.acquire(max_usd=0.1, max_tokens=600, wait=True) as stage:
            return asyncio.get_running_loop().time(), stage.cap_tokens

    assert run(main()) == (4.0, 600)


def test_waiting_for_whatever_is_left_is_served_as_soon_as_anything_is() -> None:
    pool = BudgetPool(usd=0.10)

    async def main() -> Decimal:
        a = pool.acquire_nowait(max_usd=0.07)
        b = pool.acquire_nowait(max_usd=0.03)
        asyncio.get_running_loop().call_at(1, b.close)
        try:
            return await _enter(pool.acquire(wait=True))  # max_usd=None
        finally:
            a.close()

    assert run(main()) == D("0.03")


def test_a_waiter_whose_loop_closed_gives_its_grant_back() -> None:
    pool = BudgetPool(usd=0.10)
    hog = pool.acquire_nowait()
    loop = asyncio.new_event_loop()
    task = loop.create_task(_enter(pool.acquire(max_usd=0.05, wait=True)))
    loop.run_until_complete(asyncio.sleep(0))  # the waiter queues, then the loop stops
    assert pool.statistics().waiting == 1
    loop.close()
    hog.close()  # the grant cannot be delivered: it goes straight back
    stats = pool.statistics()
    assert (stats.waiting, stats.open_stages, stats.reserved_usd) == (0, 0, D(0))
    task.get_coro().close()  # the abandoned waiter finally unwinds: no double give-back
    assert pool.statistics().reserved_usd == 0
    assert pool.available_usd == D("0.10")


class _Remaining:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def remaining(self) -> float:
        return self.seconds


@pytest.mark.parametrize(("remaining", "gives_up_at"), [(7.0, 7.0), (float("inf"), None)])
def test_anything_with_remaining_bounds_a_wait(remaining: float, gives_up_at: float | None) -> None:
    pool = BudgetPool(usd=0.10)

    async def main() -> float:
        hog = pool.acquire_nowait()
        asyncio.get_running_loop().call_at(50, hog.close)
        with contextlib.suppress(BudgetExhausted):
            await _enter(pool.acquire(max_usd=0.05, wait=True, deadline=_Remaining(remaining)))
        return asyncio.get_running_loop().time()

    assert run(main()) == (gives_up_at if gives_up_at is not None else 50.0)


# -- waiting ----------------------------------------------------------------------------------


def test_a_waiting_stage_gets_money_when_another_stage_releases() -> None:
    pool = BudgetPool(usd=0.10)

    async def holder() -> None:
        async with pool.acquire(max_usd=0.08, name="holder") as stage:
            await asyncio.sleep(5)
            stage.charge(0.02)

    async def waiter() -> tuple[float, Decimal]:
        await asyncio.sleep(1)
        async with pool.acquire(max_usd=0.06, name="waiter", wait=True) as stage:
            return asyncio.get_running_loop().time(), stage.cap_usd

    async def main() -> tuple[float, Decimal]:
        _, got = await asyncio.gather(holder(), waiter())
        return got

    assert run(main()) == (5.0, D("0.06"))
    assert pool.statistics().reserved_usd == 0


def test_waiters_are_served_in_fifo_order() -> None:
    pool = BudgetPool(usd=0.10)
    order: list[str] = []

    async def waiter(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        async with pool.acquire(max_usd=0.05, name=name, wait=True):
            order.append(name)
            await asyncio.sleep(1)

    async def main() -> None:
        holder = pool.acquire_nowait()  # all of it
        tasks = [asyncio.create_task(waiter(n, d)) for n, d in [("c", 0.3), ("a", 0.1), ("b", 0.2)]]
        await asyncio.sleep(1)
        assert pool.statistics().waiting == 3
        assert repr(pool).endswith(" waiting=3>")
        holder.close()
        await asyncio.gather(*tasks)

    run(main())
    assert order == ["a", "b", "c"]


def test_a_non_waiting_acquire_never_overtakes_waiters() -> None:
    pool = BudgetPool(usd=0.10)

    async def main() -> None:
        holder = pool.acquire_nowait(max_usd=0.08)
        task = asyncio.create_task(_enter(pool.acquire(max_usd=0.05, wait=True, name="big")))
        await asyncio.sleep(0)
        assert pool.available_usd == D("0.02")
        with pytest.raises(
            BudgetExhausted,
            match=r"without waiting, but 1 acquire already wait for money .* Pass wait=True",
        ):
            pool.acquire_nowait(max_usd=0.01, name="small")
        holder.close()
        assert (await task) == D("0.05")

    run(main())


async def _enter(acquisition: Any) -> Decimal:
    async with acquisition as stage:
        cap: Decimal = stage.cap_usd
        return cap


def test_a_waiter_is_served_as_much_as_the_pool_will_ever_have() -> None:
    pool = BudgetPool(usd=0.10)

    async def main() -> Decimal:
        a = pool.acquire_nowait(max_usd=0.06)
        b = pool.acquire_nowait(max_usd=0.04)
        task = asyncio.create_task(_enter(pool.acquire(max_usd=0.05, wait=True)))
        await asyncio.sleep(1)
        a.charge(0.06)
        a.close()  # gives back nothing
        await asyncio.sleep(1)
        assert not task.done()  # b still holds 0.04 that could come back
        b.charge(0.01)
        b.close()  # 0.03 back, and nothing more can ever come: serve 0.03 of the 0.05
        return await task

    assert run(main()) == D("0.03")


def test_a_waiter_fails_as_soon_as_the_pool_is_fully_spent() -> None:
    pool = BudgetPool(usd=0.10)

    async def main() -> float:
        holder = pool.acquire_nowait()
        task = asyncio.create_task(_enter(pool.acquire(max_usd=0.05, wait=True, deadline=100)))
        await asyncio.sleep(3)
        holder.charge(0.10)  # nothing can come back any more
        with pytest.raises(BudgetExhausted, match=r"waiting would not help"):
            await task
        return asyncio.get_running_loop().time()

    assert run(main()) == 3.0  # not at the deadline
    assert pool.statistics().waiting == 0


def test_waiting_with_a_deadline_in_seconds_times_out_at_exactly_the_deadline() -> None:
    pool = BudgetPool(usd=0.10)

    async def main() -> float:
        loop = asyncio.get_running_loop()
        with pool.acquire_nowait(max_usd=0.10, name="hog"):
            with pytest.raises(
                BudgetExhausted,
                match=(
                    r"stage 'late' asked pool 'pool' for \$0.04 and waited 30s, but its deadline"
                    r" ran out before enough came back \(cap \$0.10, spent \$0.00, reserved"
                    r" \$0.10 by 1 open stage\)\. Give it a later deadline="
                ),
            ):
                async with pool.acquire(max_usd=0.04, name="late", wait=True, deadline=30):
                    pytest.fail("must not be entered")  # pragma: no cover
            return loop.time()

    assert run(main()) == 30.0
    stats = pool.statistics()
    assert (stats.waiting, stats.open_stages, stats.reserved_usd) == (0, 0, D(0))


def test_waiting_with_an_agentrig_deadline_times_out_at_its_expiry() -> None:
    pool = BudgetPool(usd=0.10)

    async def main() -> float:
        deadline = Deadline(seconds=120, name="supervisor")
        hog = pool.acquire_nowait()
        await asyncio.sleep(100)
        with pytest.raises(BudgetExhausted, match=r"waited 20s, but its deadline ran out"):
            async with pool.acquire(max_usd=0.04, wait=True, deadline=deadline):
                pass  # pragma: no cover
        hog.close()
        return asyncio.get_running_loop().time()

    assert run(main()) == 120.0


def test_an_acquire_that_can_be_served_now_ignores_an_expired_deadline() -> None:
    pool = BudgetPool(usd=0.10)

    async def main() -> Decimal:
        return await _enter(pool.acquire(max_usd=0.04, wait=True, deadline=0))

    assert run(main()) == D("0.04")


def test_money_that_arrives_at_the_deadline_instant_is_kept() -> None:
    pool = BudgetPool(usd=0.10)

    async def main() -> Decimal:
        hog = pool.acquire_nowait()
        loop = asyncio.get_running_loop()
        loop.call_at(10, hog.close)  # scheduled before the waiter's timeout, same instant
        return await _enter(pool.acquire(max_usd=0.04, wait=True, deadline=10))

    assert run(main()) == D("0.04")
    assert pool.statistics().reserved_usd == 0


def test_deadline_without_wait_is_a_configuration_error() -> None:
    pool = BudgetPool(usd=0.10)
    with pytest.raises(ConfigurationError, match=r"`deadline` bounds the wait .* pass wait=True"):
        pool.acquire(max_usd=0.01, deadline=5)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (-1, r"`deadline` must be non-negative, got -1"),
        (float("nan"), r"`deadline` must be a number \(inf: never\) of seconds, got nan"),
        (True, r"`deadline` must be a Deadline or a number of seconds, got True"),
        ("soon", r"`deadline` must be a Deadline \(or anything with remaining\(\)\)"),
    ],
)
def test_bad_deadlines_are_refused(bad: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        BudgetPool(usd=1).acquire(wait=True, deadline=bad)


def test_wait_must_be_a_bool() -> None:
    with pytest.raises(ConfigurationError, match=r"`wait` must be True or False, got 'yes'"):
        BudgetPool(usd=1).acquire(wait="yes")  # type: ignore[arg-type]


def test_cancelling_a_waiter_leaks_no_reservation_and_lets_the_next_one_through() -> None:
    pool = BudgetPool(usd=0.10)

    async def main() -> Decimal:
        hog = pool.acquire_nowait(max_usd=0.07)
        first = asyncio.create_task(_enter(pool.acquire(max_usd=0.08, wait=True)))
        await asyncio.sleep(0)
        # 0.03 is available, enough for the second, but it queues behind the first (FIFO).
        second = asyncio.create_task(_enter(pool.acquire(max_usd=0.02, wait=True)))
        await asyncio.sleep(1)
        assert pool.statistics().waiting == 2
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        # The head left the queue: the second is served at once, the hog still open.
        assert pool.statistics().waiting == 0
        got = await second
        assert asyncio.get_running_loop().time() == 1.0
        hog.close()
        return got

    assert run(main()) == D("0.02")
    stats = pool.statistics()
    assert (stats.waiting, stats.open_stages, stats.reserved_usd) == (0, 0, D(0))


def test_a_waiter_timing_out_at_the_head_of_the_queue_lets_the_next_one_through() -> None:
    pool = BudgetPool(usd=0.10)

    async def main() -> tuple[Decimal, float]:
        loop = asyncio.get_running_loop()
        hog = pool.acquire_nowait(max_usd=0.07)
        first = asyncio.create_task(_enter(pool.acquire(max_usd=0.08, wait=True, deadline=2)))
        await asyncio.sleep(0)
        second = asyncio.create_task(_enter(pool.acquire(max_usd=0.02, wait=True)))
        with pytest.raises(BudgetExhausted, match=r"deadline ran out"):
            await first
        got = await second
        hog.close()
        return got, loop.time()

    assert run(main()) == (D("0.02"), 2.0)


def test_cancelling_a_waiter_just_after_it_was_granted_gives_the_money_back() -> None:
    pool = BudgetPool(usd=0.10)
    entered: list[StageBudget] = []

    async def waiter() -> None:
        async with pool.acquire(max_usd=0.05, wait=True) as stage:
            entered.append(stage)  # pragma: no cover

    async def main() -> None:
        hog = pool.acquire_nowait()
        task = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        hog.close()  # grants 0.05 to the waiter, which has not resumed yet...
        assert pool.statistics().reserved_usd == D("0.05")
        task.cancel()  # ...and is cancelled before it does
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    assert entered == []
    stats = pool.statistics()
    assert (stats.reserved_usd, stats.open_stages, stats.available_usd) == (D(0), 0, D("0.10"))


def test_a_thread_releasing_a_stage_wakes_an_asyncio_waiter() -> None:
    pool = BudgetPool(usd=0.10)

    async def main() -> Decimal:
        hog = pool.acquire_nowait()
        task = asyncio.create_task(_enter(pool.acquire(max_usd=0.03, wait=True, deadline=60)))
        await asyncio.sleep(1)
        await asyncio.to_thread(hog.charge, 0.05)
        await asyncio.to_thread(hog.close)
        return await task

    assert run(main()) == D("0.03")


def test_a_real_asyncio_loop_works_too() -> None:
    pool = BudgetPool(usd=0.10)

    async def main() -> Decimal:
        hog = pool.acquire_nowait()
        asyncio.get_running_loop().call_later(0.01, hog.close)
        return await _enter(pool.acquire(max_usd=0.03, wait=True, deadline=5))

    assert asyncio.run(main()) == D("0.03")


# -- charging ---------------------------------------------------------------------------------


def test_an_over_cap_charge_raises_and_stays_in_the_ledger() -> None:
    pool = BudgetPool(usd=0.10)
    with pool.acquire_nowait(max_usd=0.04, name="draft") as stage:
        stage.charge(0.03, tokens=100, label="first call")
        with pytest.raises(
            BudgetExceeded,
            match=(
                r"stage 'draft' of pool 'pool' went over budget with a charge of \$0.02 and 50"
                r" tokens \(label 'second call'\): the stage has now spent \$0.05 against its"
                r" cap of \$0.04\. The money was spent, so the charge stays in the ledger"
                r" \(accepted=False\)\. Acquire the stage with a larger max_usd="
            ),
        ):
            stage.charge(0.02, tokens=50, label="second call")
        assert stage.spent_usd == D("0.05")
        assert stage.remaining_usd == 0
    assert pool.ledger == (
        LedgerEntry(1, "draft", D("0.03"), 100, "first call", True),
        LedgerEntry(2, "draft", D("0.02"), 50, "second call", False),
    )
    stats = pool.statistics()
    assert stats.spent_usd == D("0.05") == sum(e.usd for e in pool.ledger)
    assert stats.accepted_usd == D("0.03")
    assert stats.spent_tokens == 150
    assert stats.reserved_usd == 0
    assert stats.available_usd == D("0.05")


def test_the_message_says_when_a_stage_was_granted_less_than_it_asked_for() -> None:
    pool = BudgetPool(usd=0.10)
    with (
        pool.acquire_nowait(max_usd=0.08),
        pool.acquire_nowait(max_usd=0.05) as stage,
        pytest.raises(
            BudgetExceeded, match=r"cap of \$0.02 \(granted \$0.02 of the \$0.05 it asked for\)"
        ),
    ):
        stage.charge(0.03)
    with (
        pool.acquire_nowait(max_usd=0.06),  # 0.03 is spent: 0.01 is left for the next
        pool.acquire_nowait() as rest,
        pytest.raises(
            BudgetExceeded,
            match=r"cap of \$0.01 \(all the pool had left when the stage was acquired\)",
        ),
    ):
        rest.charge(0.02)


def test_the_pool_token_cap_holds_even_after_an_overspend() -> None:
    pool = BudgetPool(usd=1, tokens=100)
    greedy = pool.acquire_nowait(max_usd=0.1, max_tokens=40)
    modest = pool.acquire_nowait(max_usd=0.1, max_tokens=60)
    with pytest.raises(BudgetExceeded):
        greedy.charge(0, tokens=50)
    assert modest.can_afford(tokens=50)
    assert not modest.can_afford(tokens=51)  # its own cap is 60, the pool has 50 left
    with pytest.raises(
        BudgetExceeded, match=r"pool 'pool' has now used 101 tokens against its cap of 100"
    ):
        modest.charge(0, tokens=51)
    greedy.close()
    modest.close()
    stats = pool.statistics()
    assert (stats.spent_tokens, stats.reserved_tokens, stats.available_tokens) == (101, 0, 0)


def test_a_charge_within_a_stage_cap_is_refused_once_the_pool_itself_is_over() -> None:
    pool = BudgetPool(usd=0.10)
    greedy = pool.acquire_nowait(max_usd=0.04, name="greedy")
    modest = pool.acquire_nowait(max_usd=0.06, name="modest")
    with pytest.raises(BudgetExceeded):
        greedy.charge(0.05)  # really spent: the pool is at 0.05 with 0.06 promised
    modest.charge(0.05)  # 0.10 total: within both caps
    assert not modest.can_afford(0.01)
    with pytest.raises(
        BudgetExceeded, match=r"pool 'pool' has now spent \$0.11 against its cap of \$0.10"
    ):
        modest.charge(0.01)  # within modest's own cap, but the pool's real spend would be 0.11
    greedy.close()
    modest.close()
    stats = pool.statistics()
    assert stats.accepted_usd <= stats.cap_usd
    assert stats.spent_usd == D("0.11")
    assert stats.reserved_usd == 0
    assert stats.available_usd == 0


def test_token_caps_are_enforced_per_stage_and_per_pool() -> None:
    pool = BudgetPool(usd=1, tokens=1000)
    with pool.acquire_nowait(max_tokens=400, name="a") as a:
        assert a.can_afford(tokens=400)
        assert not a.can_afford(tokens=401)
        with pytest.raises(
            BudgetExceeded, match=r"the stage has now used 401 tokens against its cap of 400"
        ):
            a.charge(0.01, tokens=401)
        assert a.remaining_tokens == 0
    with pool.acquire_nowait() as rest:
        assert rest.cap_tokens == 599
    assert pool.statistics().spent_tokens == 401


def test_a_pool_without_a_token_cap_counts_tokens_and_caps_stages_that_ask() -> None:
    pool = BudgetPool(usd=1)
    with pool.acquire_nowait(max_usd=0.5, max_tokens=10) as capped, pool.acquire_nowait() as free:
        assert free.cap_tokens is None
        assert free.remaining_tokens is None
        free.charge(0, tokens=10**6)
        with pytest.raises(BudgetExceeded, match=r"used 11 tokens against its cap of 10"):
            capped.charge(0, tokens=11)
    stats = pool.statistics()
    assert (stats.cap_tokens, stats.spent_tokens, stats.available_tokens) == (
        None,
        10**6 + 11,
        None,
    )


def test_can_afford_matches_what_charge_would_do() -> None:
    pool = BudgetPool(usd=0.10)
    with pool.acquire_nowait(max_usd=0.04) as stage:
        assert stage.can_afford(0.04)
        assert stage.can_afford()
        assert not stage.can_afford(0.041)
        stage.charge(0.01)
        assert stage.can_afford("0.03")
        assert not stage.can_afford(D("0.0300001"))


def test_charging_a_closed_stage_is_an_error_but_the_spend_is_kept() -> None:
    pool = BudgetPool(usd=0.10)
    async_leftover: list[StageBudget] = []
    with pool.acquire_nowait(max_usd=0.04, name="research") as stage:
        async_leftover.append(stage)
    with pytest.raises(
        StateError,
        match=(
            r"stage 'research' of pool 'pool' is closed \(its acquire block has exited\); the"
            r" charge of \$0.01 \(label 'late'\) is recorded in the ledger \(accepted=False\)"
        ),
    ):
        async_leftover[0].charge(0.01, label="late")
    assert pool.ledger == (LedgerEntry(1, "research", D("0.01"), 0, "late", False),)
    assert pool.spent_usd == D("0.01")
    assert pool.statistics().reserved_usd == 0
    with pytest.raises(StateError, match=r"'research' of pool 'pool' is closed"):
        stage.can_afford(0.01)


def test_charge_labels_must_be_strings() -> None:
    with (
        BudgetPool(usd=1).acquire_nowait() as stage,
        pytest.raises(ConfigurationError, match=r"charge `label` must be a string or None"),
    ):
        stage.charge(0.01, label=3)  # type: ignore[arg-type]


def test_the_stage_ledger_is_its_slice_of_the_pool_ledger() -> None:
    pool = BudgetPool(usd=1)
    with pool.acquire_nowait(name="a") as a:
        a.charge(0.1, label="x")
    with pool.acquire_nowait(name="b") as b:
        b.charge(0.2, label="y")
    assert [e.label for e in a.ledger] == ["x"]
    assert [e.label for e in b.ledger] == ["y"]
    assert [e.seq for e in pool.ledger] == [1, 2]


# -- threads ----------------------------------------------------------------------------------


def test_concurrent_charges_from_threads_are_all_counted_exactly() -> None:
    pool = BudgetPool(usd=0.08)
    stage = pool.acquire_nowait(max_usd=0.08)
    barrier = threading.Barrier(8)

    def spend() -> None:
        barrier.wait()
        for _ in range(100):
            stage.charge(0.0001, tokens=1)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stage.spent_usd == D("0.08")  # 800 x 0.0001, no float drift, nothing lost
    assert stage.spent_tokens == 800
    assert all(e.accepted for e in pool.ledger)
    assert len(pool.ledger) == 800
    with pytest.raises(BudgetExceeded):
        stage.charge(0.0001)
    stage.close()
    assert pool.statistics().reserved_usd == 0


def test_concurrent_acquires_from_threads_never_promise_more_than_the_cap() -> None:
    pool = BudgetPool(usd=1)
    barrier = threading.Barrier(16)
    stages: list[StageBudget] = []
    refused: list[BudgetExhausted] = []
    lock = threading.Lock()

    def take() -> None:
        barrier.wait()
        try:
            stage = pool.acquire_nowait(max_usd=0.15)
        except BudgetExhausted as err:
            with lock:
                refused.append(err)
            return
        with lock:
            stages.append(stage)

    threads = [threading.Thread(target=take) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(s.cap_usd for s in stages) == D(1)
    assert len(stages) == 7  # six of 0.15 and one of 0.10
    assert len(refused) == 9
    for s in stages:
        s.close()
    assert pool.available_usd == D(1)


# -- reading the state ------------------------------------------------------------------------


def test_repr_shows_the_live_state() -> None:
    pool = BudgetPool(usd=0.10)
    stage = pool.acquire_nowait(max_usd=0.07, name="research")
    stage.charge(0.03)
    assert repr(pool) == "<BudgetPool 'pool' cap=$0.10 spent=$0.03 reserved=$0.04>"
    assert repr(stage) == "<StageBudget 'research' of 'pool' cap=$0.07 spent=$0.03 open>"
    stage.close()
    assert repr(stage) == "<StageBudget 'research' of 'pool' cap=$0.07 spent=$0.03 closed>"
    tokens = BudgetPool(usd=1, tokens=100, name="t")
    with tokens.acquire_nowait(max_usd=D("0.0005"), max_tokens=10) as small:
        small.charge(D("0.0001"), tokens=3)
        assert (
            repr(tokens) == "<BudgetPool 't' cap=$1.00 spent=$0.0001 reserved=$0.0004 tokens=3/100>"
        )
        assert repr(small) == (
            "<StageBudget 'stage-1' of 't' cap=$0.0005 spent=$0.0001 tokens=3/10 open>"
        )


def test_statistics_is_a_frozen_consistent_snapshot() -> None:
    pool = BudgetPool(usd=0.10, tokens=500)
    stage = pool.acquire_nowait(max_usd=0.04, max_tokens=200)
    stage.charge(0.01, tokens=50)
    stats = pool.statistics()
    assert stats == BudgetStatistics(
        cap_usd=D("0.1"),
        spent_usd=D("0.01"),
        reserved_usd=D("0.03"),
        available_usd=D("0.06"),
        cap_tokens=500,
        spent_tokens=50,
        open_stages=1,
        waiting=0,
        reserved_tokens=150,
        available_tokens=300,
        accepted_usd=D("0.01"),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.spent_usd = D(0)  # type: ignore[misc]
    stage.close()
    assert pool.statistics().reserved_tokens == 0


def test_pool_and_stage_properties() -> None:
    pool = BudgetPool(usd="0.5", tokens=10, name="team")
    assert (pool.name, pool.cap_usd, pool.cap_tokens) == ("team", D("0.5"), 10)
    with pool.acquire_nowait(max_usd=0.2, max_tokens=4, name="s") as stage:
        stage.charge(0.05, tokens=1)
        assert (stage.name, stage.pool) == ("s", pool)
        assert (stage.cap_usd, stage.spent_usd, stage.remaining_usd) == (
            D("0.2"),
            D("0.05"),
            D("0.15"),
        )
        assert (stage.cap_tokens, stage.spent_tokens, stage.remaining_tokens) == (4, 1, 3)
        assert not stage.closed
        assert (pool.spent_usd, pool.spent_tokens, pool.reserved_usd) == (D("0.05"), 1, D("0.15"))
    assert stage.closed


class _IndexOnly:
    """An exact integer that is not an int (like numpy's int64)."""

    def __index__(self) -> int:
        return 3


def test_integer_like_amounts_and_token_counts_are_accepted() -> None:
    pool = BudgetPool(usd=_IndexOnly(), tokens=_IndexOnly())  # type: ignore[arg-type]
    assert (pool.cap_usd, pool.cap_tokens) == (D(3), 3)


def test_the_acquire_object_has_a_readable_repr() -> None:
    acquisition = BudgetPool(usd=1).acquire(max_usd=0.5, name="draft")
    assert repr(acquisition) == (
        "<pool.acquire for stage 'draft' of <BudgetPool 'pool' cap=$1.00 spent=$0.00"
        " reserved=$0.00>>"
    )


def test_stage_budgets_are_not_created_directly() -> None:
    with pytest.raises(StateError, match=r"use `async with pool.acquire\(...\) as stage:`"):
        StageBudget()


async def test_acquire_in_a_plain_with_says_to_use_async_with_or_acquire_nowait() -> None:
    pool = BudgetPool(usd=1)
    with (
        pytest.raises(ConfigurationError, match=r"`with pool.acquire_nowait\(...\) as stage:`"),
        pool.acquire(max_usd=0.1),  # type: ignore[attr-defined]
    ):
        pass  # pragma: no cover


async def test_one_acquire_cannot_be_entered_twice() -> None:
    pool = BudgetPool(usd=1)
    acquisition = pool.acquire(max_usd=0.1, name="once")
    async with acquisition:
        pass
    with pytest.raises(StateError, match=r"stage 'once' was already entered"):
        async with acquisition:
            pass  # pragma: no cover


# -- the recording ----------------------------------------------------------------------------


def test_every_budget_move_is_recorded_with_the_documented_keys() -> None:
    pool = BudgetPool(usd=0.10, name="main")
    rec = Recording("t")

    async def main() -> None:
        async with pool.acquire(max_usd=0.04, name="research") as stage:
            stage.charge(0.01, tokens=120, label="search")
            with pytest.raises(BudgetExceeded):
                stage.charge(0.05, tokens=10, label="too much")
        hog = pool.acquire_nowait(name="hog")
        with pytest.raises(BudgetExhausted):
            pool.acquire_nowait(max_usd=0.01, name="refused")
        asyncio.get_running_loop().call_at(2, hog.close)
        async with pool.acquire(max_usd=0.02, name="patient", wait=True):
            pass

    with rec.activate():
        run(main())

    got = [(e.kind, e.data, e.t) for e in rec.entries]
    assert got == [
        (
            "budget.acquire",
            {
                "pool": "main",
                "stage": "research",
                "granted_usd": 0.04,
                "max_usd": 0.04,
                "granted_tokens": None,
                "waited": False,
            },
            0.0,
        ),
        (
            "budget.charge",
            {
                "pool": "main",
                "stage": "research",
                "usd": 0.01,
                "tokens": 120,
                "label": "search",
                "accepted": True,
            },
            0.0,
        ),
        (
            "budget.charge",
            {
                "pool": "main",
                "stage": "research",
                "usd": 0.05,
                "tokens": 10,
                "label": "too much",
                "accepted": False,
            },
            0.0,
        ),
        (
            "budget.release",
            {
                "pool": "main",
                "stage": "research",
                "spent_usd": 0.06,
                "returned_usd": 0.0,
                "spent_tokens": 130,
            },
            0.0,
        ),
        (
            "budget.acquire",
            {
                "pool": "main",
                "stage": "hog",
                "granted_usd": 0.04,
                "max_usd": None,
                "granted_tokens": None,
                "waited": False,
            },
            0.0,
        ),
        (
            "budget.refused",
            {
                "pool": "main",
                "stage": "refused",
                "requested_usd": 0.01,
                "available_usd": 0.0,
                "reason": "exhausted",
            },
            0.0,
        ),
        (
            "budget.release",
            {
                "pool": "main",
                "stage": "hog",
                "spent_usd": 0.0,
                "returned_usd": 0.04,
                "spent_tokens": 0,
            },
            2.0,
        ),
        (
            "budget.acquire",
            {
                "pool": "main",
                "stage": "patient",
                "granted_usd": 0.02,
                "max_usd": 0.02,
                "granted_tokens": None,
                "waited": True,
            },
            2.0,
        ),
        (
            "budget.release",
            {
                "pool": "main",
                "stage": "patient",
                "spent_usd": 0.0,
                "returned_usd": 0.02,
                "spent_tokens": 0,
            },
            2.0,
        ),
    ]
    money = [
        v for _, data, _ in got for k, v in data.items() if k.endswith("usd") and v is not None
    ]
    assert all(type(v) is float for v in money)


def test_a_pool_created_before_the_recording_reports_into_it() -> None:
    pool = BudgetPool(usd=1)  # like a module-level pool created at import time
    first, second = Recording("first"), Recording("second")
    with first.activate(), pool.acquire_nowait(name="a") as stage:
        stage.charge(0.1)
    with second.activate(), pool.acquire_nowait(name="b") as stage:
        stage.charge(0.2)
    assert [e.data["stage"] for e in first.entries] == ["a", "a", "a"]
    assert [e.data["stage"] for e in second.entries] == ["b", "b", "b"]


def test_refusals_by_deadline_and_by_queue_are_recorded_with_their_reason() -> None:
    pool = BudgetPool(usd=0.10)
    rec = Recording()

    async def main() -> None:
        hog = pool.acquire_nowait(max_usd=0.09)
        waiting = asyncio.create_task(_enter(pool.acquire(max_usd=0.05, wait=True, name="w")))
        await asyncio.sleep(0)
        with pytest.raises(BudgetExhausted):
            pool.acquire_nowait(max_usd=0.01, name="q")
        with pytest.raises(BudgetExhausted):
            await _enter(pool.acquire(max_usd=0.05, wait=True, deadline=1, name="d"))
        hog.close()
        await waiting

    with rec.activate():
        run(main())
    refused = [(e.data["stage"], e.data["reason"]) for e in rec.entries_of("budget.refused")]
    assert refused == [("q", "queued"), ("d", "deadline")]
