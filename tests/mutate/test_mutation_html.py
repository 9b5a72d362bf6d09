"""The mutation report as a page (``--agentrig-html=DIR`` → ``DIR/mutation.html``), opened in
Debian's chromium through playwright, like the drift pages (tests/test_html.py)."""

from __future__ import annotations

from typing import Any

import pytest

from agentrig.cli import main
from agentrig.html import render_mutation_html
from agentrig.mutate.report import MutationReport

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

SUITE = """
from agentrig.patterns import run_broadcast


async def broadcast(fake_model):
    agents = {
        "forums": fake_model.agent("forums", reply="users say it is safe", latency=1.0),
        "papers": fake_model.agent("papers", reply="three papers agree", latency=2.0),
    }
    editor = fake_model.agent("editor", reply="mostly safe", latency=1.0)
    return await run_broadcast(agents, "is it safe?", aggregator=editor, timeout=30)


async def test_broadcast(fake_model):
    assert (await broadcast(fake_model)).output == "mostly safe"


def test_not_agentrig():
    assert 1 + 1 == 2


async def test_red_before_mutation(fake_model):
    assert (await fake_model.agent("x", reply="a").run("p")).text == "b"
"""


@pytest.fixture(autouse=True)
def _suite(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest=INI)
    pytester.makepyfile(test_suite=SUITE)


def test_the_mutation_page_shows_score_survivors_operators_and_tests(
    pytester: pytest.Pytester, browser: Any
) -> None:
    # in a subprocess: playwright's event loop runs in this thread
    result = pytester.runpytest_subprocess(
        "--agentrig-mutate", "--agentrig-min-score=0.9", "--agentrig-html=report-html"
    )

    result.stdout.fnmatch_lines(["agentrig HTML: mutation report in report-html/mutation.html"])
    path = pytester.path / "report-html" / "mutation.html"
    page = browser.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.resolve().as_uri())

    heading = page.locator("h1").inner_text()
    assert heading.startswith("agentrig mutation: ") and "floor 90%: BELOW the floor" in heading
    survivors = page.locator(".survivors li")
    texts = [survivors.nth(i).inner_text() for i in range(survivors.count())]
    assert "no test notices when agent 'forums' times out on call #1 in test_broadcast" in texts
    assert page.locator('.operators tr[data-operator="call-timeout"]').count() == 1
    test = page.locator("details.test")
    assert test.count() == 1 and "test_suite.py::test_broadcast" in test.inner_text()
    killed = test.locator("tr.mutant.killed")
    assert killed.count() >= 1
    test.locator("summary").click()
    assert killed.first.is_visible()
    assert "agent 'editor' answers call #1 with its words in reverse order" in test.inner_text()
    page.locator("#only-survivors").check()  # the filter: only survivors stay visible
    assert not killed.first.is_visible()
    assert test.locator("tr.mutant.survived").first.is_visible()
    excluded = page.locator("section.excluded")
    assert "test_red_before_mutation" in excluded.nth(0).inner_text()
    assert "failed before mutation" in excluded.nth(0).inner_text()
    assert "test_not_agentrig" in excluded.nth(1).inner_text()
    assert errors == []
    assert requests == [path.resolve().as_uri()]  # self-contained


def test_the_command_writes_the_page_with_html(
    pytester: pytest.Pytester, capfd: pytest.CaptureFixture[str]
) -> None:
    status = main(["mutate", "--html", "out", "-p", "no:cacheprovider", "-k", "test_broadcast"])

    assert status == 0
    page = (pytester.path / "out" / "mutation.html").read_text(encoding="utf-8")
    assert "no test notices when agent &#x27;forums&#x27; times out on call #1" in page
    assert "agentrig HTML: mutation report in out/mutation.html" in capfd.readouterr().out


def test_strings_are_escaped_and_secrets_redacted_in_the_page() -> None:
    hostile = "<script>alert(1)</script> key sk-abcdefghijklmnop12345678"
    report = MutationReport(
        [
            {
                "nodeid": f"test_x.py::test_{hostile}",
                "status": "mutated",
                "mutants": [
                    {
                        "id": "reply-changed:a#1",
                        "operator": "reply-changed",
                        "description": f"agent {hostile!r} answers call #1 in reverse",
                        "status": "killed",
                        "killed_by": "assertion",
                        "detail": f"AssertionError: {hostile}",
                    },
                    {
                        "id": "reply-emptied:a#1",
                        "operator": "reply-emptied",
                        "description": f"agent {hostile!r} answers call #1 with nothing",
                        "status": "survived",
                    },
                ],
            },
            {"nodeid": hostile, "status": "baseline_failed", "detail": hostile, "mutants": []},
        ],
        notes=[hostile],
    )

    page = render_mutation_html(report.to_json())

    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "sk-abcdefghijklmnop12345678" not in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    assert page.count("<script>") == 1  # only the page's own filter
