"""The HTML timeline of a drift, opened in a real headless browser (Debian's chromium).

playwright drives ``/usr/bin/chromium`` (``scripts/dev test`` installs it on a fresh machine;
playwright's own browser download does not work here). The pages are real: built from real
runs of the patterns (``drift_cases``), and, in the plugin test, written by a pytest session.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from agentrig.drift import compare
from agentrig.html import render_html, render_index
from drift_cases import changed_reply, failing_broadcast_agent

sys.path.insert(0, str(Path(__file__).parent / "plugin"))
from agentrig_project import Project


class Opened:
    def __init__(self, browser: Any, path: Path) -> None:
        self.page = browser.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)


def _pair(make: Any) -> Any:
    # playwright's sync API keeps an event loop running in this thread: run the agents in
    # another one (their own virtual loop).
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(make).result()


def _page(tmp_path: Path, make: Any, title: str) -> Path:
    expected, received = _pair(make)
    report = compare(expected, received)
    path = tmp_path / "drift.received.html"
    path.write_text(render_html(expected, received, report, title=title), encoding="utf-8")
    return path


def test_the_page_shows_both_runs_as_swimlanes_with_the_roots_marked(
    browser: Any, tmp_path: Path
) -> None:
    opened = Opened(browser, _page(tmp_path, failing_broadcast_agent, "test_broadcast"))
    page = opened.page
    assert page.locator("h1").inner_text() == "agentrig drift: test_broadcast"
    for side in ("snapshot", "received"):
        lanes = page.locator(f'svg.lanes[data-side="{side}"] g.lane')
        names = {lanes.nth(i).get_attribute("data-agent") for i in range(lanes.count())}
        assert {"web", "papers", "forums", "synthesis"} <= names
        svg = page.locator(f'svg.lanes[data-side="{side}"]')
        assert svg.locator(".mark.model").count() == 4  # three agents and the aggregator
        assert svg.locator(".mark.decision").count() >= 1
    received = page.locator('svg.lanes[data-side="received"]')
    marked = received.locator(".root-change")
    assert marked.count() >= 1
    assert "web" in (marked.first.get_attribute("data-path") or "")
    # no console errors, and nothing but the page itself was requested
    assert opened.errors == []
    assert opened.requests == [opened.url]


def test_expanding_a_root_shows_its_consequences(browser: Any, tmp_path: Path) -> None:
    opened = Opened(browser, _page(tmp_path, changed_reply, "test_pipeline"))
    page = opened.page
    roots = page.locator(".roots details")
    assert roots.count() == 1
    root = roots.first
    assert "agentrig.reply" in root.locator("summary").inner_text()
    assert "+21 consequences" in root.locator("summary").inner_text()
    consequences = root.locator("ul.consequences li")
    assert consequences.count() == 21
    assert not consequences.first.is_visible()
    root.locator("summary").click()
    assert consequences.first.is_visible()
    assert any(
        "invoke_agent review › chat fake-model · agentrig.prompt"
        in consequences.nth(i).inner_text()
        for i in range(consequences.count())
    )
    assert opened.errors == []


def test_strings_are_escaped_and_secrets_redacted_in_the_page(tmp_path: Path) -> None:
    expected, received = _pair(changed_reply)
    hostile = "<script>alert(1)</script> key sk-abcdefghijklmnop12345678"
    report = compare(expected, received)
    page = render_html(expected, received, report, title=hostile, received_name=hostile)
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "sk-abcdefghijklmnop12345678" not in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch


def test_a_drifted_test_gets_a_page_beside_its_received_file_and_the_session_an_index(
    pytester: pytest.Pytester, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    project = Project(pytester)
    project.write_app()
    # in subprocesses: playwright's event loop runs in this thread
    project.run_subprocess("--snapshot-update").assert_outcomes(passed=5)
    project.write_app(reply="notes about Y, revised")

    result = project.run_subprocess("--agentrig-html=drift-html")

    result.assert_outcomes(passed=4, failed=1)
    page = project.snapshot("tests/test_app/test_pipeline.received.html")
    assert page.is_file()
    result.stdout.fnmatch_lines(
        [
            "*Received recording written to snapshots/tests/test_app/test_pipeline.received.json",
            "*HTML timeline: snapshots/tests/test_app/test_pipeline.received.html",
        ]
    )
    index = project.path / "drift-html" / "index.html"
    result.stdout.fnmatch_lines(
        [
            "*- agentrig drift summary -*",
            "agentrig HTML: 1 drifted snapshot timeline indexed in drift-html/index.html",
        ]
    )
    opened = Opened(browser, index)
    link = opened.page.locator("ul.index a")
    assert link.count() == 1 and link.first.inner_text() == "tests/test_app.py::test_pipeline"
    link.first.click()
    assert opened.page.url == page.resolve().as_uri()
    assert "notes about Y, revised" in opened.page.locator(".roots").inner_text()
    assert opened.errors == []

    # fixed again: the page goes with the received file
    project.write_app()
    project.run_subprocess().assert_outcomes(passed=5)
    assert not page.exists()


def test_the_index_lists_nothing_when_nothing_drifted() -> None:
    assert "0 drifted snapshots" in render_index([])
