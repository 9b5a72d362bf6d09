"""The mutation operators, and how a test's observed sites become its mutants.

Each operator is named, documented and selectable (``--operators call-timeout,pool-halved``).
Derivation is deterministic: the same sites give the same mutants in the same order. Mutants
are ordered round-robin across operators (the first mutant of every operator, then the second
of every operator, ...), so ``--max-mutants`` keeps a sample of every kind of change rather
than only the first operator's.

Which sites are mutated:

* an agent's calls: its first call and, if it was called more than once, its last one (the
  review that approves, the final revision); failure operators only where the call answered
  (a scripted failure is already a failure), reply operators only where it answered with text,
  ``latency-x10`` where it took time;
* an agent's tool calls: every tool call of its first and its last reply that made tool calls
  (``tool-call-dropped``), and the first argument of each that can take another value its
  tool's schema accepts (``tool-args-changed``: another enum member, a number ±1, a changed
  string, a flipped bool);
* every member of every broadcast with two or more members;
* every budget pool and every deadline with a positive cap / length;
* every supervisor verdict;
* the first scalar field of the first occurrence of each decision (per log).

A mutant that changes nothing the run records (a halved deadline nothing came near, a slower
call that was cancelled anyway) is *equivalent*: the plugin compares the mutant run's
normalized recording with the baseline's and reports it apart, outside the score.

"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from agentrig._errors import ConfigurationError
from agentrig.mutate.hook import Ident, Mutant, changed_value

__all__ = ["OPERATORS", "Operator", "derive", "describe", "parse_operators"]


@dataclass(frozen=True, slots=True)
class Operator:
    """A kind of change.

    Attributes:
        name: what ``--operators`` selects it by.
        kind: the kind of site it changes.
        doc: one line for ``--help`` and the docs.
    """

    name: str
    kind: str
    doc: str


#: Every operator, in report order.
OPERATORS: Mapping[str, Operator] = {
    op.name: op
    for op in (
        Operator("call-timeout", "call", "an agent's call times out once (FakeTimeoutError)"),
        Operator("call-rate-limit", "call", "an agent's call is rate limited once (429)"),
        Operator("call-error", "call", "an agent's call raises an exception once"),
        Operator("reply-changed", "call", "an agent's reply has its words in reverse order"),
        Operator("reply-truncated", "call", "an agent's reply is cut to its first half"),
        Operator("reply-emptied", "call", "an agent's reply is empty"),
        Operator(
            "tool-call-dropped",
            "tool",
            "an agent's reply makes one tool call fewer (the only one: an empty answer)",
        ),
        Operator(
            "tool-args-changed",
            "tool",
            "a tool call's first changeable argument has another value its schema accepts",
        ),
        Operator("latency-x10", "latency", "an agent's call takes ten times as long"),
        Operator("broadcast-member-dropped", "broadcast", "a broadcast runs without a member"),
        Operator("pool-halved", "pool", "a budget pool has half its USD cap"),
        Operator("deadline-halved", "deadline", "a deadline has half its seconds"),
        Operator("verdict-flipped", "verdict", "a supervisor's verdict is the opposite"),
        Operator("decision-changed", "decision", "a decision records another value in a field"),
    )
}


def parse_operators(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """The selected operator names, in table order; all of them for ``None`` / ``"all"``.

    Raises:
        ConfigurationError: an unknown name (the message lists the known ones).
    """
    if value is None:
        return tuple(OPERATORS)
    names = value.split(",") if isinstance(value, str) else list(value)
    chosen = {n.strip() for n in names if n.strip()}
    if not chosen or chosen == {"all"}:
        return tuple(OPERATORS)
    unknown = sorted(chosen - set(OPERATORS))
    if unknown:
        raise ConfigurationError(
            f"unknown mutation operator(s) {', '.join(unknown)}; choose from:"
            f" {', '.join(OPERATORS)} (or all)"
        )
    return tuple(n for n in OPERATORS if n in chosen)


def _call_sites(sites: Mapping[tuple[str, Ident], dict[str, Any]], kind: str) -> list[Ident]:
    """The first and the last call of each agent among ``kind`` sites, in first-seen order."""
    by_agent: dict[str, list[Ident]] = {}
    for site_kind, ident in sites:
        if site_kind == kind:
            by_agent.setdefault(ident[0], []).append(ident)
    chosen: list[Ident] = []
    for idents in by_agent.values():
        ordered = sorted(idents, key=lambda i: i[1])
        chosen.append(ordered[0])
        if len(ordered) > 1:
            chosen.append(ordered[-1])
    return chosen


def _tool_sites(sites: Mapping[tuple[str, Ident], dict[str, Any]]) -> list[Ident]:
    """Every tool call of each agent's first and last reply that made tool calls."""
    by_agent: dict[str, dict[int, list[Ident]]] = {}
    for site_kind, ident in sites:
        if site_kind == "tool":
            by_agent.setdefault(ident[0], {}).setdefault(ident[1], []).append(ident)
    chosen: list[Ident] = []
    for calls in by_agent.values():
        numbers = sorted(calls)
        for number in dict.fromkeys((numbers[0], numbers[-1])):
            chosen.extend(sorted(calls[number], key=lambda i: i[2]))
    return chosen


def _candidates(
    op: Operator, sites: Mapping[tuple[str, Ident], dict[str, Any]]
) -> Iterable[Mutant]:
    if op.kind == "tool":
        for ident in _tool_sites(sites):
            info = sites[("tool", ident)]
            if op.name == "tool-args-changed" and "change" not in info:
                continue
            yield Mutant(op.name, op.kind, ident, dict(info))
        return
    if op.kind in ("call", "latency"):
        for ident in _call_sites(sites, op.kind):
            info = sites[(op.kind, ident)]
            if op.kind == "call":
                if not info.get("ok"):
                    continue
                if op.name.startswith("reply-") and not info.get("text", True):
                    continue
                chars = int(info.get("chars", 0))
                if op.name == "reply-emptied" and chars == 0:
                    continue
                if op.name == "reply-truncated" and chars < 2:
                    continue
            yield Mutant(op.name, op.kind, ident, dict(info))
        return
    for (kind, ident), info in sites.items():
        if kind == op.kind:
            yield Mutant(op.name, kind, ident, dict(info))


def derive(
    sites: Mapping[tuple[str, Ident], dict[str, Any]],
    *,
    operators: Sequence[str] | None = None,
    max_mutants: int | None = None,
) -> tuple[list[Mutant], int]:
    """The mutants of one test from the sites its baseline run touched.

    Args:
        sites: :attr:`agentrig.mutate.hook.Run.sites` of the baseline run.
        operators: the operator names to use (default all).
        max_mutants: keep at most this many (round-robin across operators).

    Returns:
        The mutants, in run order, and how many were left out by ``max_mutants``.
    """
    names = tuple(OPERATORS) if operators is None else tuple(operators)
    per_operator = [list(_candidates(OPERATORS[n], sites)) for n in names]
    ordered: list[Mutant] = []
    depth = max((len(m) for m in per_operator), default=0)
    for i in range(depth):
        ordered.extend(m[i] for m in per_operator if i < len(m))
    if max_mutants is None or len(ordered) <= max_mutants:
        return ordered, 0
    return ordered[:max_mutants], len(ordered) - max_mutants


def describe(mutant: Mutant) -> str:
    """The mutant in words: ``agent 'forums' times out on call #1``."""
    op, ident, info = mutant.operator, mutant.ident, mutant.info
    if mutant.kind == "tool":
        agent, n, _index = ident
        call = str(info.get("call", info.get("tool", "?")))
        if op == "tool-call-dropped":
            if int(info.get("of", 1)) > 1:
                return f"agent {agent!r} answers call #{n} without its tool call {call}"
            return f"agent {agent!r} answers call #{n} with an empty reply instead of {call}"
        key, old, new = info.get("change", ("?", None, None))
        return (
            f"agent {agent!r} calls {info.get('tool')!r} on call #{n} with {key}={new!r}"
            f" instead of {old!r}"
        )
    if mutant.kind in ("call", "latency"):
        agent, n = ident[0], ident[1]
        call = f"call #{n}"
        if op == "call-timeout":
            return f"agent {agent!r} times out on {call}"
        if op == "call-rate-limit":
            return f"agent {agent!r} is rate limited on {call}"
        if op == "call-error":
            return f"agent {agent!r} raises an error on {call}"
        if op == "reply-changed":
            return f"agent {agent!r} answers {call} with its words in reverse order"
        if op == "reply-truncated":
            return f"the reply of agent {agent!r} to {call} is cut in half"
        if op == "reply-emptied":
            return f"agent {agent!r} answers {call} with an empty reply"
        seconds = info.get("seconds")
        was = f" ({seconds:g} s → {10 * seconds:g} s)" if isinstance(seconds, float) else ""
        return f"agent {agent!r} takes ten times as long on {call}{was}"
    if op == "broadcast-member-dropped":
        name, occurrence, member = ident
        nth = f" (run #{occurrence})" if occurrence > 1 else ""
        return f"broadcast {name!r}{nth} runs without member {member!r}"
    if op == "pool-halved":
        name, occurrence = ident
        nth = f" #{occurrence}" if occurrence > 1 else ""
        usd = Decimal(str(info.get("usd", "0")))
        return f"budget pool {name!r}{nth} has half its cap (${usd} → ${usd / 2})"
    if op == "deadline-halved":
        name, occurrence = ident
        nth = f" #{occurrence}" if occurrence > 1 else ""
        seconds = info.get("seconds")
        was = f" ({seconds:g} s → {seconds / 2:g} s)" if isinstance(seconds, float) else ""
        return f"deadline {name!r}{nth} is cut to half{was}"
    if op == "verdict-flipped":
        name, n = ident
        flip = "rejects" if info.get("approved") else "approves"
        return f"supervisor {name!r} {flip} instead on review #{n}"
    log, decision, _occurrence, key = ident
    value = info.get("value")
    return (
        f"decision {decision!r} (log {log!r}) records {key}={changed_value(value)!r}"
        f" instead of {value!r}"
    )
