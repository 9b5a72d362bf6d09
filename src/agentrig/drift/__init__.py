"""Semantic drift between two snapshot documents: every change, where it happened, what kind.

:func:`compare` walks the expected and the received document (both produced by
:func:`agentrig.normalize.normalize`) side by side and lists *every* difference, each as a
:class:`Change` with its place in the run and its class:

==============  ================================================================================
``structure``   spans, calls and entries added, removed or reordered; events added or removed
``decision``    decision-log entries added, removed or changed
``text``        prompts, replies and any other attribute or payload value
``usage-cost``  tokens and money (``*tokens*``, ``*usd*``, ``*cost*`` fields; budget entries)
``timing``      virtual ``start``, ``duration`` and ``t``; latencies, deadlines that expired
``error``       status, errors, exception events, failures (``ok``, ``accepted``, ``*error*``)
==============  ================================================================================

A place reads like the run: span names joined by ``›``, disambiguated by the agent (or stage)
or an occurrence number when siblings share a name, then ``·`` and the field::

    [text] pipeline › draft › model.call · gen_ai.completion: 'report on n…' → 'report on X…'
    [usage-cost] broadcast › model.call[agent=web] · gen_ai.usage.output_tokens: 120 → 125

Siblings are matched by identity (the span's OpenTelemetry operation or name + agent or
stage, entry kind + decision/topic/stage, and the occurrence among equals), aligned by a
longest common subsequence, and only then compared field by field. One broadcast agent that
failed or vanished is therefore one change about *that* agent, never a cascade of "renames"
of every later sibling (what diffing by list index would report).

The changes are listed in run order (a span's own outcome after its children) and then
*folded* (:func:`agentrig.drift.roots.fold`): each is a **root**, or a **consequence** of an
earlier root (the
reply's tokens and cost, the prompt downstream that quotes it, later budget moves and time
stamps, what an enclosing span reports about a failed child). Reports show the roots, each
with a one-line count of its consequences; every leaf stays in :attr:`DriftReport.changes`.
Numbers are never ``text``, and messages that differ only in their figures are
``usage-cost``, so a class follows the meaning of a field, not where a number appears.

:class:`DriftConfig` says which classes fail a test and which numeric differences are
tolerated; a change that is tolerated or in a class that does not fail is still reported, as
``info``.

The package: :mod:`~agentrig.drift.config` (classes, fail-on, tolerances),
:mod:`~agentrig.drift.matching` (identity and alignment of siblings),
:mod:`~agentrig.drift.classify` (the class and role of a changed field),
:mod:`~agentrig.drift.differ` (the walk that lists the changes), :mod:`~agentrig.drift.roots`
(folding), :mod:`~agentrig.drift.report` (:class:`Change`, :class:`DriftReport`, rendering) and
:mod:`~agentrig.drift.values` (how values are shown). The public names are this module's
``__all__``; the submodules are internal.

Usage::

    report = compare(loads(old_bytes), normalize(recording),
                     config=DriftConfig.from_strings(fail_on="structure,decision,error",
                                                     tolerance="usage-cost:rel=0.05"))
    if report.failed:
        raise AssertionError(report.render())
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from agentrig.document import check_header
from agentrig.drift.config import DRIFT_CLASSES, DriftClass, DriftConfig, Tolerance
from agentrig.drift.differ import Differ
from agentrig.drift.matching import timeline_labels
from agentrig.drift.report import Change, DriftReport
from agentrig.drift.roots import fold

__all__ = [
    "DRIFT_CLASSES",
    "Change",
    "DriftClass",
    "DriftConfig",
    "DriftReport",
    "Tolerance",
    "compare",
    "timeline_labels",
]


def compare(
    expected: Mapping[str, Any],
    received: Mapping[str, Any],
    *,
    config: DriftConfig | None = None,
) -> DriftReport:
    """Every change from the expected document to the received one, roots and consequences.

    Args:
        expected: the stored snapshot document (from :func:`agentrig.normalize.loads`).
        received: this run's document (from :func:`agentrig.normalize.normalize`).
        config: which classes fail and which numbers are tolerated (default: everything
            fails, nothing is tolerated).

    Returns:
        A :class:`DriftReport`; ``report.failed`` says whether the test should fail.

    Raises:
        SnapshotFormatError: either document has another format version (re-record with
            ``agentrig update``).
        SnapshotError: either document is not a snapshot document.
    """
    check_header(expected, "the expected snapshot")
    check_header(received, "the received document")
    differ = Differ(config if config is not None else DriftConfig())
    timeline_a = expected.get("timeline")
    timeline_b = received.get("timeline")
    differ.timeline(
        timeline_a if isinstance(timeline_a, list) else [],
        timeline_b if isinstance(timeline_b, list) else [],
        "",
    )
    causes = fold(differ.changes, differ.infos)
    changes = tuple(
        c if cause is None else replace(c, cause=cause)
        for c, cause in zip(differ.changes, causes, strict=True)
    )
    return DriftReport(changes)
