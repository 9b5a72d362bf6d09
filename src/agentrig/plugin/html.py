"""``--agentrig-html=DIR``: a session index of the drifted tests' HTML timelines.

Each drifted test's page is written beside its received file by the snapshot assertion
(:func:`agentrig.html.render_html`); this plugin only gathers the pages' paths from the test
reports (on the xdist controller too: they travel in the report's ``agentrig`` payload) and
writes ``DIR/index.html`` linking to them, then names it at the end of the terminal summary.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

__all__ = ["HtmlIndexPlugin", "addoption"]


def addoption(group: Any) -> None:
    """Register ``--agentrig-html`` in agentrig's option group."""
    group.addoption(
        "--agentrig-html",
        dest="agentrig_html",
        metavar="DIR",
        default=None,
        help="write DIR/index.html linking the HTML timeline of every drifted test (each page "
        "is written beside its *.received.json either way)",
    )


class HtmlIndexPlugin:
    """Collects the drifted tests' pages and writes the session index (controller only)."""

    def __init__(self, config: pytest.Config, folder: str) -> None:
        self.config = config
        self.folder = Path(config.invocation_params.dir) / folder
        self.pages: dict[tuple[str, str], str] = {}
        self.summaries: dict[tuple[str, str], str] = {}
        self.written: Path | None = None
        self.error: str | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if hasattr(self.config, "workerinput"):
            return  # the controller gets this report from xdist
        payload = getattr(report, "agentrig", None)
        if not isinstance(payload, dict):
            return
        for snap in payload.get("snapshots") or []:
            page = snap.get("html") if isinstance(snap, dict) else None
            if isinstance(page, str) and page:
                key = (report.nodeid, str(snap.get("snapshot")))
                self.pages[key] = page
                first = str(snap.get("report") or "").partition("\n")[0]
                self.summaries[key] = first.removeprefix("agentrig drift: ")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return
        from agentrig.html import render_index
        from agentrig.snapshot import atomic_write

        rootdir = Path(self.config.rootpath)
        entries = []
        for key in sorted(self.pages):
            target = (rootdir / self.pages[key]).resolve()
            link = Path(os.path.relpath(target, self.folder.resolve())).as_posix()
            entries.append((key[0], self.summaries.get(key, ""), link))
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            index = self.folder / "index.html"
            atomic_write(index, render_index(entries).encode("utf-8"))
        except OSError as exc:
            self.error = f"agentrig: cannot write --agentrig-html index: {exc.strerror or exc}"
            return
        self.written = index

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput"):
            return
        if self.error:
            terminalreporter.write_line(self.error, red=True)
        elif self.written is not None:
            shown = os.path.relpath(self.written, self.config.invocation_params.dir)
            terminalreporter.write_line(
                f"agentrig HTML: {len(self.pages)} drifted snapshot timeline"
                f"{'s' if len(self.pages) != 1 else ''} indexed in {Path(shown).as_posix()}"
            )
