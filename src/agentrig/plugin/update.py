"""The pytest side of ``agentrig update``: the two environment variables it sets for its run.

``agentrig update`` runs ``python -m pytest --snapshot-update`` in a subprocess. Without paths,
``-k`` or ``-m`` it re-records only the tests that use ``agent_snapshot``: it sets
:data:`RESTRICT_ENV`, and :func:`register` adds :class:`SnapshotTestsOnly`, which deselects the
rest. :data:`OUTCOMES_ENV` names the file the session writes every snapshot outcome to (so the
command counts what ran; see :mod:`agentrig.plugin.reports`). The variables are the contract:
nothing here runs in a session the command did not start.
"""

from __future__ import annotations

import os
from typing import Final

import pytest

__all__ = ["OUTCOMES_ENV", "RESTRICT_ENV", "SnapshotTestsOnly", "register"]

#: Set to ``1`` by ``agentrig update``: keep only the tests that use ``agent_snapshot``.
RESTRICT_ENV: Final = "AGENTRIG_UPDATE_ONLY_SNAPSHOT_TESTS"
#: Set by ``agentrig update``: where the session writes every snapshot outcome as JSON, and a
#: sign that the command prints the per-snapshot lines itself.
OUTCOMES_ENV: Final = "AGENTRIG_UPDATE_OUTCOMES"


class SnapshotTestsOnly:
    """Deselects the tests that take no ``agent_snapshot`` (on only inside ``agentrig update``)."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        # ``trylast``: syrupy has already recorded the collected items, so it knows these were
        # deselected and does not take their snapshots for unused ones.
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            (keep if "agent_snapshot" in getattr(item, "fixturenames", ()) else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


def register(config: pytest.Config) -> None:
    """Add :class:`SnapshotTestsOnly` when ``agentrig update`` asked for it."""
    if os.environ.get(RESTRICT_ENV) == "1":
        config.pluginmanager.register(SnapshotTestsOnly(), "agentrig-update-only")
