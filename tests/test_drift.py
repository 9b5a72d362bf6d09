"""agentrig.drift: every change between two runs, by its place in the run and its class."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from agentrig import ConfigurationError, SnapshotError, SnapshotFormatError
from agentrig.drift import (
    DRIFT_CLASSES,
    Change,
    DriftConfig,
    DriftReport,
    Tolerance,
    compare,
)
from agentrig.normalize import normalize

# --- building runs --------------------------------------------------------------------------


class Run:
    """A tiny builder of raw recordings: spans with virtual times, entries inside them."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.entries: list[dict[str, Any]] = []
        self.seq = 0

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def span(
        self,
        name: str,
        *,
        parent: int | None = None,
        start: float = 0.0,
        end: float | None = None,
        attributes: dict[str, Any] | None = None,
        status: str = "ok",
        error: dict[str, str] | None = None,
        events: list[dict[str, Any]] | None = None,
    ) -> int:
        sid = len(self.spans) + 1
        self.spans.append(
            {
                "span_id": sid,
                "parent_id": parent,
                "name": name,
                "seq": self._next(),
                "end_seq": 10_000 + sid,
                "start": start,
                "end": end if end is not None else start + 1.0,
                "attributes": attributes or {},
                "events": events or [],
                "status": status,
                "status_message": None,
                "error": error,
            }
        )
        return sid

    def entry(self, kind: str, data: dict[str, Any], *, span: int | None, t: float = 0.0) -> None:
        self.entries.append(
            {"seq": self._next(), "t": t, "kind": kind, "span_id": span, "data": data}
        )

    def doc(self) -> dict[str, Any]:
        return normalize({"name": "run", "spans": self.spans, "entries": self.entries})


def pipeline(
    *,
    draft_reply: str = "report on X",
    draft_tokens: int = 120,
    review_duration: float = 1.0,
    verdict: str = "APPROVED",
    stages: tuple[str, ...] = ("research", "draft", "review"),
    review_status: str = "ok",
) -> dict[str, Any]:
    run = Run()
    root = run.span("pipeline", start=0.0, end=10.0)
    t = 0.0
    for stage in stages:
        duration = review_duration if stage == "review" else 1.0
        sid = run.span(stage, parent=root, start=t, end=t + duration)
        reply = {"draft": draft_reply, "review": verdict}.get(stage, "notes about X")
        run.span(
            "model.call",
            parent=sid,
            start=t,
            end=t + duration,
            attributes={
                "gen_ai.agent.name": stage,
                "gen_ai.prompt": f"Task: {stage}",
                "gen_ai.completion": reply,
                "gen_ai.usage.output_tokens": draft_tokens if stage == "draft" else 40,
                "agentrig.cost_usd": 0.002,
            },
            status=review_status if stage == "review" else "ok",
            error=(
                {"type": "FakeTimeoutError", "message": "review timed out"}
                if stage == "review" and review_status == "error"
                else None
            ),
        )
        run.entry("budget.charge", {"stage": stage, "usd": 0.002, "tokens": 40}, span=sid, t=t)
        run.entry(
            "decision", {"decision": "stage_complete", "stage": stage}, span=root, t=t + duration
        )
        t += duration + 1.0
    run.entry("decision", {"decision": verdict.lower(), "stage": "review"}, span=root, t=t)
    return run.doc()


def broadcast(
    agents: list[str],
    *,
    failed: str | None = None,
    replies: dict[str, str] | None = None,
) -> dict[str, Any]:
    run = Run()
    root = run.span("broadcast", start=0.0, end=3.0)
    for agent in agents:
        bad = agent == failed
        run.span(
            "model.call",
            parent=root,
            start=0.0,
            end=1.0,
            attributes={
                "gen_ai.agent.name": agent,
                "gen_ai.completion": None
                if bad
                else (replies or {}).get(agent, f"{agent} says hi"),
                "gen_ai.usage.output_tokens": 0 if bad else 30,
            },
            status="error" if bad else "ok",
            error={"type": "FakeTimeoutError", "message": "search timed out"} if bad else None,
            events=[
                {
                    "name": "exception",
                    "t": 1.0,
                    "attributes": {"exception.type": "FakeTimeoutError"},
                }
            ]
            if bad
            else None,
        )
    run.entry("decision", {"decision": "synthesized", "stage": "aggregate"}, span=root, t=3.0)
    return run.doc()


def where(report: DriftReport) -> list[str]:
    return [c.where for c in report.changes]


def classes(report: DriftReport) -> list[str]:
    return [c.drift_class for c in report.changes]


# --- no drift -------------------------------------------------------------------------------


def test_identical_runs_have_no_drift() -> None:
    report = compare(pipeline(), pipeline())
    assert report.changes == () and not report.failed and not report.has_changes
    assert report.counts() == {}
    assert report.render() == "agentrig drift: no drift"
    assert report.to_dict() == {
        "failed": False,
        "counts": {},
        "root_counts": {},
        "roots": [],
        "first_divergence": None,
        "changes": [],
    }


def test_the_run_name_is_not_drift() -> None:
    a, b = pipeline(), pipeline()
    b["name"] = "renamed test"
    assert not compare(a, b).has_changes


# --- each class, named by its place ---------------------------------------------------------


def test_a_changed_reply_is_text_drift_at_its_place() -> None:
    report = compare(pipeline(), pipeline(draft_reply="report on Y"))
    assert [c.render() for c in report.changes] == [
        "[text] pipeline › draft › model.call · gen_ai.completion: 'report on X' → 'report on Y'"
    ]
    assert report.failed


def test_changed_token_counts_are_usage_cost_drift() -> None:
    report = compare(pipeline(), pipeline(draft_tokens=125))
    (change,) = report.changes
    assert change.drift_class == "usage-cost"
    assert change.where == "pipeline › draft › model.call · gen_ai.usage.output_tokens"
    assert (change.expected, change.received) == (120, 125)
    assert change.render() == (
        "[usage-cost] pipeline › draft › model.call · gen_ai.usage.output_tokens: 120 → 125"
    )


def test_a_slower_stage_is_timing_drift_including_everything_that_moved_later() -> None:
    report = compare(pipeline(), pipeline(review_duration=2.5))
    assert set(classes(report)) == {"timing"}
    assert "pipeline › review · duration" in where(report)
    assert "pipeline › review › model.call · duration" in where(report)
    assert "pipeline › decision[approved] · t" in where(report)


def test_a_different_verdict_is_decision_drift() -> None:
    report = compare(pipeline(), pipeline(verdict="REVISE"))
    assert report.counts() == {"decision": 1, "text": 1}
    decision = next(c for c in report.changes if c.drift_class == "decision")
    # One decision whose value changed, not "approved removed, revise added".
    assert decision.op == "changed"
    assert decision.where == "pipeline › decision[approved] · decision"
    assert (decision.expected, decision.received) == ("approved", "revise")


def test_a_failing_call_is_error_drift_in_one_line() -> None:
    report = compare(pipeline(), pipeline(review_status="error"))
    assert [c.render() for c in report.changes] == [
        "[error] pipeline › review › model.call · status: "
        "'ok' → 'error: FakeTimeoutError: review timed out'"
    ]


def test_a_missing_stage_is_one_structure_change_not_a_cascade() -> None:
    report = compare(pipeline(), pipeline(stages=("research", "review")))
    structure = [c for c in report.changes if c.drift_class == "structure"]
    assert [c.render() for c in structure] == [
        "[structure] pipeline › draft: removed span 'draft' (status ok)"
    ]
    # Its decision went with it (named by its stage, folded under the removal); the review
    # stage is matched to the review stage.
    assert "pipeline › decision[stage_complete draft]: removed" in report.render(verbose=2)
    assert [c.where for c in report.roots] == ["pipeline › draft"]
    assert not any("review ›" in w and "gen_ai" in w for w in where(report))


def test_an_added_span_is_structure_drift() -> None:
    report = compare(pipeline(stages=("research", "review")), pipeline())
    assert "[structure] pipeline › draft: added span 'draft' (status ok)" in report.render()


def test_sequential_steps_that_swap_are_reported_as_reordered() -> None:
    a = pipeline(stages=("research", "draft", "review"))
    b = pipeline(stages=("draft", "research", "review"))
    report = compare(a, b)
    reorders = [c for c in report.changes if c.op == "reordered"]
    assert reorders and all(c.drift_class == "structure" for c in reorders)
    assert any(c.path in ("pipeline › research", "pipeline › draft") for c in reorders)


# --- identity matching ----------------------------------------------------------------------


def test_one_failing_broadcast_agent_is_reported_about_that_agent_only() -> None:
    agents = ["forums", "news", "papers", "web"]
    report = compare(broadcast(agents), broadcast(agents, failed="news"))
    assert {c.path for c in report.changes} == {"broadcast › model.call[agent=news]"}
    assert report.counts() == {"text": 1, "usage-cost": 1, "error": 1}
    status = next(c for c in report.changes if c.drift_class == "error")
    assert status.field == "status"  # the exception event is folded into the status line


def test_a_vanished_broadcast_agent_is_one_removal_not_renames_of_its_siblings() -> None:
    report = compare(broadcast(["forums", "papers", "web"]), broadcast(["forums", "web"]))
    assert [c.render() for c in report.changes] == [
        "[structure] broadcast › model.call[agent=papers]: removed span 'model.call' (status ok)"
    ]


def test_a_renamed_agent_in_place_is_a_changed_identity_not_remove_plus_add() -> None:
    report = compare(
        broadcast(["forums", "papers", "web"]), broadcast(["forums", "scholar", "web"])
    )
    assert sorted((c.drift_class, c.op, c.field) for c in report.changes) == [
        ("text", "changed", "gen_ai.agent.name"),
        ("text", "changed", "gen_ai.completion"),
    ]


def test_repeated_calls_of_one_agent_are_numbered() -> None:
    def supervisor(replies: list[str]) -> dict[str, Any]:
        run = Run()
        root = run.span("supervisor", start=0.0, end=10.0)
        for i, reply in enumerate(replies):
            run.span(
                "model.call",
                parent=root,
                start=float(i),
                end=i + 0.5,
                attributes={"gen_ai.agent.name": "worker", "gen_ai.completion": reply},
            )
        return run.doc()

    report = compare(supervisor(["v1", "v2", "v3"]), supervisor(["v1", "v2 better", "v3"]))
    assert where(report) == ["supervisor › model.call[#2] · gen_ai.completion"]
    report = compare(supervisor(["v1", "v2", "v3"]), supervisor(["v1", "v2"]))
    assert [c.render() for c in report.changes] == [
        "[structure] supervisor › model.call[#3]: removed span 'model.call' (status ok)"
    ]


def test_every_change_is_listed_not_just_the_first() -> None:
    b = pipeline(draft_reply="other", draft_tokens=999, verdict="REVISE", review_duration=2.0)
    report = compare(pipeline(), b)
    assert set(report.counts()) == {"decision", "text", "usage-cost", "timing"}
    assert len(report.changes) >= 6
    rendered = report.render(verbose=2)
    assert all(c.where in rendered for c in report.changes)


def test_events_added_and_changed() -> None:
    def run(events: list[dict[str, Any]]) -> dict[str, Any]:
        r = Run()
        r.span("broadcast", events=events)
        return r.doc()

    base = [{"name": "started", "t": 0.0, "attributes": {"n": 3}}]
    report = compare(
        run(base),
        run(
            [
                {"name": "started", "t": 0.0, "attributes": {"n": 4}},
                {"name": "agent_1_failed", "t": 0.0, "attributes": {"error": "boom"}},
            ]
        ),
    )
    assert sorted((c.drift_class, c.op, c.where) for c in report.changes) == [
        ("error", "added", "broadcast · events[agent_1_failed]"),
        ("usage-cost", "changed", "broadcast · events[started].n"),  # a number, never text
    ]


def test_entries_of_other_kinds_are_classified() -> None:
    def run(extra: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        r = Run()
        root = r.span("supervisor", end=200.0)
        for kind, data in extra:
            r.entry(kind, data, span=root, t=120.0)
        return r.doc()

    report = compare(
        run([("budget.charge", {"stage": "s", "usd": 0.01, "accepted": True})]),
        run(
            [
                ("budget.charge", {"stage": "s", "usd": 0.02, "accepted": False}),
                ("deadline.expired", {"deadline": "hard", "seconds": 120, "at": 120.0}),
                ("budget.refused", {"stage": "s", "requested_usd": 1.0, "reason": "empty"}),
                ("bus.emit", {"topic": "t", "payload": {}, "handlers": 1}),
            ]
        ),
    )
    assert [(c.drift_class, c.where) for c in report.changes] == [
        ("error", "supervisor › budget.charge[s] · accepted"),
        ("usage-cost", "supervisor › budget.charge[s] · usd"),
        ("timing", "supervisor › deadline.expired[hard]"),
        ("error", "supervisor › budget.refused[s]"),
        ("structure", "supervisor › bus.emit[t]"),
    ]


def test_nested_values_and_lists_are_diffed_by_path() -> None:
    def run(messages: list[dict[str, str]]) -> dict[str, Any]:
        r = Run()
        r.span("model.call", attributes={"gen_ai.input.messages": messages})
        return r.doc()

    a = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    b = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    report = compare(run(a), run(b))
    assert where(report) == ["model.call · gen_ai.input.messages[1].content"]
    report = compare(run(a), run([{"role": "developer", "content": "x"}, *a]))
    assert [(c.op, c.field) for c in report.changes] == [("added", "gen_ai.input.messages[0]")]


# --- configuration --------------------------------------------------------------------------


def test_tolerated_numbers_are_info_not_failures() -> None:
    config = DriftConfig.from_strings(tolerance="usage-cost:rel=0.05")
    report = compare(pipeline(), pipeline(draft_tokens=124), config=config)
    (change,) = report.changes
    assert change.severity == "info" and not report.failed
    assert change.render().endswith("(info: within tolerance rel=0.05)")
    assert compare(pipeline(), pipeline(draft_tokens=130), config=config).failed


def test_field_glob_tolerances_win_over_class_tolerances() -> None:
    config = DriftConfig(
        tolerances={"usage-cost": Tolerance(rel=0.5), "*output_tokens": Tolerance(abs=1)}
    )
    assert compare(pipeline(), pipeline(draft_tokens=124), config=config).failed
    assert not compare(pipeline(), pipeline(draft_tokens=121), config=config).failed


def test_timing_tolerance() -> None:
    config = DriftConfig.from_strings(tolerance="timing:abs=0.5")
    assert not compare(pipeline(), pipeline(review_duration=1.4), config=config).failed
    assert compare(pipeline(), pipeline(review_duration=2.0), config=config).failed


def test_classes_outside_fail_on_are_reported_as_info() -> None:
    config = DriftConfig.from_strings(fail_on="structure,decision,error")
    report = compare(pipeline(), pipeline(draft_reply="other"), config=config)
    assert not report.failed and report.has_changes
    (change,) = report.changes
    assert change.severity == "info" and change.note == "text is not in fail_on"
    assert compare(pipeline(), pipeline(verdict="REVISE"), config=config).failed


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [
        (None, frozenset(DRIFT_CLASSES)),
        ("all", frozenset(DRIFT_CLASSES)),
        ("none", frozenset()),
        ("structure, decision error", frozenset({"structure", "decision", "error"})),
        (["structure", "usage-cost"], frozenset({"structure", "usage-cost"})),
    ],
)
def test_fail_on_from_strings(fail_on: Any, expected: frozenset[str]) -> None:
    assert DriftConfig.from_strings(fail_on=fail_on).fail_on == expected


def test_tolerance_from_strings() -> None:
    config = DriftConfig.from_strings(
        tolerance="usage-cost:rel=5%,abs=2; timing:abs=0.5\ngen_ai.usage.*:abs=10"
    )
    assert dict(config.tolerances) == {
        "usage-cost": Tolerance(abs=2.0, rel=0.05),
        "timing": Tolerance(abs=0.5),
        "gen_ai.usage.*": Tolerance(abs=10.0),
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"fail_on": "structure,txt"},
            r"unknown class\(es\) 'txt'; valid classes are structure, decision, text, "
            r"usage-cost, timing, error",
        ),
        ({"fail_on": " , "}, "fail_on is empty"),
        ({"tolerance": "rel=0.05"}, "names no class or field"),
        ({"tolerance": "usage-cost:0.05"}, "expected abs=N or rel=N"),
        ({"tolerance": "usage-cost:rel=lots"}, "is not a number >= 0"),
        ({"tolerance": "timing:abs=-1"}, "is not a number >= 0"),
        ({"tolerance": "text:abs=1"}, "'text' is not numeric"),
        ({"tolerance": ":abs=1"}, "has no target"),
    ],
)
def test_bad_config_strings_raise_configuration_errors(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        DriftConfig.from_strings(**kwargs)


def test_config_constructor_validates() -> None:
    with pytest.raises(ConfigurationError, match="valid classes are structure"):
        DriftConfig(fail_on=frozenset({"style"}))
    with pytest.raises(ConfigurationError, match="must be a Tolerance"):
        DriftConfig(tolerances={"timing": 0.5})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError, match="tolerances apply to numbers"):
        DriftConfig(tolerances={"error": Tolerance(abs=1)})
    with pytest.raises(ConfigurationError, match="`rel` must be a finite number >= 0"):
        Tolerance(rel=float("nan"))
    assert Tolerance(abs=1).allows(10, 11) and not Tolerance(abs=1).allows(10, 11.5)
    assert Tolerance(rel=0.1).allows(100, 110) and not Tolerance(rel=0.1).allows(100, 112)


# --- the report -----------------------------------------------------------------------------


def test_render_lists_all_changes_with_a_summary() -> None:
    agents = [f"agent{i}" for i in range(5)]
    report = compare(
        broadcast(agents),
        broadcast(agents, replies={a: f"{a} says something else" for a in agents}),
    )
    lines = report.render().splitlines()
    assert lines[0] == "agentrig drift: 5 root changes (text 5); 5 changes, 5 failing"
    assert lines[1] == (
        "  first divergence: t=0.0 s, broadcast › model.call[agent=agent0] · gen_ai.completion"
    )
    # five agents answering differently are five roots, not one and four "consequences"
    assert len(lines) == 7
    assert all(line.startswith("  [text] broadcast › model.call[agent=agent") for line in lines[2:])


def test_render_truncates_showing_failures_before_info() -> None:
    agents = [f"agent{i}" for i in range(6)]
    a = broadcast(agents)
    b = broadcast(agents, replies={x: "changed" for x in agents[1:]}, failed="agent5")
    config = DriftConfig.from_strings(fail_on="error")
    text = compare(a, b, config=config).render(max_changes=2)
    lines = text.splitlines()
    # summary, first divergence, two roots in run order (the failing one with its count of
    # consequences), the rest counted
    assert len(lines) == 6
    assert "[error] broadcast › model.call[agent=agent5] · status" in lines[3]
    assert lines[4] == "      +2 consequences: replies 1, tokens 1"
    assert "(info: text is not in fail_on)" in lines[2]
    assert lines[-1] == "  … and 3 more root changes"


def test_long_strings_are_shortened_around_the_first_difference() -> None:
    prefix = "The quick brown fox jumps over the lazy dog. " * 5
    a = broadcast(["web"], replies={"web": prefix + "It was sunny." + " filler" * 20})
    b = broadcast(["web"], replies={"web": prefix + "It was rainy." + " filler" * 20})
    line = compare(a, b).changes[0].render()
    assert "'…" in line and "sunny" in line and "rainy" in line and "…'" in line
    assert len(line) < 320
    # at least 120 characters of each value are kept around the difference
    old = line.split(": '…", 1)[1].split("…' → ", 1)[0]
    assert len(old) == 120


def test_color_only_when_asked() -> None:
    report = compare(pipeline(), pipeline(draft_reply="other"))
    assert "\x1b[" not in report.render()
    assert "\x1b[1;31m[text]\x1b[0m" in report.render(color=True)


def test_to_dict_is_json_ready() -> None:
    report = compare(pipeline(), pipeline(stages=("research", "review"), draft_tokens=1))
    data = orjson.loads(orjson.dumps(report.to_dict()))
    assert data["failed"] is True
    assert data["counts"] == report.counts()
    first = data["changes"][0]
    assert set(first) == {
        "class",
        "path",
        "field",
        "where",
        "op",
        "expected",
        "received",
        "severity",
        "note",
        "at",
        "cause",
    }
    assert data["roots"] == [i for i, c in enumerate(report.changes) if c.is_root]


def test_change_describes_values() -> None:
    assert Change("usage-cost", "a › b", "usd", "changed", 0.1, 0.2).render() == (
        "[usage-cost] a › b · usd: 0.1 → 0.2"
    )
    assert Change("structure", "", None, "removed", {"span": "x"}).where == "(run)"


# --- documents ------------------------------------------------------------------------------


def test_a_format_version_mismatch_is_an_error_not_drift() -> None:
    old = pipeline()
    old["agentrig"] = {"format": 0}
    with pytest.raises(
        SnapshotFormatError, match=r"expected snapshot has snapshot format 0.*agentrig update"
    ):
        compare(old, pipeline())
    new = copy.deepcopy(pipeline())
    new["agentrig"]["format"] = 2
    with pytest.raises(SnapshotFormatError, match="received document"):
        compare(pipeline(), new)
    with pytest.raises(SnapshotError, match="not an agentrig snapshot"):
        compare({"timeline": []}, pipeline())
