"""Every output channel goes through the one redaction, with the user's patterns.

``agentrig_secret_patterns`` used to reach snapshot contents only. Now the session's patterns
apply wherever agentrig writes: snapshot contents and file names, agentrig's error messages,
its objects' reprs (a failing test's locals with ``-l``), the drift summary, the JSON report
and GitHub annotations. And a value that raises while being normalized (an ORM object's
attribute) is an error naming the span and the attribute, redacted like the rest.
"""

from __future__ import annotations

import json

import pytest
from reliability_kit import Rig

# The secrets live in a helper module: a failing test's traceback shows the test's own source.
VALUES = """
DECLARED = "acct-123456"          # matches the user's pattern only
ORM_SECRET = "acct-222222 password=hunter2-orm"
TOKEN = "hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345"
"""
NEEDLES = ("123456", "222222", "hunter2-orm", "AbCdEfGhIjKlMnOpQrSt")

CHANNELS = """
import dataclasses

import pytest
from agentrig import Tracer
from secret_values import DECLARED, ORM_SECRET, TOKEN


@pytest.mark.parametrize("account", [DECLARED])
def test_id(account, agent_recording, agent_snapshot, decision_log):
    decision_log.record(decision="charge")
    assert agent_recording == agent_snapshot(name=account)


async def test_reprs(budget_pool, fake_model, tracer, agent_recording):
    pool = budget_pool(usd=1, name="pool " + DECLARED + " " + TOKEN)
    agent = fake_model.agent("agent " + DECLARED, reply="ok")
    async with pool.acquire(max_usd=0.5, name="stage " + DECLARED) as stage:
        with tracer.span("span " + DECLARED + " " + TOKEN) as span:
            await agent.run("go", budget=stage)
            assert stage is None  # fails: -l prints every local's repr


async def test_error_message(fake_model, agent_recording):
    agent = fake_model.agent("writer", replies=["one"])
    await agent.run("first")
    await agent.run("second, for " + DECLARED)  # ScriptExhausted quotes the prompt


class Detached(Exception):
    pass


@dataclasses.dataclass
class Order:
    id: int
    customer: str

    def __getattribute__(self, name):
        if name == "customer":
            raise KIND(ORM_SECRET)
        return object.__getattribute__(self, name)


KIND = Detached


@pytest.mark.parametrize("kind", ["Detached", "TypeError"])
def test_orm(kind, tracer, agent_recording, agent_snapshot):
    global KIND
    KIND = Detached if kind == "Detached" else TypeError
    with tracer.span("checkout") as span:
        span.set_attribute("order", Order(1, "bob"))
    assert agent_recording == agent_snapshot
"""


@pytest.fixture
def session(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> tuple[Rig, pytest.RunResult]:
    rig.configure("agentrig_secret_patterns = acct-\\d{6}")
    rig.write("tests/secret_values.py", VALUES)
    rig.write("tests/test_channels.py", CHANNELS)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = rig.run("-l", "-vv", "-rA", "--snapshot-update", "--agentrig-report=report.json")
    return rig, result


def _assert_no_secret(where: str, text: str) -> None:
    leaked = [needle for needle in NEEDLES if needle in text]
    assert not leaked, f"secrets leaked into {where}: {leaked}\n{text[-3000:]}"


def test_user_patterns_reach_file_names_reprs_errors_summary_report_and_annotations(
    session: tuple[Rig, pytest.RunResult],
) -> None:
    rig, result = session
    result.assert_outcomes(passed=1, failed=4)
    terminal = result.stdout.str() + result.stderr.str()
    # pytest itself prints node ids, parametrize values and all (a limit in docs/reliability.md)
    _assert_no_secret("the terminal", terminal.replace("test_id[acct-123456]", "test_id[...]"))
    # each channel did print the object, redacted
    assert "<BudgetPool 'pool <redacted> <redacted>'" in terminal  # the repr, with -l
    assert "<StageBudget 'stage <redacted>'" in terminal
    assert "<Span 'span <redacted> <redacted>'" in terminal
    assert "<FakeAgent 'agent <redacted>'" in terminal
    assert "<FakeModel model=" in terminal
    assert "(prompt 'second, for <redacted>')" in terminal  # the error message
    assert "::error " in terminal  # GitHub annotations were written (redacted above)
    files = rig.files()
    assert len([name for name in files if name.startswith("tests/test_channels/test_id[")]) == 1
    for name, data in files.items():
        _assert_no_secret("a snapshot file name", name)
        _assert_no_secret("a snapshot", data.decode("utf-8"))
    report = (rig.path / "report.json").read_text(encoding="utf-8")
    _assert_no_secret("the JSON report", report)
    assert json.loads(report)["summary"]["error"] == 2


def test_a_value_that_raises_while_normalized_names_the_span_and_the_attribute(
    session: tuple[Rig, pytest.RunResult],
) -> None:
    rig, result = session
    terminal = result.stdout.str()
    for kind in ("Detached", "TypeError"):
        assert (
            "RecordingError: cannot normalize span 'checkout' attribute 'order' › "
            f"'Order.customer': reading it raised {kind}: <redacted>" in terminal
        ), terminal[-4000:]
    assert "use `assert agent_recording == agent_snapshot`" not in terminal
    report = json.loads((rig.path / "report.json").read_text(encoding="utf-8"))
    errors = [s["error"] for t in report["tests"] for s in t["snapshots"] if s.get("error")]
    assert len(errors) == 2
    assert all("span 'checkout' attribute 'order'" in e for e in errors)
    assert "title=agentrig unusable snapshot%3A test_orm[Detached]::" in terminal  # annotation
