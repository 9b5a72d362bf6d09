"""The snapshot session: what syrupy's agentrig extension must know of this pytest session.

Unused-snapshot clean-up deletes files, so the extension must know exactly which tests this
session collected, deselected, skipped, finished or left unfinished, and which modules failed to
import or were collected only in part (``file.py::test`` arguments): their other snapshots are
kept. :class:`SnapshotSession` notes all that as plain strings (cheap, in every session) and
hands it to :class:`agentrig.snapshot.SnapshotSettings`, activated on first need only — a
session without agentrig tests never imports the snapshot machinery.

Under xdist, ``workeroutput["agentrig"]`` only tells the controller that workers used agentrig
snapshots, so it activates its snapshot settings before syrupy rebuilds our extension there to
find unused snapshots.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from agentrig.plugin.settings import Settings
from agentrig.plugin.update import OUTCOMES_ENV
from agentrig.plugin.usage import is_agentrig_test

if TYPE_CHECKING:
    from agentrig.snapshot import SnapshotSettings

__all__ = ["SnapshotSession"]

_SESSION = pytest.StashKey["SnapshotSession"]()


class SnapshotSession:
    """Collection and outcome bookkeeping for the snapshot extension (one per session)."""

    KEY = _SESSION

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.collected_modules: set[str] = set()
        self.skipped: set[str] = set()
        self.unfinished: set[str] = set()  # node ids with a failed phase
        self.finished: set[str] = set()  # node ids whose teardown came with no failure
        self.broken_modules: set[str] = set()  # module paths that failed to collect
        self.active: SnapshotSettings | None = None
        self._cm: Any = None
        #: Why ``--snapshot-update`` writes nothing here (CI), or None.
        self.update_refused: str | None = None
        settings.config.stash[_SESSION] = self

    @staticmethod
    def of(config: pytest.Config) -> SnapshotSession:
        return config.stash[_SESSION]

    def ensure_active(self) -> SnapshotSettings:
        """Activate this session's snapshot settings (once, on first need: keeps start-up
        cheap)."""
        if self.active is not None:
            return self.active
        from agentrig._ci import ci_enabled
        from agentrig.snapshot import SnapshotSettings, activate_settings

        settings = self.settings
        updating = settings.update_snapshots or settings.update_new_only
        if updating and ci_enabled() and not settings.force_update:
            self.update_refused = (
                "CI is set, so --snapshot-update did not create or rewrite agentrig snapshots "
                "(a CI run must never bless its own drift): record them locally and commit "
                "them, or pass --agentrig-force-update to allow it here."
            )
            if os.environ.get(OUTCOMES_ENV):  # run by `agentrig update`: its own flag
                self.update_refused = self.update_refused.replace(
                    "pass --agentrig-force-update", "run `agentrig update --force`"
                )
        active = SnapshotSettings(
            rootdir=settings.rootdir,
            snapshot_root=settings.snapshot_root,
            invocation_dir=settings.invocation_dir,
            write_refusal=self.update_refused,
            collected_modules=self.collected_modules,
            skipped=self.skipped,
            unfinished=self.unfinished,
            finished=self.finished,
            broken_modules=self.broken_modules,
        )
        cm = activate_settings(active)
        cm.__enter__()
        self.active = active
        self._cm = cm
        return active

    def close(self) -> None:
        """Deactivate the snapshot settings (``pytest_unconfigure``)."""
        if self._cm is not None:
            self._cm.__exit__(None, None, None)
            self._cm = None

    # -- collection ---------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        if isinstance(collector, pytest.Module):
            self.collected_modules.add(str(collector.path))

    @pytest.hookimpl(tryfirst=True)  # before -k/-m deselect: every collected item
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        found = False
        for item in items:
            if not is_agentrig_test(item):
                continue
            found = True
            fixturenames = getattr(item, "fixturenames", None)
            if isinstance(fixturenames, list) and "_agentrig_recording" not in fixturenames:
                fixturenames.append("_agentrig_recording")  # marker-only tests get one too
        if found:
            self._note_partial_modules(self.ensure_active(), items)

    def _note_partial_modules(self, active: SnapshotSettings, items: list[pytest.Item]) -> None:
        """Note the modules collected only in part (``file.py::test`` arguments) and their
        tests: unused-snapshot detection must not see the other tests' snapshots there."""
        config = self.settings.config
        partial: set[str] = set()
        whole: set[str] = set()
        base = self.settings.invocation_dir
        for arg in config.args:
            path, sep, _ = str(arg).partition("::")
            resolved = os.path.normpath(base / path)
            (partial if sep else whole).add(resolved)
        partial -= whole
        if not partial:
            return
        for item in items:
            if os.path.normpath(item.path) in partial and isinstance(item, pytest.Function):
                active.note("partial", item.nodeid)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        active = self.active
        if active is None and any(is_agentrig_test(item) for item in items):
            active = self.ensure_active()
        if active is not None:
            for item in items:
                active.note("deselected", item.nodeid)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and report.nodeid:  # an import error: its snapshots are kept
            path = report.nodeid.partition("::")[0]
            self.broken_modules.add(os.path.normpath(Path(self.settings.rootdir) / path))

    # -- outcomes -----------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # (strings: cheap for every session) which tests finished decides what may be deleted
        if report.skipped:
            self.skipped.add(report.nodeid)
        if report.failed:
            self.unfinished.add(report.nodeid)
        elif report.when == "teardown":
            self.finished.add(report.nodeid)
        if isinstance(getattr(report, "agentrig", None), dict):
            self.ensure_active().note("ran", report.nodeid)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        # On the xdist controller: syrupy may now build our extension from a worker's report
        # (to find unused snapshots); it reads the session's snapshot settings.
        output = getattr(node, "workeroutput", None) or {}
        if output.get("agentrig"):
            self.ensure_active()

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(
        self, session: pytest.Session, exitstatus: int
    ) -> Generator[None, object, object]:
        # Before syrupy's hook looks for unused snapshots: a session that stopped early deletes
        # only snapshots of tests it saw finish.
        if self.active is not None and (
            session.shouldfail or session.shouldstop or exitstatus == pytest.ExitCode.INTERRUPTED
        ):
            self.active.stopped_early = True
        result = yield
        if self.settings.is_worker and self.active is not None:
            output = getattr(self.settings.config, "workeroutput", None)
            if output is not None:
                output["agentrig"] = True
        return result
