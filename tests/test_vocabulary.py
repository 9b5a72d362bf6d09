"""One home for the names: what agentrig writes is spelt in agentrig.vocabulary, nowhere else."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Any

import pytest

import agentrig
from agentrig import (
    BudgetPool,
    ConfigurationError,
    Deadline,
    DeadlineExceeded,
    DecisionLog,
    EventBus,
    FakeModel,
    Recording,
    run,
    tracing,
    vocabulary,
)
from agentrig.normalize import dumps, normalize
from agentrig.patterns import (
    degrade,
    run_broadcast,
    run_pipeline,
    run_supervisor,
    with_fallback,
    with_retry,
)
from agentrig.vocabulary import EntryKind

NAMES = {
    value
    for name, value in vars(vocabulary).items()
    if name.isupper() and isinstance(value, str) and ("." in value)
}


def _everything(rec: Recording) -> None:
    """Run every primitive and pattern once under ``rec``: they write every name they know."""
    fake = FakeModel()
    research = fake.agent("research", reply="notes")
    draft = fake.agent("draft", reply="a draft")
    review = fake.agent("review", replies=["tighten it", "APPROVED"])
    flaky = fake.agent("web", error=TimeoutError("search timed out"))
    bus = EventBus()

    @bus.on("go")
    def handler(event: Any) -> str:
        return "ok"

    async def main() -> None:
        pool = BudgetPool(usd=1)
        await run_pipeline([("research", research, 0.1), ("draft", draft, None)], "q", pool=pool)
        await run_broadcast([research, flaky], "q", aggregator=draft)
        await run_supervisor(draft, review, "task", max_revisions=2, deadline=60)
        with pytest.raises(TimeoutError):  # the agent always fails: retrying gives up
            await with_retry(flaky, attempts=2, seed=1).run("q")
        await with_fallback(flaky, research).run("q")
        await degrade(flaky, fallback=research).run("q")
        await bus.emit("go", text="x")
        DecisionLog(name="decisions").record("done", stage="end")
        with pytest.raises(DeadlineExceeded):
            async with Deadline(1, name="short"):
                await fake.agent("deep", reply="...", latency=30.0).run("q")

    with rec.activate():
        run(main())


def test_every_attribute_name_written_is_spelt_in_the_vocabulary() -> None:
    rec = Recording("names")
    _everything(rec)
    written = {key for span in rec.spans for key in span.attributes}
    ours = {key for key in written if key.startswith(("gen_ai.", "agentrig."))}
    assert {"gen_ai.agent.name", "agentrig.cost_usd", "agentrig.stage"} <= ours
    assert sorted(ours - NAMES) == []


def test_every_entry_the_primitives_write_is_an_entry_kind_member() -> None:
    rec = Recording("kinds")
    _everything(rec)
    kinds = {entry.kind for entry in rec.entries}
    assert all(type(kind) is EntryKind for kind in kinds)
    assert {
        EntryKind.DECISION,
        EntryKind.BUDGET_ACQUIRE,
        EntryKind.BUDGET_CHARGE,
        EntryKind.BUDGET_RELEASE,
        EntryKind.BUS_EMIT,
        EntryKind.BUS_HANDLER,
        EntryKind.DEADLINE_EXPIRED,
    } <= kinds


def test_an_entry_kind_given_as_its_value_is_stored_as_the_member() -> None:
    rec = Recording("note")
    entry = rec.add_entry("note", {"value": 1}, span_id=None)  # type: ignore[arg-type]
    assert entry.kind is EntryKind.NOTE
    assert b'"note"' in dumps(normalize(rec))
    assert b"EntryKind" not in dumps(normalize(rec))


def test_an_unknown_entry_kind_is_refused_with_the_valid_ones() -> None:
    rec = Recording("typo")
    expected = r"unknown recording entry kind 'decison'\. Use one of 'decision', .*'note'"
    with pytest.raises(ConfigurationError, match=expected):
        rec.add_entry("decison", {}, span_id=None)  # type: ignore[arg-type]
    assert rec.entries == []


def test_tracing_constants_are_the_vocabulary_names() -> None:
    for name in tracing.__all__:
        if name.isupper() and hasattr(vocabulary, name):
            assert getattr(tracing, name) is getattr(vocabulary, name), name
    assert agentrig.SEMCONV_VERSION == vocabulary.SEMCONV_VERSION


def test_vocabulary_imports_only_the_standard_library() -> None:
    tree = ast.parse(Path(vocabulary.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported - {"__future__"} <= sys.stdlib_module_names
