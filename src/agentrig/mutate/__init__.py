"""Offline mutation testing of agent suites: how strong is a green suite?

A mutant is one small, deterministic change to what a test's fakes and primitives do — an
agent's call times out once, a reply comes back truncated, a broadcast loses a member, a
budget pool has half its cap, a deadline half its seconds, a supervisor's verdict flips, a
decision records a different value. A test *kills* a mutant when it fails against it (drift,
assertion, cost gate, error, time limit); a mutant that *survives* names something the suite
would not notice. No prompt is rewritten and no model is called: agentrig owns the fakes and
the clock, so every mutant is free, offline and the same on every run.

The package is pytest-free and sits low in the layers, because the primitives consult it:

* :mod:`agentrig.mutate.hook` — the one switch (a module-level "active mutant or observer")
  that ``FakeAgent``, ``BudgetPool``, ``Deadline``, ``DecisionLog`` and the broadcast and
  supervisor patterns consult at the point of action. Nothing is active outside a mutation
  run, and then every consult is one global read.
* :mod:`agentrig.mutate.operators` — the named operators, and how the sites a test's run
  touched become its mutants (deterministic order, bounded).
* :mod:`agentrig.mutate.report` — scores per test, per operator and overall, survivors in
  words, the JSON report and the terminal table.

The pytest side (``pytest --agentrig-mutate``) is :mod:`agentrig.plugin.mutate`; the command
``agentrig mutate`` is :mod:`agentrig.cli.mutate`. docs/mutation.md describes the whole run.
"""

from __future__ import annotations

__all__: list[str] = []
