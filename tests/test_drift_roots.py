"""Roots and consequences: issue #18's cases, on real runs of the patterns and the example app.

Each case is a pair of real recordings (``drift_cases``) differing in one behaviour; the report
must show that one behaviour as one root (or two, for a failing broadcast agent), fold the
rest under it, keep every leaf change, and act on the roots' classes.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from agentrig import ConfigurationError
from agentrig.drift import DriftConfig, compare
from drift_cases import CASES, Doc, changed_kb_reply, changed_reply, inserted_stage, swapped_stages

_PAIRS: dict[str, tuple[Doc, Doc]] = {}


def pair(name: str, make: Callable[[], tuple[Doc, Doc]]) -> tuple[Doc, Doc]:
    if name not in _PAIRS:
        _PAIRS[name] = make()
    return _PAIRS[name]


@pytest.mark.parametrize("name", list(CASES))
def test_each_case_of_the_issue_is_at_most_its_target_of_root_lines(name: str) -> None:
    make, most = CASES[name]
    expected, received = pair(name, make)
    report = compare(expected, received)
    assert report.failed
    assert 1 <= len(report.roots) <= most, report.render(verbose=2)
    # every other leaf change is folded under one of the roots, and the leaves are all kept
    assert len(report.changes) > len(report.roots)
    for change in report.changes:
        if change.cause is not None:
            assert report.changes[change.cause].is_root
    root_lines = [line for line in report.render().splitlines() if line.startswith("  [")]
    assert len(root_lines) == len(report.roots)


def test_a_changed_reply_is_one_text_root_with_its_ripple_counted() -> None:
    report = compare(*pair("changed reply", changed_reply))
    (root,) = report.roots
    assert (root.drift_class, root.where) == (
        "text",
        "invoke_workflow pipeline › invoke_agent draft › chat fake-model · agentrig.reply",
    )
    lines = report.render().splitlines()
    assert lines[0] == (
        "agentrig drift: 1 root change (text 1) + 21 consequences; 22 changes, 22 failing"
    )
    assert lines[1] == (
        "  first divergence: t=2.0 s, invoke_workflow pipeline › invoke_agent draft"
        " › chat fake-model · agentrig.reply"
    )
    assert lines[3] == "      +21 consequences: prompts 1, tokens 9, cost 11"
    # the next stage's prompt quotes the reply: a consequence, listed with -vv
    folded = {c.where for c in report.consequences(root)}
    assert (
        "invoke_workflow pipeline › invoke_agent review › chat fake-model · agentrig.prompt"
        in folded
    )
    assert (
        "↳ [text] invoke_workflow pipeline › invoke_agent review › chat fake-model"
        " · agentrig.prompt" in report.render(verbose=2)
    )


def test_an_inserted_stage_is_one_root_and_the_time_shift_one_phrase() -> None:
    report = compare(*pair("inserted stage", inserted_stage))
    (root,) = report.roots
    assert root.render() == (
        "[structure] invoke_workflow pipeline › invoke_agent plan: added span 'invoke_agent plan'"
    )
    line = report.render().splitlines()[3]
    assert line.endswith("everything after it starts 2.0 s later (19 times)")
    # nothing after the insertion is mis-paired: research stays research
    assert not any(c.field == "stage" or "moved" in c.describe() for c in report.changes)


def test_a_swap_of_two_stages_is_one_move() -> None:
    report = compare(*pair("swapped stages", swapped_stages))
    (root,) = report.roots
    assert root.op == "reordered" and root.drift_class == "structure"
    assert root.path in (
        "invoke_workflow pipeline › invoke_agent research",
        "invoke_workflow pipeline › invoke_agent draft",
    )


def test_money_quoted_in_messages_is_usage_cost_not_error_or_decision() -> None:
    report = compare(*pair("changed knowledge-base reply", changed_kb_reply))
    assert report.counts(roots=True) == {"text": 1}
    # the budget refusal's message quotes the money left: same words, other figures
    quoted = [c for c in report.changes if c.field and "message" in c.field]
    assert quoted and all(c.drift_class == "usage-cost" for c in quoted)
    assert "error" not in report.counts() and "decision" not in report.counts()
    # so a gate on behaviour does not fail on the cost ripple of a changed text
    config = DriftConfig.from_strings(fail_on="structure,decision,error")
    assert not compare(
        *pair("changed knowledge-base reply", changed_kb_reply), config=config
    ).failed


def test_fail_on_acts_on_the_classes_of_the_roots_and_their_own() -> None:
    expected, received = pair("changed reply", changed_reply)
    assert not compare(
        expected, received, config=DriftConfig.from_strings(fail_on="structure,error")
    ).failed
    cost = DriftConfig.from_strings(fail_on="usage-cost", tolerance="usage-cost:rel=200%")
    assert not compare(expected, received, config=cost).failed  # cost moved, but within 200 %
    strict = DriftConfig.from_strings(fail_on="usage-cost", tolerance="usage-cost:rel=5%")
    assert compare(expected, received, config=strict).failed


def test_numbers_are_never_text() -> None:
    expected, received = pair("failing broadcast agent", CASES["failing broadcast agent"][0])
    report = compare(expected, received)
    succeeded = next(c for c in report.changes if c.field == "agents_succeeded")
    assert (succeeded.expected, succeeded.received, succeeded.drift_class) == (3, 2, "usage-cost")
    assert all(
        c.drift_class != "text"
        for c in report.changes
        if isinstance(c.expected, (int, float)) or isinstance(c.received, (int, float))
    )


def test_the_json_report_keeps_every_leaf_whole_with_its_root() -> None:
    expected, received = pair("changed knowledge-base reply", changed_kb_reply)
    report = compare(expected, received)
    data = orjson.loads(orjson.dumps(report.to_dict()))
    assert len(data["changes"]) == 31
    assert data["roots"] == [0]
    assert data["root_counts"] == {"text": 1}
    assert all(c["cause"] == 0 for c in data["changes"][1:])
    longest = max(
        (c for c in data["changes"] if isinstance(c["expected"], str)),
        key=lambda c: len(c["expected"]),
    )
    assert len(longest["expected"]) > 200 and longest["expected"].endswith("refused")
    assert data["first_divergence"]["where"] == report.changes[0].where


def test_grouping_is_deterministic() -> None:
    expected, received = pair("swapped stages", swapped_stages)
    first = compare(expected, received).to_dict()
    again = compare(orjson.loads(orjson.dumps(expected)), orjson.loads(orjson.dumps(received)))
    assert again.to_dict() == first


@pytest.mark.parametrize("spec", ["usage-cost:rel=5", "timing:rel=2", "*tokens:abs=1,rel=50"])
def test_a_relative_tolerance_above_one_without_percent_is_refused(spec: str) -> None:
    with pytest.raises(ConfigurationError, match=r"write rel=\d+% for \d+ percent or rel=0\.\d+"):
        DriftConfig.from_strings(tolerance=spec)


def test_relative_tolerances_as_fractions_or_percentages_are_accepted() -> None:
    config = DriftConfig.from_strings(tolerance="usage-cost:rel=5%, timing:rel=0.05, x:rel=1")
    assert {k: t.rel for k, t in config.tolerances.items()} == {
        "usage-cost": 0.05,
        "timing": 0.05,
        "x": 1.0,
    }
