"""Gates: the cost cap, the marker's validation, and the CI rule that never blesses drift."""

from __future__ import annotations

import pytest
from agentrig_project import Project

SPENDER = """
import pytest

@pytest.mark.agentrig({marker})
async def test_spend(fake_model, agent_recording):
    model = fake_model.agent("big", reply="word " * 400)
    for _ in range(3):
        await model.run("a prompt " * 50)
"""


def test_spend_over_max_usd_fails_the_test_with_what_was_spent(project: Project) -> None:
    project.write("tests/test_cost.py", SPENDER.format(marker="max_usd=0.00001"))

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*agentrig cost gate: tests/test_cost.py::test_spend: $0.* spent,"
            " over max_usd=$0.00001*",
        ]
    )
    result.stdout.fnmatch_lines(["BUDGET *tests/test_cost.py::test_spend*"])


def test_spend_within_max_usd_passes(project: Project) -> None:
    project.write("tests/test_cost.py", SPENDER.format(marker="max_usd=1, max_tokens=100000"))

    project.run().assert_outcomes(passed=1)


def test_tokens_over_max_tokens_fail_the_test(project: Project) -> None:
    project.write("tests/test_cost.py", SPENDER.format(marker="max_tokens=10"))

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*tokens used, over max_tokens=10*"])


def test_budget_charges_outside_model_calls_count_too(project: Project) -> None:
    project.write(
        "tests/test_charge.py",
        """
import pytest

@pytest.mark.agentrig(max_usd=0.05)
async def test_charge(budget_pool, agent_recording):
    pool = budget_pool(usd=1)
    async with pool.acquire(max_usd=0.5) as stage:
        stage.charge(0.06, label="search api")
""",
    )

    result = project.run()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*$0.06 spent, over max_usd=$0.05*"])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (
            "max_dollars=1",
            "*@pytest.mark.agentrig got unknown argument max_dollars; valid arguments:"
            " max_usd, max_tokens, fail_on, tolerance, drop, mask*",
        ),
        ("0.1", "*@pytest.mark.agentrig takes keyword arguments only*"),
        ("max_usd=-1", "*`max_usd` must be non-negative, got -1*"),
        ("max_tokens='many'", "*`max_tokens` must be a non-negative int*"),
        ("fail_on='texts'", "*unknown class(es) 'texts'; valid classes are structure*"),
        ("tolerance='timing:abs=x'", "*tolerance*not a number*"),
        ("drop=['..bad']", "*empty path segment*"),
    ],
)
def test_a_bad_marker_fails_that_test_with_a_clear_message(
    project: Project, marker: str, message: str
) -> None:
    project.write("tests/test_cost.py", SPENDER.format(marker=marker))
    project.write("tests/test_other.py", "def test_other(agent_recording):\n    pass\n")

    result = project.run()

    result.assert_outcomes(errors=1, passed=1)
    result.stdout.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str()


def test_a_bad_ini_value_fails_agentrig_tests_with_a_clear_message(project: Project) -> None:
    project.configure(extra="agentrig_fail_on = structure, vibes")
    project.write("tests/test_other.py", "def test_other(agent_recording):\n    pass\n")

    result = project.run()

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*agentrig ini options: fail_on=*unknown class(es) 'vibes'*"])


def test_ci_never_creates_snapshots_even_with_snapshot_update(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    project.write_app()

    result = project.run("--snapshot-update")

    result.assert_outcomes(failed=5)
    assert not list((project.path / "snapshots").rglob("*[!d].json"))  # only *.received.json
    result.stdout.fnmatch_lines(
        [
            "*does not exist.*",
            "*CI is set, so --snapshot-update did not create or rewrite agentrig snapshots*"
            "--agentrig-force-update*",
        ]
    )


def test_ci_never_rewrites_or_deletes_snapshots_even_with_snapshot_update(
    recorded: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "1")
    before = recorded.snapshot_files()
    recorded.write_app(reply="drifted in CI!")
    source = (recorded.path / "tests" / "test_app.py").read_text()
    recorded.write("tests/test_app.py", source.replace("def test_sync", "def _unused_sync"))

    result = recorded.run("--snapshot-update")

    result.assert_outcomes(passed=3, failed=1)
    after = recorded.snapshot_files()
    after.pop("tests/test_app/test_pipeline.received.json")
    after.pop("tests/test_app/test_pipeline.received.html")  # its HTML timeline
    assert after == before


def test_force_update_lets_ci_record(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    project.write_app()

    project.run("--snapshot-update", "--agentrig-force-update").assert_outcomes(passed=5)
    project.run().assert_outcomes(passed=5)


def test_ci_set_to_false_is_not_ci(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "false")
    project.write_app()

    project.run("--snapshot-update").assert_outcomes(passed=5)


def test_the_marker_reads_money_as_budget_pool_does_and_prints_it_the_same(
    project: Project,
) -> None:
    project.write(
        "tests/test_numpy_cap.py",
        """
import numpy as np
import pytest

@pytest.mark.agentrig(max_usd=np.float64(0.00005))
async def test_over(budget_pool, agent_recording):
    pool = budget_pool(usd=np.float64(0.1))
    async with pool.acquire(max_usd=np.float32(0.05)) as stage:
        stage.charge("0.0000575")

@pytest.mark.agentrig(max_usd=np.float64(0.1))
async def test_within(budget_pool, agent_recording):
    async with budget_pool(usd=np.float64(0.1)).acquire() as stage:
        stage.charge(np.float64(0.0000575))
""",
    )

    result = project.run()

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_over: $0.0000575 spent, over max_usd=$0.00005. Make*"])
