"""Property tests: random concurrent schedules never break a BudgetPool's invariants.

Every schedule, whatever its interleaving of acquires, waits, deadlines, charges, crashes,
cancellations and thread work, must leave the pool such that:

* accepted charges never exceed the pool's cap, nor any stage's accepted spend its grant;
* the ledger always sums to the pool's spent (money and tokens);
* every charge that was attempted is in the ledger, exactly once;
* the ``accepted`` flags are exactly what replaying the ledger against the caps gives;
* reserved equals what the open stages have not spent, and returns to 0 at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from hypothesis import event, given, settings
from hypothesis import strategies as st

from agentrig import BudgetExceeded, BudgetExhausted, ConfigurationError, StateError
from agentrig.budget import BudgetPool, LedgerEntry, StageBudget
from agentrig.clock import run

_CENT = Decimal("0.01")

# (stage, usd, tokens, label): what a charge looks like in the ledger.
_Charge = tuple[str, Decimal, int, str]


@dataclass(frozen=True)
class _ChargePlan:
    cents: int
    tokens: int
    nap: int  # virtual seconds to sleep after the charge
    in_thread: bool  # charge from a worker thread (asyncio.to_thread)


@dataclass(frozen=True)
class _StagePlan:
    max_cents: int | None
    max_tokens: int | None
    wait: bool
    deadline: int | None
    start: int
    charges: tuple[_ChargePlan, ...]
    crash: bool
    cancel_at: int | None
    close_in_thread: bool


@dataclass
class _Observed:
    attempted: list[_Charge] = field(default_factory=list)
    stages: dict[str, StageBudget] = field(default_factory=dict)
    late_labels: set[str] = field(default_factory=set)  # charges made after the stage closed
    broke_a_cap: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attempt(self, charge: _Charge) -> None:
        with self.lock:
            self.attempted.append(charge)

    def late(self, label: str) -> None:
        with self.lock:
            self.late_labels.add(label)

    def granted(self, stage: StageBudget) -> None:
        with self.lock:
            self.stages[stage.name] = stage


def _usd(cents: int) -> float:
    return cents / 100  # a float on purpose: the pool must read it exactly


def _reason(err: BudgetExhausted) -> str:
    text = str(err)
    for needle in ("deadline ran out", "already wait", "left to hand out", "available"):
        if needle in text:
            return needle
    raise AssertionError(f"unexpected BudgetExhausted message: {text}")  # pragma: no cover


def _sometimes(strategy: st.SearchStrategy[int], one_in: int) -> st.SearchStrategy[int | None]:
    """``strategy`` about once in ``one_in`` draws, else None."""
    return st.tuples(st.integers(1, one_in), strategy).map(lambda t: t[1] if t[0] == 1 else None)


charge_plans = st.builds(
    _ChargePlan,
    cents=st.integers(0, 5),
    tokens=st.integers(0, 80),
    nap=st.integers(0, 3),
    in_thread=st.booleans(),
)


@st.composite
def stage_plans(draw: st.DrawFn, cap_cents: int) -> _StagePlan:
    wait = draw(st.booleans())
    return _StagePlan(
        max_cents=draw(st.none() | st.integers(0, cap_cents + 2)),  # above the cap: refused
        max_tokens=draw(st.none() | st.integers(0, 150)),
        wait=wait,
        deadline=draw(st.none() | st.integers(0, 6)) if wait else None,
        start=draw(st.integers(0, 4)),
        charges=tuple(draw(st.lists(charge_plans, max_size=4))),
        crash=draw(st.integers(1, 4)) == 1,
        cancel_at=draw(_sometimes(st.integers(0, 12), 6)),
        close_in_thread=draw(st.booleans()),
    )


@st.composite
def schedules(draw: st.DrawFn) -> tuple[int, int | None, list[_StagePlan]]:
    cap_cents = draw(st.integers(0, 30))
    cap_tokens = draw(st.none() | st.integers(0, 300))
    plans = draw(st.lists(stage_plans(cap_cents), min_size=1, max_size=8))
    return cap_cents, cap_tokens, plans


def _asks_too_much(
    max_cents: int | None, max_tokens: int | None, cap_cents: int, cap_tokens: int | None
) -> bool:
    """Whether an acquire asks for more than the pool could ever hold (a ConfigurationError)."""
    if max_cents is not None and max_cents > cap_cents:
        return True
    return max_tokens is not None and cap_tokens is not None and max_tokens > cap_tokens


# -- checks -------------------------------------------------------------------------------------


def _check_snapshot(pool: BudgetPool) -> None:
    """Invariants of one atomic statistics() snapshot (safe while threads run)."""
    stats = pool.statistics()
    assert stats.accepted_usd <= stats.cap_usd
    assert stats.reserved_usd >= 0
    assert stats.reserved_tokens >= 0
    assert stats.available_usd == max(
        Decimal(0), stats.cap_usd - stats.spent_usd - stats.reserved_usd
    )
    if stats.cap_tokens is not None:
        assert stats.available_tokens == max(
            0, stats.cap_tokens - stats.spent_tokens - stats.reserved_tokens
        )


def _check_quiescent(pool: BudgetPool, observed: _Observed) -> None:
    """Invariants that need the pool at rest (no thread is charging right now)."""
    _check_snapshot(pool)
    stats = pool.statistics()
    ledger = pool.ledger
    assert stats.spent_usd == sum((e.usd for e in ledger), Decimal(0))
    assert stats.spent_tokens == sum(e.tokens for e in ledger)
    assert stats.accepted_usd == sum((e.usd for e in ledger if e.accepted), Decimal(0))
    open_stages = [s for s in observed.stages.values() if not s.closed]
    unspent = sum((max(Decimal(0), s.cap_usd - s.spent_usd) for s in open_stages), Decimal(0))
    # A waiter granted money but not resumed yet holds a stage the test has not seen.
    assert stats.open_stages >= len(open_stages)
    if stats.open_stages == len(open_stages):
        assert stats.reserved_usd == unspent
    else:
        assert stats.reserved_usd >= unspent


def _replay(pool: BudgetPool, observed: _Observed) -> None:
    """The ledger's accepted flags are exactly what its order and the caps imply."""
    pool_usd, pool_tokens = Decimal(0), 0
    stage_usd: Counter[str] = Counter()
    stage_usd_exact: dict[str, Decimal] = {}
    stage_tokens: Counter[str] = Counter()
    for entry in pool.ledger:
        stage = observed.stages[entry.stage]
        new_stage_usd = stage_usd_exact.get(entry.stage, Decimal(0)) + entry.usd
        new_stage_tokens = stage_tokens[entry.stage] + entry.tokens
        fits = entry.label not in observed.late_labels and (
            new_stage_usd <= stage.cap_usd
            and pool_usd + entry.usd <= pool.cap_usd
            and (stage.cap_tokens is None or new_stage_tokens <= stage.cap_tokens)
            and (pool.cap_tokens is None or pool_tokens + entry.tokens <= pool.cap_tokens)
        )
        assert entry.accepted == fits, (entry, stage)
        stage_usd_exact[entry.stage] = new_stage_usd
        stage_usd[entry.stage] += 1
        stage_tokens[entry.stage] = new_stage_tokens
        pool_usd += entry.usd
        pool_tokens += entry.tokens


def _check_final(pool: BudgetPool, observed: _Observed) -> None:
    _check_quiescent(pool, observed)
    stats = pool.statistics()
    assert (stats.open_stages, stats.waiting) == (0, 0)
    assert (stats.reserved_usd, stats.reserved_tokens) == (Decimal(0), 0)
    assert stats.available_usd == max(Decimal(0), stats.cap_usd - stats.spent_usd)
    ledger = pool.ledger
    assert [e.seq for e in ledger] == list(range(1, len(ledger) + 1))
    assert Counter((e.stage, e.usd, e.tokens, e.label) for e in ledger) == Counter(
        observed.attempted
    )
    accepted_tokens = sum(e.tokens for e in ledger if e.accepted)
    if pool.cap_tokens is not None:
        assert accepted_tokens <= pool.cap_tokens
    for stage in observed.stages.values():
        assert stage.closed
        mine: list[LedgerEntry] = [e for e in ledger if e.stage == stage.name]
        assert sum((e.usd for e in mine if e.accepted), Decimal(0)) <= stage.cap_usd
        if stage.cap_tokens is not None:
            assert sum(e.tokens for e in mine if e.accepted) <= stage.cap_tokens
        if stage.requested_usd is not None:
            assert stage.cap_usd <= stage.requested_usd
    _replay(pool, observed)


# -- asyncio tasks (with some thread work) ------------------------------------------------------


class _Crash(Exception):
    pass


@settings(max_examples=60, deadline=None)
@given(schedules())
def test_random_asyncio_schedules_keep_every_invariant(
    schedule: tuple[int, int | None, list[_StagePlan]],
) -> None:
    cap_cents, cap_tokens, plans = schedule
    pool = BudgetPool(usd=_usd(cap_cents), tokens=cap_tokens)
    observed = _Observed()
    # Thread work still running (a cancelled task stops awaiting its thread, the thread goes
    # on): only atomic checks are safe until it is 0. Decremented by the thread itself.
    busy = [0]
    busy_lock = threading.Lock()

    def check() -> None:
        if busy[0] == 0:
            _check_quiescent(pool, observed)
        else:
            _check_snapshot(pool)

    async def maybe_in_thread(in_thread: bool, fn: Callable[[], None]) -> None:
        if not in_thread:
            fn()
            return

        def work() -> None:
            try:
                fn()
            finally:
                with busy_lock:
                    busy[0] -= 1

        with busy_lock:
            busy[0] += 1
        await asyncio.to_thread(work)

    def charger(stage: StageBudget, c: _ChargePlan, label: str) -> Callable[[], None]:
        def charge() -> None:
            try:
                stage.charge(_usd(c.cents), tokens=c.tokens, label=label)
            except BudgetExceeded:
                observed.broke_a_cap = True  # hypothesis.event() works on the test thread only
            except StateError as err:
                # A thread charge that outlived its cancelled task's block: refused, kept.
                assert "is closed" in str(err)
                observed.late(label)

        return charge

    async def stage_task(i: int, plan: _StagePlan) -> None:
        await asyncio.sleep(plan.start)
        name = f"s{i}"
        try:
            acquisition = pool.acquire(
                max_usd=None if plan.max_cents is None else _usd(plan.max_cents),
                max_tokens=plan.max_tokens,
                name=name,
                wait=plan.wait,
                deadline=plan.deadline,
            )
        except ConfigurationError:
            assert _asks_too_much(plan.max_cents, plan.max_tokens, cap_cents, cap_tokens)
            return
        assert not _asks_too_much(plan.max_cents, plan.max_tokens, cap_cents, cap_tokens)
        stage: StageBudget | None = None
        try:
            waited_from = asyncio.get_running_loop().time() if plan.wait else None
            stage = await acquisition.__aenter__()
            if waited_from is not None and asyncio.get_running_loop().time() > waited_from:
                event("a waiter was served later")
            observed.granted(stage)
            check()
            for j, c in enumerate(plan.charges):
                label = f"{name}c{j}"
                observed.attempt((name, Decimal(c.cents) * _CENT, c.tokens, label))
                await maybe_in_thread(c.in_thread, charger(stage, c, label))
                check()
                await asyncio.sleep(c.nap)
            if plan.crash:
                raise _Crash
        except BudgetExhausted as err:
            event(f"acquire refused: {_reason(err)}")
        except _Crash:
            pass
        finally:
            if stage is not None:
                if plan.close_in_thread:
                    # A cancelled task cannot await: close inline then.
                    try:
                        await maybe_in_thread(True, stage.close)
                    except asyncio.CancelledError:
                        stage.close()
                        raise
                else:
                    await acquisition.__aexit__(None, None, None)
        check()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        tasks = [asyncio.create_task(stage_task(i, p)) for i, p in enumerate(plans)]
        for task, plan in zip(tasks, plans, strict=True):
            if plan.cancel_at is not None:
                loop.call_at(plan.cancel_at, task.cancel)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        if observed.broke_a_cap:
            event("a charge broke a cap")
        if any(isinstance(r, asyncio.CancelledError) for r in results):
            event("a stage task was cancelled")
        for result in results:
            assert result is None or isinstance(result, asyncio.CancelledError), result

    run(main())
    _check_final(pool, observed)


# -- threads ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ThreadStage:
    max_cents: int | None
    max_tokens: int | None
    charges: tuple[tuple[int, int], ...]  # (cents, tokens)


thread_stages = st.builds(
    _ThreadStage,
    max_cents=st.none() | st.integers(0, 12),
    max_tokens=st.none() | st.integers(0, 150),
    charges=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 60)), max_size=5).map(tuple),
)


@settings(max_examples=25, deadline=None)
@given(
    cap_cents=st.integers(0, 20),
    cap_tokens=st.none() | st.integers(0, 300),
    workers=st.lists(st.lists(thread_stages, min_size=1, max_size=3), min_size=2, max_size=4),
    shared_charges=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 20)), max_size=6),
)
def test_random_thread_schedules_keep_every_invariant(
    cap_cents: int,
    cap_tokens: int | None,
    workers: list[list[_ThreadStage]],
    shared_charges: list[tuple[int, int]],
) -> None:
    pool = BudgetPool(usd=_usd(cap_cents), tokens=cap_tokens)
    observed = _Observed()
    shared = pool.acquire_nowait(
        max_usd=_usd(cap_cents // 4),
        max_tokens=40 if cap_tokens is None else min(40, cap_tokens),
        name="shared",
    )
    observed.granted(shared)
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def worker(w: int, plan: list[_ThreadStage]) -> None:
        try:
            barrier.wait()
            for k, spec in enumerate(plan):
                name = f"t{w}s{k}"
                try:
                    stage = pool.acquire_nowait(
                        max_usd=None if spec.max_cents is None else _usd(spec.max_cents),
                        max_tokens=spec.max_tokens,
                        name=name,
                    )
                except ConfigurationError:
                    assert _asks_too_much(spec.max_cents, spec.max_tokens, cap_cents, cap_tokens)
                    continue
                except BudgetExhausted:
                    continue
                observed.granted(stage)
                with stage:
                    for j, (cents, tokens) in enumerate(spec.charges):
                        label = f"{name}c{j}"
                        observed.attempt((name, Decimal(cents) * _CENT, tokens, label))
                        with contextlib.suppress(BudgetExceeded):
                            stage.charge(_usd(cents), tokens=tokens, label=label)
                        label = f"{name}shared{j}"
                        if j < len(shared_charges):
                            cents, tokens = shared_charges[j]
                            observed.attempt(("shared", Decimal(cents) * _CENT, tokens, label))
                            with contextlib.suppress(BudgetExceeded):
                                shared.charge(_usd(cents), tokens=tokens, label=label)
                    _check_snapshot(pool)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(w, p)) for w, p in enumerate(workers)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        _check_snapshot(pool)  # concurrently with the workers
    for t in threads:
        t.join()
    assert errors == []
    shared.close()
    _check_final(pool, observed)
