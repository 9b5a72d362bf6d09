"""The drift cases of issue #18, as pairs of real runs: (snapshot document, received document).

Each case runs agentrig's own patterns (or the example triage app) twice on the virtual loop —
once as recorded, once with one behaviour change — and normalizes both recordings exactly as
the plugin does. The drift tests count the report's root lines on these pairs; the benchmark
and README figures come from the same functions.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import agentrig
from agentrig import BudgetPool, Recording
from agentrig.fake import FakeModel
from agentrig.normalize import normalize
from agentrig.patterns import run_broadcast, run_pipeline

Doc = dict[str, Any]
ROOT = Path(__file__).parents[1]


def record(make: Callable[[], Coroutine[Any, Any, Any]], name: str = "case") -> Doc:
    """Run ``make()`` on a fresh virtual loop under a fresh recording; its normalized document."""
    with tempfile.TemporaryDirectory() as folder:
        # module-level logs and tracers (the example app's) write here, never into the repo
        recording = Recording(name, export_dir=folder)
        with recording.activate():
            agentrig.run(make())
        return normalize(recording)


def _readme_pipeline(
    *, draft_reply: Callable[[str], str] | None = None, first: tuple[str, str] | None = None
) -> Callable[[], Coroutine[Any, Any, Any]]:
    async def main() -> None:
        fake = FakeModel()
        research = fake.agent("research", reply="notes about battery recycling", latency=2.0)
        draft = fake.agent(
            "draft", reply=draft_reply or (lambda p: f"report on {p[:20]}"), latency=5.0
        )
        review = fake.agent("review", reply="APPROVED", latency=1.0)
        stages: list[tuple[str, Any, float]] = [
            ("research", research, 0.04),
            ("draft", draft, 0.04),
            ("review", review, 0.02),
        ]
        if first is not None:
            stages.insert(0, (first[0], fake.agent(first[0], reply=first[1], latency=2.0), 0.01))
        await run_pipeline(stages, "battery recycling", pool=BudgetPool(usd=0.10))

    return main


def changed_reply() -> tuple[Doc, Doc]:
    """README's first test; the draft agent writes a longer report."""
    return record(_readme_pipeline()), record(
        _readme_pipeline(
            draft_reply=lambda p: f"a much longer report on {p[:20]} and related matters"
        )
    )


def inserted_stage() -> tuple[Doc, Doc]:
    """README's first test; a ``plan`` stage is inserted before research."""
    return record(_readme_pipeline()), record(_readme_pipeline(first=("plan", "battery recycling")))


def swapped_stages() -> tuple[Doc, Doc]:
    """README's first test; research and draft run in the other order."""

    def make(swap: bool) -> Callable[[], Coroutine[Any, Any, Any]]:
        async def main() -> None:
            fake = FakeModel()
            research = fake.agent("research", reply="notes about battery recycling", latency=2.0)
            draft = fake.agent("draft", reply=lambda p: f"report on {p[:20]}", latency=5.0)
            review = fake.agent("review", reply="APPROVED", latency=1.0)
            stages: list[tuple[str, Any, float]] = [
                ("research", research, 0.04),
                ("draft", draft, 0.04),
                ("review", review, 0.02),
            ]
            if swap:
                stages[0], stages[1] = stages[1], stages[0]
            await run_pipeline(stages, "battery recycling", pool=BudgetPool(usd=0.10))

        return main

    return record(make(False)), record(make(True))


def failing_broadcast_agent() -> tuple[Doc, Doc]:
    """A broadcast to three agents; ``web`` now times out."""

    def make(fail: bool) -> Callable[[], Coroutine[Any, Any, Any]]:
        async def main() -> None:
            fake = FakeModel()
            web = (
                fake.agent("web", error=TimeoutError("search timed out"), latency=3.0)
                if fail
                else fake.agent("web", reply="the web says yes", latency=3.0)
            )
            agents = {
                "web": web,
                "papers": fake.agent("papers", reply="three papers agree", latency=2.0),
                "forums": fake.agent("forums", reply="users disagree", latency=1.0),
            }
            synthesis = fake.agent("synthesis", reply=lambda p: f"summary of {p}", latency=1.0)
            await run_broadcast(agents, "is it safe?", aggregator=synthesis)

        return main

    return record(make(False)), record(make(True))


def changed_kb_reply() -> tuple[Doc, Doc]:
    """The example app's budget-bound premium ticket; one word of the knowledge-base reply.

    The run ends in a budget refusal whose messages quote the money left, so a longer reply
    ripples into error and decision texts that differ only in their figures.
    """
    for folder in (ROOT / "examples", ROOT / "examples" / "tests"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    from support_triage import handle_ticket
    from triage_scripts import TICKET, build_agents

    def make(kb_reply: str | None) -> Callable[[], Coroutine[Any, Any, Any]]:
        async def main() -> None:
            fake = FakeModel()
            overrides: dict[str, dict[str, Any]] = {
                "writer": {
                    "replies": [
                        "Hi Dana, sorry about the double charge. We are looking into it.",
                        "Hi Dana, we refunded the duplicate $49.00 charge on order 1042 today.",
                        "Hi Dana, we refunded the duplicate $49.00 charge (ref R-77) today.",
                    ]
                },
                "reviewer": {
                    "replies": [
                        "Say what we did and when the money arrives.",
                        "Add the refund reference.",
                        "APPROVED",
                    ]
                },
            }
            if kb_reply is not None:
                overrides["kb"] = {"reply": kb_reply}
            agents = build_agents(fake, llm="claude-opus-4", **overrides)
            await handle_ticket(TICKET, agents, pool=BudgetPool(usd=0.02, name="ticket T-1042"))

        return main

    return record(make(None)), record(
        make("Duplicate charges are usually refunded within 3-5 days.")
    )


#: name -> (the pair, the most root lines issue #18 allows for it)
CASES: dict[str, tuple[Callable[[], tuple[Doc, Doc]], int]] = {
    "changed reply": (changed_reply, 1),
    "inserted stage": (inserted_stage, 1),
    "failing broadcast agent": (failing_broadcast_agent, 2),
    "swapped stages": (swapped_stages, 1),
    "changed knowledge-base reply": (changed_kb_reply, 1),
}
