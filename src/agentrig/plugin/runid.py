"""One id per pytest session, the same on every xdist worker: what a received file came from.

The controller draws the id (sortable: UTC time, then random) and hands it to each worker
through ``workerinput``; the snapshot assertion writes it into every received file and into
the snapshot folder's ``.agentrig-run``, so ``agentrig accept`` can tell the latest run's
received files from stale ones.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

__all__ = ["RUN_ID_KEY", "RunIdPlugin"]

_WORKER_KEY = "agentrig_run_id"
#: The session's run id; the ``agent_snapshot`` fixture hands it to the assertion.
RUN_ID_KEY = pytest.StashKey[str]()


class RunIdPlugin:
    """Draws (controller) or receives (worker) the session's run id into ``config.stash``."""

    def __init__(self, config: pytest.Config) -> None:
        inherited = getattr(config, "workerinput", {}).get(_WORKER_KEY)
        if not inherited:
            # sortable to the nanosecond: two sessions in one second still order by time
            now = time.time_ns()
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 1_000_000_000))
            inherited = f"{stamp}.{now % 1_000_000_000:09d}Z-{secrets.token_hex(3)}"
        run_id = inherited
        config.stash[RUN_ID_KEY] = run_id
        self.run_id = run_id

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[_WORKER_KEY] = self.run_id
