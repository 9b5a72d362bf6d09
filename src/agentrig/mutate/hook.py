"""The one switch the primitives consult: observe a test's run, or apply one mutant to it.

Implementation notes
--------------------
* **One global, not a context variable.** A mutation run executes one test at a time per
  process (xdist workers are processes), and what a test does may happen in tasks, in
  ``asyncio.to_thread`` workers or in plain threads; a module-level slot reaches all of them,
  a ``ContextVar`` would miss threads started without ``copy_context``. Outside a mutation run
  the slot is ``None`` and every consult is one global read and a return.
* **Sites are identified by what the run did, not by object identity**: an agent's call by
  ``(agent name, call number)``, a pool or deadline by ``(name, how many of that name were made
  before it + 1)``, a decision by ``(log, decision, occurrence, field)``. The virtual clock
  makes runs deterministic, so the baseline run and the mutant run reach the same sites in the
  same order up to the mutated one; after it they may diverge, which is the point.
* **Applied or not.** A mutant records whether it was applied. A mutant that was never
  reached (the run took another path before the site) changed nothing; the report says so
  instead of counting a silent survivor as a gap.
* The consults take and return plain values (a step dataclass is changed with
  ``dataclasses.replace``), so this module imports nothing of the layers above it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from agentrig._errors import FakeRateLimitError, FakeTimeoutError

__all__ = [
    "Mutant",
    "Run",
    "active_run",
    "broadcast_members",
    "call_latency",
    "call_step",
    "changed_text",
    "changed_value",
    "deadline_seconds",
    "decision_fields",
    "mutating",
    "pool_cap",
    "start",
    "stop",
    "verdict",
]

T = TypeVar("T")
Ident = tuple[Any, ...]

#: What an injected failure's message ends with, so a reader of a failure knows its origin.
INJECTED = "(injected by agentrig mutate)"


@dataclass(frozen=True, slots=True)
class Mutant:
    """One change to apply to one site of a test's run.

    Attributes:
        operator: the operator's name (``"call-timeout"``, ...; see
            :data:`agentrig.mutate.operators.OPERATORS`).
        kind: the kind of site it changes (``"call"``, ``"latency"``, ``"broadcast"``,
            ``"pool"``, ``"deadline"``, ``"verdict"``, ``"decision"``).
        ident: which site of that kind (see the module notes).
        info: what the baseline run observed there (for the description).
    """

    operator: str
    kind: str
    ident: Ident
    info: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def id(self) -> str:
        """A stable, readable id: ``call-timeout:research#1``."""
        return f"{self.operator}:{'#'.join(str(part) for part in self.ident)}"


class Run:
    """One run of one test: the baseline (observing sites) or a run with one mutant."""

    def __init__(self, mutant: Mutant | None = None) -> None:
        self.mutant = mutant
        self.sites: dict[tuple[str, Ident], dict[str, Any]] = {}
        self.applied = 0
        self._counters: dict[Ident, int] = {}

    def count(self, *key: Any) -> int:
        """The 1-based occurrence number of ``key`` in this run."""
        n = self._counters.get(key, 0) + 1
        self._counters[key] = n
        return n

    def see(self, kind: str, ident: Ident, info: dict[str, Any]) -> None:
        if self.mutant is None:
            self.sites.setdefault((kind, ident), info)

    def hits(self, kind: str, ident: Ident) -> Mutant | None:
        """The active mutant if it targets this site (and count it as applied)."""
        m = self.mutant
        if m is None or m.kind != kind or m.ident != ident:
            return None
        self.applied += 1
        return m


_RUN: Run | None = None


def start(mutant: Mutant | None = None) -> Run:
    """Begin a run: observe (``mutant=None``) or apply ``mutant``; returns the :class:`Run`."""
    global _RUN
    _RUN = Run(mutant)
    return _RUN


def stop() -> Run | None:
    """End the current run and return it (``None`` if none was active)."""
    global _RUN
    run, _RUN = _RUN, None
    return run


def active_run() -> Run | None:
    """The current run, if a mutation run is under way in this process."""
    return _RUN


def mutating() -> bool:
    """True while a mutant is applied (snapshot files must then be left alone)."""
    run = _RUN
    return run is not None and run.mutant is not None


# -- the value changes (shared with the descriptions) -----------------------------------------


def changed_text(text: str) -> str:
    """``reply-changed``: the same words in reverse order (else swapped case, else a ``?``)."""
    words = text.split()
    out = " ".join(reversed(words))
    if out == text or not words:
        out = text.swapcase()
    return out if out != text else text + "?"


def changed_value(value: object) -> object:
    """``decision-changed``: a different value of the same kind."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 2 if value else 1.0
    if isinstance(value, str):
        return f"{value} (mutated)" if value else "mutated"
    return "mutated"


def _scalar(value: object) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


# -- the consults ---------------------------------------------------------------------------


def call_step(agent: str, n: int, step: T) -> T:
    """FakeAgent: how call ``n`` of ``agent`` is answered (a step with text/error/latency)."""
    run = _RUN
    if run is None:
        return step
    ident = (agent, n)
    text = getattr(step, "text", None)
    ok = getattr(step, "error", None) is None and isinstance(text, str)
    run.see("call", ident, {"ok": ok, "chars": len(text) if isinstance(text, str) else 0})
    m = run.hits("call", ident)
    if m is None:
        return step
    source = f"{getattr(step, 'source', '?')} [mutant {m.operator}]"
    where = f"FakeModel agent {agent!r} (call #{n})"
    op = m.operator
    if op == "call-timeout":
        error: BaseException = FakeTimeoutError(f"{where} timed out {INJECTED}")
        return dataclasses.replace(step, text=None, error=error, source=source)  # type: ignore[type-var]
    if op == "call-rate-limit":
        error = FakeRateLimitError(f"{where} was rate limited {INJECTED}", retry_after=1.0)
        # A 429 comes back at once: no latency.
        return dataclasses.replace(step, text=None, error=error, latency=0.0, source=source)  # type: ignore[type-var]
    if op == "call-error":
        error = RuntimeError(f"{where} failed {INJECTED}")
        return dataclasses.replace(step, text=None, error=error, source=source)  # type: ignore[type-var]
    if not isinstance(text, str):
        return step
    if op == "reply-changed":
        return dataclasses.replace(step, text=changed_text(text), source=source)  # type: ignore[type-var]
    if op == "reply-truncated":
        return dataclasses.replace(step, text=text[: len(text) // 2], source=source)  # type: ignore[type-var]
    if op == "reply-emptied":
        return dataclasses.replace(step, text="", source=source)  # type: ignore[type-var]
    return step


def call_latency(agent: str, n: int, latency: T) -> T:
    """FakeAgent: the latency of call ``n`` (seconds, or a function of output tokens)."""
    run = _RUN
    if run is None:
        return latency
    ident = (agent, n)
    if callable(latency):
        run.see("latency", ident, {"seconds": None})
    elif isinstance(latency, (int, float)) and latency > 0:
        run.see("latency", ident, {"seconds": float(latency)})
    if run.hits("latency", ident) is None:
        return latency
    if callable(latency):
        slow: Callable[[int], float] = latency

        def ten_times(tokens: int) -> float:
            return 10 * float(slow(tokens))

        return ten_times  # type: ignore[return-value]
    return 10 * latency  # type: ignore[operator, return-value]


def broadcast_members(name: str, members: Sequence[tuple[str, T]]) -> list[tuple[str, T]]:
    """run_broadcast: the (name, agent) members; one may be dropped."""
    run = _RUN
    if run is None:
        return list(members)
    occurrence = run.count("broadcast", name)
    kept = []
    for member, agent in members:
        ident = (name, occurrence, member)
        if len(members) > 1:
            run.see("broadcast", ident, {"members": len(members)})
        if run.hits("broadcast", ident) is None:
            kept.append((member, agent))
    return kept


def pool_cap(name: str, usd: Decimal) -> Decimal:
    """BudgetPool: the cap in USD of a pool being created."""
    run = _RUN
    if run is None:
        return usd
    ident = (name, run.count("pool", name))
    if usd > 0:
        run.see("pool", ident, {"usd": str(usd)})
    return usd / 2 if run.hits("pool", ident) is not None else usd


def deadline_seconds(name: str, seconds: float) -> float:
    """Deadline: the seconds of a deadline being created."""
    run = _RUN
    if run is None:
        return seconds
    ident = (name, run.count("deadline", name))
    if seconds > 0:
        run.see("deadline", ident, {"seconds": seconds})
    return seconds / 2 if run.hits("deadline", ident) is not None else seconds


def verdict(name: str, approved: bool) -> bool:
    """run_supervisor: whether the supervisor approved review number k of loop ``name``."""
    run = _RUN
    if run is None:
        return approved
    ident = (name, run.count("verdict", name))
    run.see("verdict", ident, {"approved": approved})
    return (not approved) if run.hits("verdict", ident) is not None else approved


def decision_fields(log: str, decision: str, fields: dict[str, Any]) -> dict[str, Any]:
    """DecisionLog: the fields of a decision being recorded; one may change."""
    run = _RUN
    if run is None:
        return fields
    occurrence = run.count("decision", log, decision)
    # The first scalar field only (``stage`` of stage_complete, ``outcome`` of
    # supervisor_finished, ...): one mutant per decision, not one per field.
    for key, value in fields.items():
        if not _scalar(value):
            continue
        ident = (log, decision, occurrence, key)
        if occurrence == 1:
            run.see("decision", ident, {"value": value})
        if run.hits("decision", ident) is not None:
            return {**fields, key: changed_value(value)}
        break
    return fields
