"""Mutation results: scores per test, per operator and overall; survivors in words; JSON; table.

The data is plain JSON-able dicts end to end (a test's results travel from an xdist worker to
the controller on its test report), read back here into a :class:`MutationReport`.

Statuses of a mutant: ``killed`` (the test failed: ``killed_by`` is ``drift``, ``assertion``,
``gate``, ``error`` or ``timeout``), ``survived`` (the test passed although the run recorded
something different), ``equivalent`` (the test passed and the run's normalized recording is
identical to the baseline's: the change had no effect, nothing to notice), ``skipped`` (the
test skipped itself) and ``not_run`` (the total time limit ran out first). The score is
``killed / (killed + survived)``: the others prove nothing either way.

Statuses of a test: ``mutated``; ``baseline_failed`` (it fails without any mutant: reported
and excluded, a mutation score of a red test means nothing), ``baseline_skipped``,
``no_mutants`` (its run touched nothing a mutant could change) and ``not_agentrig`` (it uses
no agentrig fixture or marker: skipped by the mutator).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentrig.mutate.operators import OPERATORS

__all__ = ["REPORT_VERSION", "MutationReport", "Score"]

#: The version of the JSON report's layout.
REPORT_VERSION = 1

_KILLED = "killed"
_SURVIVED = "survived"


@dataclass(frozen=True, slots=True)
class Score:
    """Killed and survived mutants of some group, and the score."""

    killed: int = 0
    survived: int = 0
    timed_out: int = 0
    skipped: int = 0
    not_run: int = 0
    equivalent: int = 0

    @property
    def mutants(self) -> int:
        """Every mutant of the group, run or not."""
        return self.killed + self.survived + self.skipped + self.not_run + self.equivalent

    @property
    def score(self) -> float | None:
        """``killed / (killed + survived)``, or ``None`` when nothing was decided."""
        decided = self.killed + self.survived
        return None if decided == 0 else self.killed / decided

    def to_json(self) -> dict[str, Any]:
        return {
            "mutants": self.mutants,
            "killed": self.killed,
            "survived": self.survived,
            "timed_out": self.timed_out,
            "equivalent": self.equivalent,
            "skipped": self.skipped,
            "not_run": self.not_run,
            "score": None if self.score is None else round(self.score, 4),
        }


def _score(mutants: Iterable[Mapping[str, Any]]) -> Score:
    killed = survived = timed_out = skipped = not_run = equivalent = 0
    for m in mutants:
        status = m.get("status")
        if status == _KILLED:
            killed += 1
            timed_out += m.get("killed_by") == "timeout"
        elif status == _SURVIVED:
            survived += 1
        elif status == "equivalent":
            equivalent += 1
        elif status == "skipped":
            skipped += 1
        else:
            not_run += 1
    return Score(killed, survived, timed_out, skipped, not_run, equivalent)


def _short(nodeid: str) -> str:
    """The test's name without its file: ``test_x[a]`` / ``TestY::test_x``."""
    return nodeid.split("::", 1)[1] if "::" in nodeid else nodeid


def _pct(score: float | None) -> str:
    return "–" if score is None else f"{100 * score:.1f}%"


class MutationReport:
    """The results of one mutation run.

    Args:
        tests: one dict per test (see the module notes), in any order: they are sorted by
            node id, so the report does not depend on which xdist worker finished first.
        min_score: the floor, if one was set.
        notes: lines about the run itself (a limit that was reached, a missing feature).
    """

    def __init__(
        self,
        tests: Iterable[Mapping[str, Any]],
        *,
        min_score: float | None = None,
        notes: Sequence[str] = (),
    ) -> None:
        self.tests = sorted((dict(t) for t in tests), key=lambda t: str(t.get("nodeid")))
        self.min_score = min_score
        self.notes = list(notes)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MutationReport:
        """Read a report written by :meth:`to_json` back."""
        return cls(
            data.get("tests", []), min_score=data.get("min_score"), notes=data.get("notes", [])
        )

    # -- figures ---------------------------------------------------------------------------

    def _mutants(self) -> Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]:
        for test in self.tests:
            for mutant in test.get("mutants", []):
                yield test, mutant

    @property
    def overall(self) -> Score:
        """The score over every mutant of every test."""
        return _score(m for _, m in self._mutants())

    def per_test(self) -> dict[str, Score]:
        """The score of each mutated test, by node id."""
        return {
            t["nodeid"]: _score(t.get("mutants", []))
            for t in self.tests
            if t.get("status") == "mutated"
        }

    def per_operator(self) -> dict[str, Score]:
        """The score of each operator that made at least one mutant, in table order."""
        grouped: dict[str, list[Mapping[str, Any]]] = {}
        for _, m in self._mutants():
            grouped.setdefault(str(m.get("operator")), []).append(m)
        order = [n for n in OPERATORS if n in grouped] + sorted(set(grouped) - set(OPERATORS))
        return {name: _score(grouped[name]) for name in order}

    def survivors(self) -> list[str]:
        """Each surviving mutant in words, in test then run order."""
        lines = []
        for test, m in self._mutants():
            if m.get("status") == _SURVIVED:
                lines.append(
                    f"no test notices when {m.get('description')} in {_short(str(test['nodeid']))}"
                )
        return lines

    def tests_with(self, status: str) -> list[Mapping[str, Any]]:
        return [t for t in self.tests if t.get("status") == status]

    @property
    def below_floor(self) -> bool:
        """True when a floor is set and the score is under it (or nothing could be scored)."""
        if self.min_score is None:
            return False
        score = self.overall.score
        return score is None or score < self.min_score

    # -- output ----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The whole report as JSON-able data (``--json``, ``--agentrig-mutate-report``)."""
        return {
            "agentrig_mutation_report": REPORT_VERSION,
            "overall": self.overall.to_json(),
            "min_score": self.min_score,
            "below_floor": self.below_floor,
            "operators": {name: s.to_json() for name, s in self.per_operator().items()},
            "survivors": self.survivors(),
            "tests": [
                {**t, "score": _score(t.get("mutants", [])).to_json()["score"]} for t in self.tests
            ],
            "notes": self.notes,
        }

    def render(self, *, width: int = 100) -> list[str]:
        """The terminal table, as lines."""
        lines: list[str] = []
        tests = self.per_test()
        if tests:
            name_width = max(20, width - 38)
            lines.append(
                f"{'test':<{name_width}} {'mutants':>7} {'killed':>6} {'survived':>8} {'score':>7}"
            )
            for nodeid, s in tests.items():
                name = nodeid if len(nodeid) <= name_width else "…" + nodeid[-(name_width - 1) :]
                lines.append(
                    f"{name:<{name_width}} {s.mutants:>7} {s.killed:>6} {s.survived:>8}"
                    f" {_pct(s.score):>7}"
                )
            lines.append("")
            lines.append(
                f"{'operator':<26} {'mutants':>7} {'killed':>6} {'survived':>8} {'score':>7}"
            )
            for name, s in self.per_operator().items():
                lines.append(
                    f"{name:<26} {s.mutants:>7} {s.killed:>6} {s.survived:>8} {_pct(s.score):>7}"
                )
            lines.append("")
        o = self.overall
        extra = []
        if o.timed_out:
            extra.append(f"{o.timed_out} by their time limit")
        killed = f"{o.killed} killed" + (f" ({', '.join(extra)})" if extra else "")
        parts = [f"{o.mutants} mutants", killed, f"{o.survived} survived"]
        if o.equivalent:
            parts.append(f"{o.equivalent} equivalent (changed nothing recorded)")
        if o.skipped:
            parts.append(f"{o.skipped} skipped")
        if o.not_run:
            parts.append(f"{o.not_run} not run (time limit)")
        line = f"mutation score {_pct(o.score)}: " + ", ".join(parts)
        if self.min_score is not None:
            verdict = "BELOW the floor" if self.below_floor else "ok"
            line += f" — floor {100 * self.min_score:g}%: {verdict}"
        lines.append(line)
        survivors = self.survivors()
        if survivors:
            lines.append(f"survivors ({len(survivors)}):")
            lines.extend(f"  {s}" for s in survivors)
        for status, what in (
            ("baseline_failed", "failed before mutation (excluded)"),
            ("baseline_skipped", "skipped before mutation (excluded)"),
            ("no_mutants", "touched nothing a mutant could change"),
            ("not_agentrig", "not agentrig tests (skipped by the mutator)"),
        ):
            found = self.tests_with(status)
            if found:
                lines.append(f"{len(found)} test(s) {what}:")
                lines.extend(f"  {t['nodeid']}" for t in found[:10])
                if len(found) > 10:
                    lines.append(f"  ... and {len(found) - 10} more")
        left_out = sum(int(t.get("left_out", 0)) for t in self.tests)
        if left_out:
            lines.append(f"{left_out} mutant(s) left out by --max-mutants")
        lines.extend(self.notes)
        return lines
