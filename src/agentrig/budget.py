"""Money (and token) budgets for agent runs: a pool that stages reserve from and charge to.

One concept, one module: the pool, its stage budgets, their reservations and the ledger share
one lock and one invariant (``cap = spent + reserved + available``), and every method of one
reads and writes the others' state under that lock, so they are not split across files. What
is not the budget lives elsewhere: reading and printing amounts in :mod:`agentrig.money`,
argument checks in :mod:`agentrig.checks`.

Usage::

    pool = BudgetPool(usd=0.10)
    async with pool.acquire(max_usd=0.04) as stage_budget:
        out = await research_agent.run(raw_input, budget=stage_budget)   # charges the stage

The reservation model
---------------------
A :class:`BudgetPool` has a cap in US dollars (and optionally a cap in tokens). Entering
``pool.acquire(max_usd=...)`` creates a :class:`StageBudget` and *reserves* its grant from the
pool, so that concurrent stages can never promise the same dollar twice. The pool's state::

    available = max(0, cap - spent - reserved)

* ``spent`` — every charge that was made, accepted or not (the ledger's sum).
* ``reserved`` — what open stages were granted and have not spent yet.
* ``available`` — what a new stage can be granted right now.

While every stage stays within its grant, ``cap = spent + reserved + available`` exactly.

The grant rule, exactly::

    granted_usd = available_usd                      if max_usd is None   ("whatever is left")
    granted_usd = min(max_usd, available_usd)        otherwise

A stage may therefore be granted *less* than it asked for (never more), and it can never spend
more than its grant, so it can never spend more than its own cap nor more than the pool had
left. A request that no pool state could ever meet — ``max_usd`` above the pool's whole cap —
is a :class:`~agentrig.ConfigurationError` at the call, not a silent clamp. When nothing is
available the acquire fails fast with :class:`~agentrig.BudgetExhausted`, or, with
``wait=True``, queues (FIFO) until the open stages give back enough; see
:meth:`BudgetPool.acquire`. Tokens follow the same rules when the pool has a token cap; without
one, tokens are counted and capped per stage only.

Charging (:meth:`StageBudget.charge`) moves money from the stage's reservation to ``spent``.
A charge is accepted when the stage's spend stays within its grant *and* the pool's spend stays
within its cap (both counting refused charges: they are real money). Otherwise it raises
:class:`~agentrig.BudgetExceeded` *after* it is written to the ledger with ``accepted=False``:
spend that happened is never dropped. So accepted charges never add up past the pool's cap,
even after some stage overspent (the pool check then refuses charges that the overspend has
already paid for). When the stage's block exits (normally or by an
exception) whatever it did not spend returns to the pool and wakes the waiters.

Exactness
---------
Money is :class:`decimal.Decimal` inside, so ``0.1 + 0.2`` fits a ``0.3`` cap. Amounts are read
by :func:`agentrig.money.parse_usd` (a float through its ``repr``: ``0.1`` means exactly one
tenth; NaN, infinities, negative amounts, booleans and other types are refused with a
ConfigurationError naming the parameter), summed in :data:`agentrig.money.CONTEXT` (exact for
the accepted range whatever the caller's own decimal context says) and printed by
:func:`agentrig.money.format_usd`. Recordings and ``float()`` are the only places money becomes
a float.

Concurrency
-----------
One :class:`threading.Lock` per pool guards all state, so ``charge`` and ``close`` may be
called from threads. Waiters are asyncio futures, woken in FIFO order when a stage is closed or
a charge changes what the pool can still hand out (from another thread through
``call_soon_threadsafe``). A waiter's reservation is made under the lock at the moment it is
granted; if the waiting task is cancelled before it resumes, the reservation goes straight back
to the pool, so cancellation never leaks money.

Recording
---------
While a recording is active (looked up at each operation), the pool writes ``budget.acquire``,
``budget.charge``, ``budget.release`` and ``budget.refused`` entries with the data keys fixed
in ``docs/architecture.md``; money in them is a float.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
from collections import deque
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Literal, Protocol, TypeVar

from agentrig._errors import BudgetExceeded, BudgetExhausted, ConfigurationError, StateError
from agentrig._secrets import redact_secrets
from agentrig._types import Money
from agentrig.checks import check_count, check_name, check_seconds
from agentrig.deadline import Deadline
from agentrig.money import CONTEXT, ZERO, format_usd, parse_usd
from agentrig.mutate import hook as _mutation
from agentrig.recording import active_recording
from agentrig.vocabulary import EntryKind

__all__ = [
    "BudgetPool",
    "BudgetStatistics",
    "LedgerEntry",
    "Reservation",
    "StageBudget",
    "current_stage_budget",
]

# -- exact money --------------------------------------------------------------------------------


# Bound C methods (a Python wrapper per operation cost a frame each: ~30 per model call).
_add: Callable[[Decimal, Decimal], Decimal] = CONTEXT.add
_sub: Callable[[Decimal, Decimal], Decimal] = CONTEXT.subtract


def _fmt_tokens(count: int | None) -> str:
    return "unlimited" if count is None else f"{count}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


_N = TypeVar("_N", Decimal, int)


def _enough(want: _N | None, available: _N, reachable: _N) -> bool:
    """Whether a *waiting* request may be granted now (see :meth:`BudgetPool.acquire`).

    ``reachable`` is what would be available if every open stage gave back its reservation.
    A request is served once the pool can give all of it, or as much of it as it ever will.
    """
    if want is None:
        return available > 0
    return available >= min(want, reachable)


# -- public records -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One charge, exactly as it was made (the ledger keeps refused charges too).

    Attributes:
        seq: the charge's number in its pool, from 1.
        stage: the name of the stage that was charged.
        usd: the amount, exact.
        tokens: the tokens charged.
        label: the caller's label (``None`` if not given).
        accepted: ``False`` when the charge broke a cap (or hit a closed stage); the money was
            spent all the same and counts in the pool's ``spent_usd``.
    """

    seq: int
    stage: str
    usd: Decimal
    tokens: int
    label: str | None
    accepted: bool


@dataclass(frozen=True, slots=True)
class BudgetStatistics:
    """A consistent snapshot of a pool's state (``pool.statistics()``).

    Attributes:
        cap_usd: the pool's cap.
        spent_usd: everything charged, accepted or not (the ledger's sum).
        reserved_usd: granted to open stages and not spent yet.
        available_usd: what a new stage could be granted now, ``max(0, cap - spent -
            reserved)``.
        cap_tokens: the token cap, ``None`` if tokens are not capped.
        spent_tokens: every token charged.
        open_stages: stages acquired and not yet closed.
        waiting: acquires queued with ``wait=True``.
        reserved_tokens: tokens granted to open stages and not used yet (0 without a cap).
        available_tokens: tokens a new stage could be granted now (``None`` without a cap).
        accepted_usd: the sum of accepted charges; never above ``cap_usd``.
    """

    cap_usd: Decimal
    spent_usd: Decimal
    reserved_usd: Decimal
    available_usd: Decimal
    cap_tokens: int | None
    spent_tokens: int
    open_stages: int
    waiting: int
    reserved_tokens: int
    available_tokens: int | None
    accepted_usd: Decimal


class _DeadlineLike(Protocol):
    def remaining(self) -> float: ...


# Why an acquire was not granted. "wait" is internal (queue and try again later).
_Refusal = Literal["exhausted", "spent", "queued", "deadline", "wait"]


@dataclass(frozen=True, slots=True)
class _Request:
    name: str
    max_usd: Decimal | None
    max_tokens: int | None


@dataclass(eq=False, slots=True)
class _Waiter:
    request: _Request
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    start: float
    # Set under the pool lock when the waiter is served: the stage reserved on its behalf,
    # or the refusal that made waiting pointless.
    outcome: StageBudget | _Refusal | None = None


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# -- the pool -----------------------------------------------------------------------------------


class BudgetPool:
    """A cap in US dollars (and optionally tokens) that stages reserve from and charge to.

    Args:
        usd: the pool's cap in US dollars (Decimal, int, float or str; floats read exactly
            as written, so ``0.1`` is one tenth).
        tokens: an optional cap on tokens; ``None`` counts tokens without capping the pool.
        name: a label shown in errors, reprs and the recording.

    Raises:
        ConfigurationError: an amount is NaN, infinite, negative, a boolean or not a number,
            or ``name`` is not a non-empty string.

    Usage::

        pool = BudgetPool(usd=0.10)
        async with pool.acquire(max_usd=0.04, name="research") as stage_budget:
            out = await research_agent.run(raw_input, budget=stage_budget)
        pool.statistics().spent_usd      # Decimal('0.012'), say
        pool                             # <BudgetPool 'pool' cap=$0.10 spent=$0.012 reserved=$0.00>

        with pool.acquire_nowait(max_usd="0.02") as stage:   # sync code, no waiting
            stage.charge(0.005, tokens=120, label="summary")
    """

    __slots__ = (
        "__weakref__",
        "_accepted_usd",
        "_cap_tokens",
        "_cap_usd",
        "_held_tokens",
        "_held_usd",
        "_ledger",
        "_lock",
        "_name",
        "_open_stages",
        "_reserved_tokens",
        "_reserved_usd",
        "_spent_tokens",
        "_spent_usd",
        "_stage_numbers",
        "_waiters",
    )

    def __init__(self, *, usd: Money, tokens: int | None = None, name: str = "pool") -> None:
        check_name(name, owner="BudgetPool")
        self._name = name
        self._cap_usd = _mutation.pool_cap(name, parse_usd(usd, "usd"))  # agentrig mutate
        self._cap_tokens = None if tokens is None else check_count(tokens, "tokens", unit="tokens")
        self._lock = threading.Lock()
        self._spent_usd = ZERO
        self._accepted_usd = ZERO
        self._spent_tokens = 0
        self._reserved_usd = ZERO
        self._reserved_tokens = 0
        # Reservation.hold: money promised to calls in flight, not spent yet (see StageBudget).
        self._held_usd = ZERO
        self._held_tokens = 0
        self._open_stages = 0
        self._ledger: list[LedgerEntry] = []
        self._waiters: deque[_Waiter] = deque()
        self._stage_numbers = itertools.count(1)

    # -- reading ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The pool's label."""
        return self._name

    @property
    def cap_usd(self) -> Decimal:
        """The pool's cap in US dollars."""
        return self._cap_usd

    @property
    def cap_tokens(self) -> int | None:
        """The pool's token cap, or ``None`` when tokens are not capped."""
        return self._cap_tokens

    @property
    def spent_usd(self) -> Decimal:
        """Everything charged so far, accepted or not (equals the ledger's sum)."""
        with self._lock:
            return self._spent_usd

    @property
    def spent_tokens(self) -> int:
        """Every token charged so far, accepted or not."""
        with self._lock:
            return self._spent_tokens

    @property
    def reserved_usd(self) -> Decimal:
        """Money granted to open stages and not spent yet."""
        with self._lock:
            return self._reserved_usd

    @property
    def available_usd(self) -> Decimal:
        """What a new stage could be granted right now."""
        with self._lock:
            return self._available_usd()

    @property
    def ledger(self) -> tuple[LedgerEntry, ...]:
        """Every charge in the order it was made, refused ones included."""
        with self._lock:
            return tuple(self._ledger)

    def statistics(self) -> BudgetStatistics:
        """A consistent snapshot of the pool's state.

        Returns:
            A frozen :class:`BudgetStatistics`.
        """
        with self._lock:
            return BudgetStatistics(
                cap_usd=self._cap_usd,
                spent_usd=self._spent_usd,
                reserved_usd=self._reserved_usd,
                available_usd=self._available_usd(),
                cap_tokens=self._cap_tokens,
                spent_tokens=self._spent_tokens,
                open_stages=self._open_stages,
                waiting=len(self._waiters),
                reserved_tokens=self._reserved_tokens,
                available_tokens=self._available_tokens(),
                accepted_usd=self._accepted_usd,
            )

    def __repr__(self) -> str:
        with self._lock:
            text = (
                f"<BudgetPool {self._name!r} cap={format_usd(self._cap_usd)}"
                f" spent={format_usd(self._spent_usd)} reserved={format_usd(self._reserved_usd)}"
            )
            if self._cap_tokens is not None:
                text += f" tokens={self._spent_tokens}/{self._cap_tokens}"
            if self._waiters:
                text += f" waiting={len(self._waiters)}"
            return redact_secrets(text + ">")  # names print in failures and with -l

    # -- acquiring --------------------------------------------------------------------------

    def acquire(
        self,
        *,
        max_usd: Money | None = None,
        max_tokens: int | None = None,
        name: str | None = None,
        wait: bool = False,
        deadline: Deadline | _DeadlineLike | float | None = None,
    ) -> AbstractAsyncContextManager[StageBudget]:
        """Reserve a stage budget for an ``async with`` block; unspent money returns on exit.

        The grant is ``min(max_usd, available)`` (all that is available when ``max_usd`` is
        ``None``), and likewise for tokens when the pool caps them. Arguments are checked
        here, at the call; the money is reserved when the block is entered.

        Without ``wait``, an acquire that finds nothing available fails at once with
        :class:`~agentrig.BudgetExhausted`; so does one made while other acquires are
        queued (a non-waiting acquire never overtakes waiters). With ``wait=True`` it queues
        behind earlier waiters (FIFO) and is served once the pool can grant *all* it asked
        for, or as much as the pool will ever be able to (once no open stage holds a
        reservation that could come back); ``max_usd=None`` is served as soon as anything is
        available. If the pool's cap is entirely spent, waiting could never help and the
        acquire fails at once. ``deadline`` bounds the wait only: an acquire that can be
        served immediately is served even past its deadline.

        Args:
            max_usd: the most this stage may spend; ``None`` asks for whatever is left.
            max_tokens: the most tokens this stage may use; ``None``: no stage token cap
                (all the pool's available tokens if the pool caps tokens).
            name: the stage's label; default ``"stage-N"``, numbered per pool.
            wait: wait for money instead of failing when the pool is exhausted.
            deadline: with ``wait=True``, how long to wait at most: a
                :class:`~agentrig.Deadline`, or a number of seconds. It reads the running
                loop's clock, so under agentrig's virtual loop the wait is virtual.

        Returns:
            An async context manager whose ``__aenter__`` returns the :class:`StageBudget`
            and whose ``__aexit__`` closes it (also when the block raises).

        Raises:
            ConfigurationError: an argument is invalid, ``max_usd`` (``max_tokens``) exceeds
                the pool's whole cap, or ``deadline`` is given without ``wait=True``.
            BudgetExhausted: (on entering) nothing to hand out and not waiting, the pool's
                cap is entirely spent, or the deadline ran out while waiting.
        """
        if not isinstance(wait, bool):
            raise ConfigurationError(f"`wait` must be True or False, got {wait!r}")
        if deadline is not None and not wait:
            raise ConfigurationError(
                f"`deadline` bounds the wait for money, but wait=False never waits (pool"
                f" {self._name!r}); pass wait=True with deadline=, or drop deadline="
            )
        if deadline is not None:
            _check_deadline(deadline)
        request = self._request(max_usd, max_tokens, name)
        return _Acquisition(self, request, wait=wait, deadline=deadline)

    def acquire_nowait(
        self,
        *,
        max_usd: Money | None = None,
        max_tokens: int | None = None,
        name: str | None = None,
    ) -> StageBudget:
        """Reserve a stage budget now, without waiting; the caller closes it.

        Same grant rule as :meth:`acquire`. Use it as ``with pool.acquire_nowait(...) as
        stage:`` in sync code, or call ``stage.close()`` yourself (in a ``finally``).

        Args:
            max_usd: the most this stage may spend; ``None`` asks for whatever is left.
            max_tokens: the most tokens this stage may use (see :meth:`acquire`).
            name: the stage's label; default ``"stage-N"``.

        Returns:
            The open :class:`StageBudget`.

        Raises:
            ConfigurationError: an argument is invalid or exceeds the pool's whole cap.
            BudgetExhausted: nothing is available, or other acquires are waiting.
        """
        return self._acquire_now(self._request(max_usd, max_tokens, name))

    def _request(self, max_usd: object, max_tokens: object, name: object) -> _Request:
        stage_name = check_name(name, owner="stage", optional=True)
        usd = None if max_usd is None else parse_usd(max_usd, "max_usd")
        tokens = (
            None if max_tokens is None else check_count(max_tokens, "max_tokens", unit="tokens")
        )
        if usd is not None and usd > self._cap_usd:
            who = "a stage" if name is None else f"stage {name!r}"
            raise ConfigurationError(
                f"{who} asks for max_usd={format_usd(usd)}, more than pool"
                f" {self._name!r} can ever hold (cap {format_usd(self._cap_usd)}); lower"
                " max_usd= or give the pool a larger usd="
            )
        if tokens is not None and self._cap_tokens is not None and tokens > self._cap_tokens:
            who = "a stage" if name is None else f"stage {name!r}"
            raise ConfigurationError(
                f"{who} asks for max_tokens={tokens}, more than pool"
                f" {self._name!r} can ever hold (cap {self._cap_tokens} tokens); lower"
                " max_tokens= or give the pool a larger tokens="
            )
        # Numbered only once valid: a refused acquire keeps its number (it is recorded).
        label = stage_name if stage_name is not None else f"stage-{next(self._stage_numbers)}"
        return _Request(label, usd, tokens)

    def _acquire_now(self, request: _Request) -> StageBudget:
        with self._lock:
            outcome = self._admit(request, waiting=False, queued=bool(self._waiters))
            if isinstance(outcome, StageBudget):
                self._record_acquire(outcome, request, waited=False)
                return outcome
            error = self._refuse(request, outcome)
        raise error

    async def _acquire_waiting(
        self, request: _Request, deadline: Deadline | _DeadlineLike | float | None
    ) -> StageBudget:
        loop = asyncio.get_running_loop()
        start = loop.time()
        when = _deadline_at(deadline, loop)
        with self._lock:
            outcome = self._admit(request, waiting=True, queued=bool(self._waiters))
            if isinstance(outcome, StageBudget):
                self._record_acquire(outcome, request, waited=False)
                return outcome
            if outcome != "wait":
                error = self._refuse(request, outcome)
                raise error
            waiter = _Waiter(request, loop, loop.create_future(), start)
            self._waiters.append(waiter)

        try:
            async with asyncio.timeout_at(when):
                await waiter.future
        except TimeoutError:
            pass  # served in the meantime, or refused below
        except BaseException:
            # Cancelled (or interrupted): give back a reservation made on our behalf, or leave
            # the queue, and let the next waiter have its turn.
            with self._lock:
                self._abandon(waiter)
            raise

        with self._lock:
            served = waiter.outcome
            if served is None:  # the deadline ran out first
                self._waiters.remove(waiter)
                self._wake_waiters()  # we may have been the head blocking the others
                error = self._refuse(request, "deadline", waited=loop.time() - start)
                raise error
            if isinstance(served, StageBudget):
                self._record_acquire(served, request, waited=True)
                return served
            error = self._refuse(request, served)
        raise error

    # -- the state machine (every method below runs with self._lock held) -------------------

    def _available_usd(self) -> Decimal:
        return max(ZERO, _sub(_sub(self._cap_usd, self._spent_usd), self._reserved_usd))

    def _available_tokens(self) -> int | None:
        if self._cap_tokens is None:
            return None
        return max(0, self._cap_tokens - self._spent_tokens - self._reserved_tokens)

    def _admit(self, request: _Request, *, waiting: bool, queued: bool) -> StageBudget | _Refusal:
        """Grant ``request`` now (reserving its money), or say why not."""
        avail_usd = self._available_usd()
        reach_usd = max(ZERO, _sub(self._cap_usd, self._spent_usd))
        want_usd = request.max_usd
        if want_usd != 0 and reach_usd == 0:
            return "spent"
        cap_t = self._cap_tokens
        avail_t = reach_t = 0
        want_t = request.max_tokens
        if cap_t is not None:
            avail_t = max(0, cap_t - self._spent_tokens - self._reserved_tokens)
            reach_t = max(0, cap_t - self._spent_tokens)
            if want_t != 0 and reach_t == 0:
                return "spent"
        if queued:
            return "wait" if waiting else "queued"
        if waiting:
            if not _enough(want_usd, avail_usd, reach_usd):
                return "wait"
            if cap_t is not None and not _enough(want_t, avail_t, reach_t):
                return "wait"
        else:
            if want_usd != 0 and avail_usd == 0:
                return "exhausted"
            if cap_t is not None and want_t != 0 and avail_t == 0:
                return "exhausted"

        grant_usd = avail_usd if want_usd is None else min(want_usd, avail_usd)
        grant_t: int | None = want_t
        if cap_t is not None:
            grant_t = avail_t if want_t is None else min(want_t, avail_t)
            self._reserved_tokens += grant_t
        self._reserved_usd = _add(self._reserved_usd, grant_usd)
        self._open_stages += 1
        return StageBudget._create(self, request, grant_usd, grant_t)

    def _wake_waiters(self) -> None:
        """Serve queued waiters, head first, until one cannot be served yet (strict FIFO)."""
        while self._waiters:
            waiter = self._waiters[0]
            outcome = self._admit(waiter.request, waiting=True, queued=False)
            if outcome == "wait":
                return
            self._waiters.popleft()
            waiter.outcome = outcome
            if not self._notify(waiter) and isinstance(outcome, StageBudget):
                self._unreserve(outcome)  # its loop is gone: nobody will ever use the grant

    @staticmethod
    def _notify(waiter: _Waiter) -> bool:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is waiter.loop:
            _set_done(waiter.future)
            return True
        try:
            waiter.loop.call_soon_threadsafe(_set_done, waiter.future)
        except RuntimeError:  # the waiter's loop is closed
            return False
        return True

    def _abandon(self, waiter: _Waiter) -> None:
        outcome = waiter.outcome
        if isinstance(outcome, StageBudget):
            # Granted while we were being cancelled: the stage was never handed out (and
            # nothing was recorded for it), so its reservation simply goes back.
            self._unreserve(outcome)
        elif outcome is None:
            self._waiters.remove(waiter)
        self._wake_waiters()

    def _unreserve(self, stage: StageBudget) -> tuple[Decimal, int]:
        """Close ``stage`` and give its unspent reservation back; returns (usd, tokens)."""
        if stage._closed:  # idempotent: a grant may be given back by more than one path
            return ZERO, 0
        stage._closed = True
        self._open_stages -= 1
        if stage._held_usd or stage._held_tokens:  # calls still in flight: their holds end here
            self._unhold(stage, stage._held_usd, stage._held_tokens)
        back_usd = max(ZERO, _sub(stage._cap_usd, stage._spent_usd))
        self._reserved_usd = _sub(self._reserved_usd, back_usd)
        back_t = 0
        if self._cap_tokens is not None and stage._cap_tokens is not None:
            back_t = max(0, stage._cap_tokens - stage._spent_tokens)
            self._reserved_tokens -= back_t
        return back_usd, back_t

    def _release(self, stage: StageBudget) -> None:
        with self._lock:
            if stage._closed:
                return
            back_usd, _ = self._unreserve(stage)
            rec = active_recording()
            if rec is not None:
                rec.add_entry(
                    EntryKind.BUDGET_RELEASE,
                    {
                        "pool": self._name,
                        "stage": stage._name,
                        "spent_usd": float(stage._spent_usd),
                        "returned_usd": float(back_usd),
                        "spent_tokens": stage._spent_tokens,
                    },
                )
            self._wake_waiters()

    def _charge(
        self,
        stage: StageBudget,
        usd: object,
        tokens: object,
        label: object,
        held: tuple[Decimal, int] | None = None,
    ) -> None:
        amount = parse_usd(usd, "usd")
        count = check_count(tokens, "tokens", unit="tokens")
        if label is not None and not isinstance(label, str):
            raise ConfigurationError(f"charge `label` must be a string or None, got {label!r}")
        error: Exception | None = None
        with self._lock:
            if held is not None and not stage._closed:  # the hold becomes the spend, atomically
                self._unhold(stage, *held)
            was_closed = stage._closed
            broken: list[str] = []
            stage_usd = _add(stage._spent_usd, amount)
            pool_usd = _add(self._spent_usd, amount)
            stage_t = stage._spent_tokens + count
            pool_t = self._spent_tokens + count
            if not was_closed:
                if stage_usd > stage._cap_usd:
                    note = ""
                    if stage._requested_usd is None:
                        note = " (all the pool had left when the stage was acquired)"
                    elif stage._requested_usd > stage._cap_usd:
                        note = (
                            f" (granted {format_usd(stage._cap_usd)} of the"
                            f" {format_usd(stage._requested_usd)} it asked for)"
                        )
                    broken.append(
                        f"the stage has now spent {format_usd(stage_usd)} against its cap of"
                        f" {format_usd(stage._cap_usd)}{note}"
                    )
                if pool_usd > self._cap_usd:
                    broken.append(
                        f"pool {self._name!r} has now spent {format_usd(pool_usd)} against its"
                        f" cap of {format_usd(self._cap_usd)}"
                    )
                if stage._cap_tokens is not None and stage_t > stage._cap_tokens:
                    broken.append(
                        f"the stage has now used {stage_t} tokens against its cap of"
                        f" {stage._cap_tokens}"
                    )
                if self._cap_tokens is not None and pool_t > self._cap_tokens:
                    broken.append(
                        f"pool {self._name!r} has now used {pool_t} tokens against its cap of"
                        f" {self._cap_tokens}"
                    )
                # The spend uses up the stage's reservation first (what is left of it).
                used = min(amount, max(ZERO, _sub(stage._cap_usd, stage._spent_usd)))
                self._reserved_usd = _sub(self._reserved_usd, used)
                if self._cap_tokens is not None and stage._cap_tokens is not None:
                    self._reserved_tokens -= min(
                        count, max(0, stage._cap_tokens - stage._spent_tokens)
                    )
            accepted = not was_closed and not broken
            stage._spent_usd = stage_usd
            stage._spent_tokens = stage_t
            self._spent_usd = pool_usd
            self._spent_tokens = pool_t
            if accepted:
                self._accepted_usd = _add(self._accepted_usd, amount)
            entry = LedgerEntry(len(self._ledger) + 1, stage._name, amount, count, label, accepted)
            self._ledger.append(entry)
            rec = active_recording()
            if rec is not None:
                rec.add_entry(
                    EntryKind.BUDGET_CHARGE,
                    {
                        "pool": self._name,
                        "stage": stage._name,
                        "usd": float(amount),
                        "tokens": count,
                        "label": label,
                        "accepted": accepted,
                    },
                )
            if was_closed or broken:  # the message only then: this path runs on every call
                what = f"charge of {format_usd(amount)}"
                if count:
                    what += f" and {count} tokens"
                if label is not None:
                    what += f" (label {label!r})"
            if was_closed:
                error = StateError(
                    f"stage {stage._name!r} of pool {self._name!r} is closed (its acquire block"
                    f" has exited); the {what} is recorded in the ledger (accepted=False) but a"
                    " closed stage cannot spend. Charge a stage only inside its block, or"
                    " acquire a new one"
                )
            elif broken:
                error = BudgetExceeded(
                    f"stage {stage._name!r} of pool {self._name!r} went over budget with a"
                    f" {what}: "
                    + "; ".join(broken)
                    + ". The money was spent, so the charge stays in the ledger"
                    " (accepted=False). Acquire the stage with a larger max_usd=/max_tokens="
                    " or give the pool a larger usd=/tokens=; to stop before spending, check"
                    " stage.can_afford(...) first"
                )
            if self._waiters:  # spending shrinks what may come back: a waiter may settle now
                self._wake_waiters()
        if error is not None:
            raise error

    def _can_afford(self, stage: StageBudget, usd: object, tokens: object) -> bool:
        amount = parse_usd(usd, "usd")
        count = check_count(tokens, "tokens", unit="tokens")
        with self._lock:
            if stage._closed:
                raise StateError(
                    f"stage {stage._name!r} of pool {self._name!r} is closed (its acquire"
                    " block has exited) and cannot spend; use a stage only inside its block"
                )
            return self._fits(stage, amount, count)

    def _fits(self, stage: StageBudget, amount: Decimal, count: int) -> bool:
        """Whether ``amount``/``count`` fit beside what is spent and held (lock held)."""
        if _add(_add(stage._spent_usd, stage._held_usd), amount) > stage._cap_usd:
            return False
        if _add(_add(self._spent_usd, self._held_usd), amount) > self._cap_usd:
            return False
        if (
            stage._cap_tokens is not None
            and stage._spent_tokens + stage._held_tokens + count > stage._cap_tokens
        ):
            return False
        return not (
            self._cap_tokens is not None
            and self._spent_tokens + self._held_tokens + count > self._cap_tokens
        )

    def _hold(self, stage: StageBudget, usd: object, tokens: object) -> Reservation | None:
        amount = parse_usd(usd, "usd")
        count = check_count(tokens, "tokens", unit="tokens")
        with self._lock:
            if stage._closed:
                raise StateError(
                    f"stage {stage._name!r} of pool {self._name!r} is closed (its acquire"
                    " block has exited) and cannot spend; use a stage only inside its block"
                )
            if not self._fits(stage, amount, count):
                return None
            stage._held_usd = _add(stage._held_usd, amount)
            stage._held_tokens += count
            self._held_usd = _add(self._held_usd, amount)
            self._held_tokens += count
        return Reservation._create(stage, amount, count)

    def _unhold(self, stage: StageBudget, amount: Decimal, count: int) -> None:
        """Give a hold back (lock held by the caller)."""
        stage._held_usd = _sub(stage._held_usd, amount)
        stage._held_tokens -= count
        self._held_usd = _sub(self._held_usd, amount)
        self._held_tokens -= count

    # -- messages and records (lock held) ---------------------------------------------------

    def _state(self) -> str:
        text = (
            f"cap {format_usd(self._cap_usd)}, spent {format_usd(self._spent_usd)}, reserved"
            f" {format_usd(self._reserved_usd)} by {_plural(self._open_stages, 'open stage')}"
        )
        if self._cap_tokens is not None:
            text += (
                f"; tokens: cap {self._cap_tokens}, spent {self._spent_tokens}, reserved"
                f" {self._reserved_tokens}"
            )
        return text

    def _refuse(
        self, request: _Request, reason: _Refusal, *, waited: float | None = None
    ) -> BudgetExhausted:
        """Record the refusal and build the error that says what to do about it."""
        rec = active_recording()
        if rec is not None:
            rec.add_entry(
                EntryKind.BUDGET_REFUSED,
                {
                    "pool": self._name,
                    "stage": request.name,
                    "requested_usd": None if request.max_usd is None else float(request.max_usd),
                    "available_usd": float(self._available_usd()),
                    "reason": reason,
                },
            )
        want = "whatever is left" if request.max_usd is None else format_usd(request.max_usd)
        if request.max_tokens is not None:
            want += f" and {request.max_tokens} tokens"
        who = f"stage {request.name!r} asked pool {self._name!r} for {want}"
        # Which of money and tokens ran short (money unless only the tokens did).
        money_short = request.max_usd != 0 and (
            self._available_usd() == 0
            if reason == "exhausted"
            else _sub(self._cap_usd, self._spent_usd) <= 0
        )
        short = "nothing" if money_short or self._cap_tokens is None else "no tokens"
        if reason == "spent":
            return BudgetExhausted(
                f"{who}, but the pool has {short} left to hand out and nothing can come back"
                f" ({self._state()}); waiting would not help. Give the pool a larger usd="
                "/tokens=, or spend less in earlier stages"
            )
        if reason == "queued":
            return BudgetExhausted(
                f"{who} without waiting, but {_plural(len(self._waiters), 'acquire')} already"
                f" wait for money ({self._state()}) and a non-waiting acquire never overtakes"
                " them. Pass wait=True to queue behind them"
            )
        if reason == "deadline":
            return BudgetExhausted(
                f"{who} and waited {waited or 0.0:g}s, but its deadline ran out before enough"
                f" came back ({self._state()}). Give it a later deadline=, let the open stages"
                " finish sooner, or give the pool a larger usd="
            )
        return BudgetExhausted(
            f"{who}, but {'nothing is' if short == 'nothing' else 'no tokens are'} available"
            f" ({self._state()}). Let the open stages finish first, pass wait=True to wait for"
            " what they do not use, or give the pool a larger"
            f" {'usd=' if short == 'nothing' else 'tokens='}"
        )

    def _record_acquire(self, stage: StageBudget, request: _Request, *, waited: bool) -> None:
        rec = active_recording()
        if rec is not None:
            rec.add_entry(
                EntryKind.BUDGET_ACQUIRE,
                {
                    "pool": self._name,
                    "stage": stage._name,
                    "granted_usd": float(stage._cap_usd),
                    "max_usd": None if request.max_usd is None else float(request.max_usd),
                    "granted_tokens": stage._cap_tokens,
                    "waited": waited,
                },
            )


def _check_deadline(deadline: object) -> None:
    if isinstance(deadline, bool):
        raise ConfigurationError(
            f"`deadline` must be a Deadline or a number of seconds, got {deadline!r}"
        )
    if isinstance(deadline, (int, float)):
        check_seconds(deadline, "deadline", finite=False)
        return
    if not callable(getattr(deadline, "remaining", None)):
        raise ConfigurationError(
            f"`deadline` must be a Deadline (or anything with remaining()) or a number of"
            f" seconds, got {deadline!r}"
        )


def _deadline_at(
    deadline: Deadline | _DeadlineLike | float | None, loop: asyncio.AbstractEventLoop
) -> float | None:
    """The loop time at which a wait bounded by ``deadline`` gives up (``None``: never)."""
    if deadline is None:
        return None
    if isinstance(deadline, Deadline):
        return deadline.at  # already a time on the running loop's clock
    seconds = float(deadline) if isinstance(deadline, (int, float)) else deadline.remaining()
    if math.isinf(seconds):
        return None
    return loop.time() + max(0.0, seconds)


class _Acquisition(AbstractAsyncContextManager["StageBudget"]):
    """What :meth:`BudgetPool.acquire` returns: reserves on enter, releases on exit."""

    __slots__ = ("_deadline", "_entered", "_pool", "_request", "_stage", "_wait")

    def __init__(
        self,
        pool: BudgetPool,
        request: _Request,
        *,
        wait: bool,
        deadline: Deadline | _DeadlineLike | float | None,
    ) -> None:
        self._pool = pool
        self._request = request
        self._wait = wait
        self._deadline = deadline
        self._entered = False
        self._stage: StageBudget | None = None

    async def __aenter__(self) -> StageBudget:
        if self._entered:
            raise StateError(
                f"this pool.acquire(...) for stage {self._request.name!r} was already entered;"
                " call pool.acquire(...) again for each `async with` block"
            )
        self._entered = True
        if self._wait:
            self._stage = await self._pool._acquire_waiting(self._request, self._deadline)
        else:
            self._stage = self._pool._acquire_now(self._request)
        self._stage._ambient_token = _AMBIENT.set(self._stage)
        return self._stage

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stage is not None:
            token, self._stage._ambient_token = self._stage._ambient_token, None
            if token is not None:
                _reset_ambient(token)
            self._stage.close()

    def __enter__(self) -> StageBudget:
        raise ConfigurationError(
            "pool.acquire(...) is asynchronous: write `async with pool.acquire(...) as stage:`,"
            " or in sync code `with pool.acquire_nowait(...) as stage:`"
        )

    def __exit__(self, *exc_info: object) -> None:  # pragma: no cover - __enter__ raises
        return None

    def __repr__(self) -> str:
        return redact_secrets(f"<pool.acquire for stage {self._request.name!r} of {self._pool!r}>")


# -- the stage ----------------------------------------------------------------------------------


class StageBudget:
    """The part of a pool one stage may spend: charge it, check it, close it.

    Created by :meth:`BudgetPool.acquire` (closed when its block exits) or
    :meth:`BudgetPool.acquire_nowait` (closed by ``close()`` or a ``with`` block); not
    instantiated directly. It satisfies the :class:`agentrig.Budget` protocol, so it can be
    passed as ``budget=`` to any agent.

    Usage::

        with pool.acquire_nowait(max_usd=0.04, name="draft") as stage:
            if stage.can_afford(0.01, tokens=300):
                stage.charge(0.01, tokens=300, label="draft call")
            stage.remaining_usd          # Decimal('0.03')
    """

    __slots__ = (
        "__weakref__",
        "_ambient_token",
        "_cap_tokens",
        "_cap_usd",
        "_closed",
        "_held_tokens",
        "_held_usd",
        "_name",
        "_pool",
        "_requested_usd",
        "_spent_tokens",
        "_spent_usd",
    )

    _cap_usd: Decimal
    _cap_tokens: int | None
    _closed: bool
    _name: str
    _pool: BudgetPool
    _requested_usd: Decimal | None
    _spent_tokens: int
    _spent_usd: Decimal
    _held_usd: Decimal
    _held_tokens: int
    _ambient_token: Token[StageBudget | None] | None

    def __init__(self) -> None:
        raise StateError(
            "StageBudget is not created directly: use `async with pool.acquire(...) as stage:`"
            " or `with pool.acquire_nowait(...) as stage:` on a BudgetPool"
        )

    @classmethod
    def _create(
        cls, pool: BudgetPool, request: _Request, cap_usd: Decimal, cap_tokens: int | None
    ) -> StageBudget:
        self = object.__new__(cls)
        self._pool = pool
        self._name = request.name
        self._requested_usd = request.max_usd
        self._cap_usd = cap_usd
        self._cap_tokens = cap_tokens
        self._spent_usd = ZERO
        self._spent_tokens = 0
        self._held_usd = ZERO
        self._held_tokens = 0
        self._closed = False
        self._ambient_token = None
        return self

    # -- reading ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The stage's label."""
        return self._name

    @property
    def pool(self) -> BudgetPool:
        """The pool this stage reserved from."""
        return self._pool

    @property
    def requested_usd(self) -> Decimal | None:
        """The ``max_usd`` asked for (``None``: whatever was left)."""
        return self._requested_usd

    @property
    def cap_usd(self) -> Decimal:
        """What the stage was granted: the most it may spend (may be below ``max_usd``)."""
        return self._cap_usd

    @property
    def spent_usd(self) -> Decimal:
        """Everything charged to this stage, accepted or not."""
        with self._pool._lock:
            return self._spent_usd

    @property
    def remaining_usd(self) -> Decimal:
        """What the stage may still spend, ``max(0, cap_usd - spent_usd)``."""
        with self._pool._lock:
            return max(ZERO, _sub(self._cap_usd, self._spent_usd))

    @property
    def cap_tokens(self) -> int | None:
        """The most tokens the stage may use, ``None`` if uncapped."""
        return self._cap_tokens

    @property
    def spent_tokens(self) -> int:
        """Every token charged to this stage, accepted or not."""
        with self._pool._lock:
            return self._spent_tokens

    @property
    def remaining_tokens(self) -> int | None:
        """Tokens the stage may still use, ``None`` if uncapped."""
        with self._pool._lock:
            if self._cap_tokens is None:
                return None
            return max(0, self._cap_tokens - self._spent_tokens)

    @property
    def closed(self) -> bool:
        """True once the stage's block has exited (or ``close()`` was called)."""
        with self._pool._lock:
            return self._closed

    @property
    def ledger(self) -> tuple[LedgerEntry, ...]:
        """This stage's charges, in order (a filtered view of the pool's ledger)."""
        with self._pool._lock:
            return tuple(e for e in self._pool._ledger if e.stage == self._name)

    # -- spending ---------------------------------------------------------------------------

    def charge(self, usd: Money = 0, *, tokens: int = 0, label: str | None = None) -> None:
        """Record money (and tokens) spent by this stage; raise if it broke a cap.

        The charge is written to the pool's ledger in every case. If it takes the stage or
        the pool past a cap, it is written with ``accepted=False`` and then
        :class:`~agentrig.BudgetExceeded` is raised: the money was spent all the same.

        Args:
            usd: the amount spent (Decimal, int, float or str; floats read exactly).
            tokens: the tokens used.
            label: what the money was spent on (kept in the ledger and the recording).

        Raises:
            BudgetExceeded: the charge broke the stage's or the pool's cap (recorded anyway).
            ConfigurationError: an argument is invalid.
            StateError: the stage is closed (the charge
                is still recorded, refused).
        """
        self._pool._charge(self, usd, tokens, label)

    def can_afford(self, usd: Money = 0, *, tokens: int = 0) -> bool:
        """Whether ``charge(usd, tokens=tokens)`` would be accepted right now.

        Exact for a stage used by one task; with concurrent spenders it is advisory (another
        charge may land in between), and ``charge`` stays the authority.

        Args:
            usd: the amount the caller is about to spend.
            tokens: the tokens it is about to use.

        Returns:
            True if neither the stage's nor the pool's caps would be broken.

        Raises:
            ConfigurationError: an argument is invalid.
            StateError: the stage is closed.
        """
        return self._pool._can_afford(self, usd, tokens)

    def reserve(self, usd: Money = 0, *, tokens: int = 0) -> Reservation | None:
        """Hold ``usd``/``tokens`` for a call in flight, atomically, if the stage can afford it.

        What :meth:`can_afford` cannot promise under concurrency, this does: the check and the
        hold happen under the pool's lock, and held money counts as spent for every later
        ``can_afford``/``reserve``, so concurrent callers can never together spend past a cap.

        Args:
            usd: the most the call will cost.
            tokens: the most tokens it will use.

        Returns:
            A :class:`Reservation` to ``commit`` (charge) or ``cancel``; ``None`` if the stage
            or the pool cannot afford it.

        Raises:
            ConfigurationError: an argument is invalid.
            StateError: the stage is closed.
        """
        return self._pool._hold(self, usd, tokens)

    def close(self) -> None:
        """Give what was not spent back to the pool and wake waiters; idempotent."""
        self._pool._release(self)

    def __enter__(self) -> StageBudget:
        self._ambient_token = _AMBIENT.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token, self._ambient_token = self._ambient_token, None
        if token is not None:
            _reset_ambient(token)
        self.close()

    def __repr__(self) -> str:
        with self._pool._lock:
            text = (
                f"<StageBudget {self._name!r} of {self._pool._name!r}"
                f" cap={format_usd(self._cap_usd)} spent={format_usd(self._spent_usd)}"
            )
            if self._cap_tokens is not None or self._spent_tokens:
                text += f" tokens={self._spent_tokens}/{_fmt_tokens(self._cap_tokens)}"
            return redact_secrets(text + (" closed>" if self._closed else " open>"))


class Reservation:
    """Money held on a stage for one call in flight (from :meth:`StageBudget.reserve`).

    ``commit()`` turns the hold into a charge (in one step under the pool's lock);
    ``cancel()`` gives it back. Either may be called once; a reservation left alone holds
    its money until the stage closes.
    """

    __slots__ = ("_done", "_stage", "tokens", "usd")

    usd: Decimal
    tokens: int
    _stage: StageBudget
    _done: bool

    def __init__(self) -> None:
        raise StateError("a Reservation is made by stage.reserve(usd, tokens=...)")

    @classmethod
    def _create(cls, stage: StageBudget, usd: Decimal, tokens: int) -> Reservation:
        self = object.__new__(cls)
        self._stage = stage
        self.usd = usd
        self.tokens = tokens
        self._done = False
        return self

    def commit(
        self, usd: Money | None = None, *, tokens: int | None = None, label: str | None = None
    ) -> None:
        """Charge the stage (the held amounts, or the given ones) and release the hold.

        Raises:
            BudgetExceeded: as :meth:`StageBudget.charge` (only when charging more than held).
            RuntimeError: the reservation was already committed or cancelled.
        """
        self._finish("commit")
        self._stage._pool._charge(
            self._stage,
            self.usd if usd is None else usd,
            self.tokens if tokens is None else tokens,
            label,
            held=(self.usd, self.tokens),
        )

    def cancel(self) -> None:
        """Give the held money back to the stage (idempotent)."""
        if self._done:
            return
        self._done = True
        pool = self._stage._pool
        with pool._lock:
            if not self._stage._closed:  # a closed stage already gave every hold back
                pool._unhold(self._stage, self.usd, self.tokens)

    def _finish(self, what: str) -> None:
        if self._done:
            raise RuntimeError(
                f"this Reservation of {format_usd(self.usd)} on stage {self._stage._name!r} was"
                f" already settled; each reservation is committed or cancelled once ({what})"
            )
        self._done = True

    def __repr__(self) -> str:
        state = "settled" if self._done else "held"
        return (
            f"<Reservation {format_usd(self.usd)} tokens={self.tokens}"
            f" on {self._stage._name!r} {state}>"
        )


# -- the ambient stage ----------------------------------------------------------------------------

# The stage whose block is running in this task's context. Tasks created inside the block copy
# the context, so calls made in asyncio.gather children are charged to it too.
_AMBIENT: ContextVar[StageBudget | None] = ContextVar("agentrig_stage_budget", default=None)


def _reset_ambient(token: Token[StageBudget | None]) -> None:
    try:
        _AMBIENT.reset(token)
    except ValueError:  # exited in another context than it was entered in: just clear it
        _AMBIENT.set(None)


def current_stage_budget() -> StageBudget | None:
    """The stage budget whose ``pool.acquire(...)`` block the calling task is in, if any.

    Model calls made through the provider SDKs inside such a block are charged to it
    (see ``docs/providers.md``), without the app passing ``budget=``.
    """
    stage = _AMBIENT.get()
    if stage is not None and stage._closed:
        return None
    return stage
