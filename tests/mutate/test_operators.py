"""The operators, derivation, the hook's switch and the report, without a pytest session."""

from __future__ import annotations

from decimal import Decimal

import pytest

import agentrig
from agentrig import BudgetPool, ConfigurationError, Deadline, DecisionLog, FakeTimeoutError
from agentrig.fake import FakeModel
from agentrig.mutate import hook
from agentrig.mutate.operators import OPERATORS, derive, describe, parse_operators
from agentrig.mutate.report import MutationReport


def observe(main: object) -> dict[tuple[str, tuple[object, ...]], dict[str, object]]:
    hook.start(None)
    try:
        agentrig.run(main)  # type: ignore[arg-type]
    finally:
        run = hook.stop()
    assert run is not None
    return run.sites


async def small_run() -> None:
    model = FakeModel()
    research = model.agent("research", replies=["a b c", "d e f"], latency=2.0)
    await research.run("one")
    await research.run("two")
    BudgetPool(usd="0.10", name="ticket")
    Deadline(30, name="sla")
    DecisionLog().record("stage_complete", stage="research", tokens=3)


def test_nothing_is_consulted_outside_a_mutation_run() -> None:
    step = object()
    assert hook.active_run() is None and not hook.mutating()
    assert hook.call_step("a", 1, step) is step
    assert hook.pool_cap("p", Decimal("0.1")) == Decimal("0.1")
    assert hook.deadline_seconds("d", 10.0) == 10.0
    assert hook.verdict("s", True) is True
    fields = {"x": 1}
    assert hook.decision_fields("log", "d", fields) is fields


def test_derivation_is_deterministic_round_robin_and_bounded() -> None:
    sites = observe(small_run())
    first, _ = derive(sites)
    again, _ = derive(observe(small_run()))
    assert [m.id for m in first] == [m.id for m in again]
    # first and last call of research, each operator in turn
    assert [m.id for m in first[:4]] == [
        "call-timeout:research#1",
        "call-rate-limit:research#1",
        "call-error:research#1",
        "reply-changed:research#1",
    ]
    ids = {m.id for m in first}
    assert {"pool-halved:ticket#1", "deadline-halved:sla#1"} <= ids
    assert "decision-changed:decisions#stage_complete#1#stage" in ids
    assert "decision-changed:decisions#stage_complete#1#tokens" not in ids  # first field only
    kept, left_out = derive(sites, max_mutants=5)
    assert [m.id for m in kept] == [m.id for m in first[:5]] and left_out == len(first) - 5
    only, _ = derive(sites, operators=["pool-halved"])
    assert [m.id for m in only] == ["pool-halved:ticket#1"]


def test_an_applied_mutant_changes_exactly_its_site() -> None:
    (timeout,) = [m for m in derive(observe(small_run()))[0] if m.id == "call-timeout:research#2"]
    hook.start(timeout)

    async def main() -> list[str]:
        model = FakeModel()
        research = model.agent("research", replies=["a b c", "d e f"], latency=2.0)
        first = (await research.run("one")).text
        with pytest.raises(FakeTimeoutError, match="injected by agentrig mutate"):
            await research.run("two")
        return [first, research.calls[1].answered_by]

    try:
        assert agentrig.run(main()) == ["a b c", "replies[1] [mutant call-timeout]"]
        pool = BudgetPool(usd="0.10", name="ticket")
    finally:
        run = hook.stop()
    assert run is not None and run.applied == 1
    assert pool.cap_usd == Decimal("0.10")  # not the targeted site


def test_descriptions_read_as_sentences() -> None:
    words = {m.id: describe(m) for m in derive(observe(small_run()))[0]}
    assert words["call-timeout:research#1"] == "agent 'research' times out on call #1"
    assert words["latency-x10:research#2"] == (
        "agent 'research' takes ten times as long on call #2 (2 s → 20 s)"
    )
    assert words["pool-halved:ticket#1"] == "budget pool 'ticket' has half its cap ($0.10 → $0.05)"
    assert words["deadline-halved:sla#1"] == "deadline 'sla' is cut to half (30 s → 15 s)"
    assert words["decision-changed:decisions#stage_complete#1#stage"] == (
        "decision 'stage_complete' (log 'decisions') records stage='research (mutated)'"
        " instead of 'research'"
    )


def test_value_changes_always_change_the_value() -> None:
    for text in ("a b c", "APPROVED", "", "123", "x"):
        assert hook.changed_text(text) != text
    for value in (True, 0, 3, 0.0, 2.5, "", "s", None):
        assert hook.changed_value(value) != value


def test_operator_names_are_checked() -> None:
    assert parse_operators(None) == tuple(OPERATORS) == parse_operators("all")
    assert parse_operators("verdict-flipped, call-timeout") == ("call-timeout", "verdict-flipped")
    with pytest.raises(ConfigurationError, match=r"unknown mutation operator.*teleport"):
        parse_operators("teleport")


def test_the_report_scores_names_survivors_and_round_trips_through_json() -> None:
    tests = [
        {
            "nodeid": "t.py::test_b",
            "status": "mutated",
            "mutants": [
                {
                    "id": "a",
                    "operator": "call-timeout",
                    "description": "agent 'x' times out on call #1",
                    "status": "survived",
                },
                {
                    "id": "b",
                    "operator": "call-timeout",
                    "description": "d",
                    "status": "killed",
                    "killed_by": "timeout",
                },
                {"id": "c", "operator": "pool-halved", "description": "d", "status": "equivalent"},
            ],
        },
        {"nodeid": "t.py::test_a", "status": "baseline_failed", "mutants": []},
    ]
    report = MutationReport(tests, min_score=0.8)
    assert report.overall.score == 0.5 and report.overall.timed_out == 1
    assert report.below_floor
    assert report.survivors() == ["no test notices when agent 'x' times out on call #1 in test_b"]
    assert [t["nodeid"] for t in report.tests] == ["t.py::test_a", "t.py::test_b"]
    again = MutationReport.from_json(report.to_json())
    assert again.to_json() == report.to_json()
    text = "\n".join(report.render())
    assert "mutation score 50.0%: 3 mutants, 1 killed (1 by their time limit), 1 survived" in text
    assert "floor 80%: BELOW the floor" in text
    assert "1 test(s) failed before mutation (excluded):" in text


def test_every_operator_is_documented_in_the_readme_the_docs_and_the_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pathlib import Path

    from agentrig.cli import main

    root = Path(__file__).parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    design = (root / "docs" / "mutation.md").read_text(encoding="utf-8")
    assert main(["mutate", "--help"]) == 0
    helped = capsys.readouterr().out
    for name, op in OPERATORS.items():
        assert f"`{name}`" in readme, f"README's operator list lacks {name}"
        assert f"`{name}`" in design, f"docs/mutation.md's table lacks {name}"
        assert name in helped and op.doc in " ".join(helped.split()), name
