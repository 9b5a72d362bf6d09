"""``pytest --agentrig-mutate`` and ``agentrig mutate`` on a small suite, in real sessions.

The inner suite has a weak broadcast test (it checks only the synthesis), the same broadcast
with a snapshot, a supervisor loop, a test that is not an agentrig test, one that fails before
any mutation, and one whose mutant would spin forever.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentrig.cli import main

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
agentrig_stall_timeout = 0.2
"""

SUITE = """
import asyncio

import pytest

from agentrig.patterns import run_broadcast, run_supervisor


async def broadcast(fake_model):
    agents = {
        "forums": fake_model.agent("forums", reply="users say it is safe", latency=1.0),
        "papers": fake_model.agent("papers", reply="three papers agree", latency=2.0),
    }
    editor = fake_model.agent("editor", reply="mostly safe", latency=1.0)
    return await run_broadcast(agents, "is it safe?", aggregator=editor, timeout=30)


async def test_broadcast(fake_model):
    result = await broadcast(fake_model)
    assert result.output == "mostly safe"


async def test_broadcast_snapshot(fake_model, agent_recording, agent_snapshot):
    await broadcast(fake_model)
    assert agent_recording == agent_snapshot


async def test_supervisor(fake_model, deadline):
    writer = fake_model.agent("writer", replies=["draft 1", "draft 2"], latency=20.0)
    editor = fake_model.agent("editor", replies=["too long", "APPROVED"], latency=10.0)
    result = await run_supervisor(writer, editor, "write it", deadline=deadline(120))
    assert result.approved and result.revisions == 1
    assert asyncio.get_running_loop().time() == 60


def test_not_agentrig():
    assert 1 + 1 == 2


async def test_red_before_mutation(fake_model):
    assert (await fake_model.agent("x", reply="a").run("p")).text == "b"
"""

SPINNER = """
async def test_polls_until_done(fake_model):
    status = (await fake_model.agent("poller", reply="done").run("status?")).text
    while status != "done":
        pass  # a changed reply makes this spin forever: the mutant's time limit must stop it
"""


WAITER = """
import asyncio


async def test_waits_until_done(fake_model):
    done = asyncio.Event()
    status = (await fake_model.agent("poller", reply="done").run("status?")).text
    if status == "done":
        done.set()
    await done.wait()  # a changed reply leaves nobody to set it: the run would wait forever
"""


def write_suite(pytester: pytest.Pytester, source: str = SUITE) -> None:
    pytester.makefile(".ini", pytest=INI)
    pytester.makepyfile(test_suite=source)


def report(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    path = pytester.path / "mutation.json"
    result = pytester.runpytest("--agentrig-mutate", f"--agentrig-mutate-report={path}", *args)
    return result, json.loads(path.read_text(encoding="utf-8"))


def test_by_name(data: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [t for t in data["tests"] if t["nodeid"].endswith(f"::{name}")]
    return found


test_by_name.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def statuses(test: dict[str, Any]) -> dict[str, str]:
    return {m["id"]: m["status"] for m in test["mutants"]}


def test_a_weak_test_lets_mutants_survive_and_the_report_names_them(
    pytester: pytest.Pytester,
) -> None:
    write_suite(pytester)
    pytester.runpytest("--snapshot-update", "-k", "snapshot").assert_outcomes(passed=1)

    result, data = report(pytester)

    weak = statuses(test_by_name(data, "test_broadcast"))
    # The weak test checks only the synthesis: losing a source goes unnoticed...
    assert weak["call-timeout:forums#1"] == "survived"
    assert weak["broadcast-member-dropped:broadcast#1#papers"] == "survived"
    # ... but a changed synthesis does not.
    assert weak["reply-changed:editor#1"] == "killed"
    assert (
        "no test notices when agent 'forums' times out on call #1 in test_broadcast"
        in (data["survivors"])
    )
    result.stdout.fnmatch_lines(
        [
            "*agentrig mutation*",
            "*test_suite.py::test_broadcast *",
            "mutation score *",
            "survivors (*",
            "  no test notices when agent 'forums' times out on call #1 in test_broadcast",
        ]
    )
    # The same run with a snapshot kills every mutant that changes what the run did.
    strong = test_by_name(data, "test_broadcast_snapshot")
    assert strong["status"] == "mutated"
    assert set(statuses(strong).values()) <= {"killed", "equivalent"}
    kills = {m["killed_by"] for m in strong["mutants"] if m["status"] == "killed"}
    assert "drift" in kills and kills <= {"drift", "error"}  # error: the editor's call failed
    assert test_by_name(data, "test_supervisor")["mutants"]


def test_scores_are_per_test_per_operator_and_overall(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    pytester.runpytest("--snapshot-update", "-k", "snapshot").assert_outcomes(passed=1)

    _, data = report(pytester)

    mutants = [m for t in data["tests"] for m in t["mutants"]]
    killed = sum(m["status"] == "killed" for m in mutants)
    survived = sum(m["status"] == "survived" for m in mutants)
    assert data["overall"]["killed"] == killed and data["overall"]["survived"] == survived
    assert data["overall"]["score"] == round(killed / (killed + survived), 4)
    assert set(data["operators"]) <= {m["operator"] for m in mutants}
    for name, score in data["operators"].items():
        mine = [m for m in mutants if m["operator"] == name]
        assert score["mutants"] == len(mine)
    strong = test_by_name(data, "test_broadcast_snapshot")
    assert strong["score"] == 1.0


def test_non_agentrig_and_red_tests_are_noted_and_excluded(pytester: pytest.Pytester) -> None:
    write_suite(pytester)

    result, data = report(pytester, "-k", "not_agentrig or red_before")

    assert test_by_name(data, "test_not_agentrig")["status"] == "not_agentrig"
    red = test_by_name(data, "test_red_before_mutation")
    assert red["status"] == "baseline_failed" and red["mutants"] == []
    result.assert_outcomes(failed=1, skipped=1)  # the red test is reported as red
    skip = pytester.runpytest("--agentrig-mutate", "-rs", "-k", "not_agentrig")
    skip.stdout.fnmatch_lines(["SKIPPED*agentrig mutate: not an agentrig test*"])
    result.stdout.fnmatch_lines(
        [
            "*1 test(s) failed before mutation (excluded):",
            "*test_red_before_mutation",
            "*1 test(s) not agentrig tests (skipped by the mutator):",
        ]
    )


def test_mutants_never_write_received_files_or_touch_snapshots(pytester: pytest.Pytester) -> None:
    write_suite(pytester)
    pytester.runpytest("--snapshot-update", "-k", "snapshot").assert_outcomes(passed=1)
    before = {p: p.read_bytes() for p in (pytester.path / "snapshots").rglob("*") if p.is_file()}

    report(pytester, "-k", "snapshot")

    after = {p: p.read_bytes() for p in (pytester.path / "snapshots").rglob("*") if p.is_file()}
    assert after == before
    refused = pytester.runpytest("--agentrig-mutate", "--snapshot-update")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["*must never be recorded*"])


def test_same_suite_same_mutants_in_the_same_order_also_under_xdist(
    pytester: pytest.Pytester,
) -> None:
    write_suite(pytester)
    pytester.runpytest("--snapshot-update", "-k", "snapshot").assert_outcomes(passed=1)

    _, one = report(pytester, "-p", "no:randomly")
    _, two = report(pytester, "-p", "xdist", "-n", "2")

    def shape(data: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
        return [
            (t["nodeid"], [(m["id"], m["status"]) for m in t["mutants"]]) for t in data["tests"]
        ]

    assert shape(one) == shape(two)
    assert one["survivors"] == two["survivors"]


def test_a_spinning_mutant_is_killed_by_its_time_limit(pytester: pytest.Pytester) -> None:
    write_suite(pytester, SPINNER)

    result, data = report(
        pytester, "--agentrig-mutant-timeout=0.5", "--agentrig-mutate-operators=reply-changed"
    )

    (test,) = data["tests"]
    (mutant,) = test["mutants"]
    assert (mutant["status"], mutant["killed_by"]) == ("killed", "timeout")
    assert data["overall"]["timed_out"] == 1
    result.assert_outcomes(passed=1)


def test_a_mutant_that_awaits_forever_is_killed_by_the_stall_limit_as_a_timeout(
    pytester: pytest.Pytester,
) -> None:
    write_suite(pytester, WAITER)

    result, data = report(pytester, "--agentrig-mutate-operators=reply-changed,call-error")

    (test,) = data["tests"]
    by = {m["operator"]: (m["status"], m.get("killed_by")) for m in test["mutants"]}
    assert by == {"reply-changed": ("killed", "timeout"), "call-error": ("killed", "error")}
    assert data["overall"]["timed_out"] == 1
    result.stdout.fnmatch_lines(["mutation score 100.0%: 2 mutants, 2 killed (1 by their time*"])
    result.assert_outcomes(passed=1)


def test_the_total_time_limit_leaves_later_mutants_not_run(pytester: pytest.Pytester) -> None:
    write_suite(pytester)

    result, data = report(pytester, "-k", "test_supervisor", "--agentrig-mutate-time-limit=0.001")

    (test,) = data["tests"]
    assert test["mutants"] and {m["status"] for m in test["mutants"]} == {"not_run"}
    assert data["overall"]["not_run"] == len(test["mutants"]) and data["overall"]["score"] is None
    result.stdout.fnmatch_lines([f"*{len(test['mutants'])} not run (time limit)*"])
    result.assert_outcomes(passed=1)


def test_operators_and_max_mutants_bound_the_run(pytester: pytest.Pytester) -> None:
    write_suite(pytester)

    _, data = report(
        pytester,
        "-k",
        "test_supervisor",
        "--agentrig-mutate-operators=verdict-flipped,call-timeout",
        "--agentrig-max-mutants=3",
    )

    (test,) = data["tests"]
    ops = [m["operator"] for m in test["mutants"]]
    assert ops == ["call-timeout", "verdict-flipped", "call-timeout"]  # round-robin
    assert test["left_out"] > 0


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--agentrig-mutate-operators=call-teleport", "unknown mutation operator*call-teleport"),
        ("--agentrig-max-mutants=0", "--agentrig-max-mutants must be a positive integer"),
        ("--agentrig-min-score=80", "--agentrig-min-score must be a number from 0 to 1*"),
        ("--agentrig-mutant-timeout=soon", "--agentrig-mutant-timeout must be a positive*"),
    ],
)
def test_bad_options_are_usage_errors_naming_the_option(
    pytester: pytest.Pytester, option: str, message: str
) -> None:
    write_suite(pytester)
    result = pytester.runpytest("--agentrig-mutate", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_the_min_score_gate_sets_the_exit_status(pytester: pytest.Pytester) -> None:
    write_suite(pytester)

    low = pytester.runpytest(
        "--agentrig-mutate", "--agentrig-min-score=0.99", "-k", "test_broadcast and not snapshot"
    )
    ok = pytester.runpytest(
        "--agentrig-mutate", "--agentrig-min-score=0.1", "-k", "test_broadcast and not snapshot"
    )

    assert low.ret == pytest.ExitCode.TESTS_FAILED
    low.stdout.fnmatch_lines(["mutation score * floor 99%: BELOW the floor"])
    assert ok.ret == pytest.ExitCode.OK


def test_the_command_gates_with_0_1_2_and_prints_json(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    write_suite(pytester)
    weak = ["-p", "no:cacheprovider", "-k", "test_broadcast and not snapshot"]

    assert main(["mutate", "--min-score", "0.99", *weak]) == 1
    assert "below --min-score=0.99" in capsys.readouterr().err
    assert main(["mutate", "--json", "--min-score", "0.1", *weak]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["min_score"] == 0.1 and not data["below_floor"]
    assert main(["mutate", "--operators", "nope", *weak]) == 2
    assert "unknown mutation operator" in capsys.readouterr().err
    assert main(["mutate", "no_such_dir"]) == 2
    assert Path(pytester.path / "mutation.json").exists() is False  # the command cleans up


EVERY_KIND = """
import json
from decimal import Decimal

import openai

from agentrig import DecisionLog, ToolCall
from agentrig.patterns import run_broadcast, run_supervisor

BOOK = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


async def test_a_desk_that_pins_its_run(
    fake_model, budget_pool, deadline, agent_recording, agent_snapshot
):
    pool = budget_pool(usd="0.01", name="desk")
    sources = {
        "forums": fake_model.agent("forums", reply="users say it is safe", latency=1.0),
        "papers": fake_model.agent("papers", reply="three papers agree", latency=2.0),
    }
    editor = fake_model.agent("editor", reply="mostly safe", latency=1.0)
    found = await run_broadcast(
        sources, "is it safe?", aggregator=editor, pool=pool, max_usd="0.005", timeout=30
    )
    writer = fake_model.agent("writer", replies=["draft 1", "draft 2"], latency=20.0)
    critic = fake_model.agent("critic", replies=["too long", "APPROVED"], latency=10.0)
    reviewed = await run_supervisor(writer, critic, found.output, deadline=deadline(100))
    fake_model.agent("booker", model="gpt-4o-mini", reply=ToolCall("book", {"city": "Oslo"}))
    first = await openai.AsyncOpenAI(api_key="sk-test").chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "book the trip"}],
        tools=[{"type": "function", "function": {"name": "book", "parameters": BOOK}}],
    )
    (call,) = first.choices[0].message.tool_calls
    DecisionLog(path="decisions.jsonl").record(
        "booked", city=json.loads(call.function.arguments)["city"]
    )

    assert reviewed.approved
    assert pool.available_usd == Decimal("0.01") - pool.spent_usd  # what was not spent is kept
    assert agent_recording == agent_snapshot
"""


def test_every_operator_changes_a_run_that_a_snapshot_test_notices(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each operator, applied to a run that has every kind of site, is noticed by a test that
    pins the run: none of them is a no-op, none survives."""
    from agentrig.mutate.operators import OPERATORS

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    write_suite(pytester, EVERY_KIND)
    # in subprocesses: a second in-process pytester session of this suite (mutation or not)
    # loses the decision recorded after the openai call (an in-process artifact, see NOTES)
    pytester.runpytest_subprocess("--snapshot-update").assert_outcomes(passed=1)
    path = pytester.path / "mutation.json"
    pytester.runpytest_subprocess("--agentrig-mutate", f"--agentrig-mutate-report={path}")
    data = json.loads(path.read_text(encoding="utf-8"))

    assert list(data["operators"]) == list(OPERATORS)
    for name, score in data["operators"].items():
        assert score["killed"] >= 1 and score["survived"] == 0, (name, score)
    assert data["survivors"] == []
