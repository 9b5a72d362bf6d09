"""The one switch the primitives consult: observe a test's run, or apply one mutant to it.

Implementation notes
--------------------
* **One global, not a context variable.** A mutation run executes one test at a time per
  process (xdist workers are processes), and what a test does may happen in tasks, in
  ``asyncio.to_thread`` workers or in plain threads; a module-level slot reaches all of them,
  a ``ContextVar`` would miss threads started without ``copy_context``. Outside a mutation run
  the slot is ``None`` and every consult is one global read and a return.
* **Sites are identified by what the run did, not by object identity**: an agent's call by
  ``(agent name, call number)``, one of its reply's tool calls by ``(agent name, call number,
  index in the reply)``, a pool or deadline by ``(name, how many of that name were made
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
from collections.abc import Callable, Mapping, Sequence
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
    "changed_arguments",
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
        kind: the kind of site it changes (``"call"``, ``"tool"``, ``"latency"``, ``"broadcast"``,
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


def call_step(agent: str, n: int, step: T, tools: Sequence[Any] = ()) -> T:
    """FakeAgent: how call ``n`` of ``agent`` is answered (a step with text/error/latency).

    ``tools`` are the tools the request offered (objects with ``name`` and ``parameters``, the
    JSON schema of the arguments): a changed argument must still fit the schema, or the fake
    would refuse the script and the mutant would be killed by a script error, not by a test.
    """
    run = _RUN
    if run is None:
        return step
    ident = (agent, n)
    text = getattr(step, "text", None)
    answered = getattr(step, "error", None) is None and text is not None
    is_text = isinstance(text, str)
    run.see(
        "call",
        ident,
        {"ok": answered, "text": is_text, "chars": len(text) if isinstance(text, str) else 0},
    )
    calls = _tool_calls(text) if answered else None
    if calls is not None and run.mutant is None:
        for index, call in enumerate(calls):
            run.see("tool", (agent, n, index), _tool_info(call, calls, tools))
    m = run.hits("call", ident)
    if m is None:
        if calls is not None and run.mutant is not None and run.mutant.kind == "tool":
            return _tool_mutant(run, agent, n, step, calls, tools)
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


# -- tool calls ---------------------------------------------------------------------------------
# A reply's tool calls are ``agentrig.ToolCall`` objects (a frozen dataclass with ``name``,
# ``arguments`` and ``id``), one or a list; this module sits below ``agentrig.chat`` and knows
# them by shape only.


def _is_tool_call(value: object) -> bool:
    return (
        dataclasses.is_dataclass(value)
        and not isinstance(value, type)
        and isinstance(getattr(value, "name", None), str)
        and isinstance(getattr(value, "arguments", None), Mapping)
    )


def _tool_calls(value: object) -> list[Any] | None:
    """The tool calls a reply value makes, or ``None`` if it makes none."""
    if _is_tool_call(value):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(_is_tool_call(v) for v in value):
        return list(value)
    return None


def _schema(tools: Sequence[Any], name: str) -> Mapping[str, Any] | None:
    for tool in tools:
        if getattr(tool, "name", None) == name:
            parameters = getattr(tool, "parameters", None)
            return parameters if isinstance(parameters, Mapping) and parameters else None
    return None


def _fits(arguments: Mapping[str, Any], schema: Mapping[str, Any] | None) -> bool:
    """Whether ``arguments`` fit the tool's JSON schema (jsonschema, as the fake checks them)."""
    if schema is None:
        return True
    try:
        import jsonschema  # type: ignore[import-untyped]  # no stubs; imported when used
    except ImportError:  # pragma: no cover - installed with the SDK extras that offer tools
        return True
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        return bool(validator(schema).is_valid(dict(arguments)))
    except jsonschema.SchemaError:  # the fake reports a broken schema itself
        return True


def _alternatives(value: object, spec: object) -> list[object]:
    """Other values for one argument, most telling first (another enum member first)."""
    out: list[object] = []
    if isinstance(spec, Mapping) and isinstance(spec.get("enum"), list):
        out += [v for v in spec["enum"] if v != value or type(v) is not type(value)]
    if isinstance(value, bool):
        out.append(not value)
    elif isinstance(value, int):
        out += [value + 1, value - 1]
    elif isinstance(value, float):
        out += [value * 2 if value else 1.0, value / 2]
    elif isinstance(value, str):
        out.append(changed_value(value))
    return out


def changed_arguments(
    arguments: Mapping[str, Any], schema: Mapping[str, Any] | None
) -> tuple[str, object, object] | None:
    """``tool-args-changed``: ``(key, old, new)`` for the first top-level scalar argument that
    can take another value the tool's schema accepts, or ``None`` when none can."""
    properties = schema.get("properties") if schema is not None else None
    for key, value in arguments.items():
        if not _scalar(value) or value is None:
            continue
        spec = properties.get(key) if isinstance(properties, Mapping) else None
        for new in _alternatives(value, spec):
            if _fits({**arguments, key: new}, schema):
                return key, value, new
    return None


def _call_text(call: Any) -> str:
    """``weather(city='Porto')``: a tool call as a reader would write it (values cut short)."""
    parts = []
    for key, value in call.arguments.items():
        shown = repr(value) if _scalar(value) else "…"
        parts.append(f"{key}={shown if len(shown) <= 30 else shown[:29] + '…'}")
    return f"{call.name}({', '.join(parts)})"


def _tool_info(call: Any, calls: Sequence[Any], tools: Sequence[Any]) -> dict[str, Any]:
    info: dict[str, Any] = {"tool": call.name, "call": _call_text(call), "of": len(calls)}
    change = changed_arguments(call.arguments, _schema(tools, call.name))
    if change is not None:
        info["change"] = list(change)
    return info


def _tool_mutant(
    run: Run, agent: str, n: int, step: T, calls: list[Any], tools: Sequence[Any]
) -> T:
    """Apply a ``tool-call-dropped`` / ``tool-args-changed`` mutant to one of the calls."""
    for index, call in enumerate(calls):
        m = run.hits("tool", (agent, n, index))
        if m is None:
            continue
        source = f"{getattr(step, 'source', '?')} [mutant {m.operator}]"
        if m.operator == "tool-call-dropped":
            rest = calls[:index] + calls[index + 1 :]
            # Without its only tool call the reply is an empty answer: the model stopped.
            return dataclasses.replace(step, text=rest if rest else "", source=source)  # type: ignore[type-var]
        change = changed_arguments(call.arguments, _schema(tools, call.name))
        if change is None:
            return step
        key, _old, new = change
        changed = dataclasses.replace(call, arguments={**call.arguments, key: new})
        out = [changed if i == index else c for i, c in enumerate(calls)]
        return dataclasses.replace(step, text=out if len(out) > 1 else out[0], source=source)  # type: ignore[type-var]
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
