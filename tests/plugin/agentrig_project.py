"""A small agent project driven through ``pytester``: ini, app source and snapshot helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

INI = """
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
agentrig_stall_timeout = 0.2
{extra}
"""

#: A small agent app under test: a two-stage pipeline on the fake model. ``REPLY`` is the
#: research agent's reply; tests rewrite it to inject drift (always changing the file's size,
#: so pytest's assertion-rewrite cache can never serve the old module).
APP = """
import asyncio

import pytest

REPLY = {reply!r}


async def run_pipeline(fake_model, tracer, budget_pool):
    pool = budget_pool(usd=0.10)
    research = fake_model.agent("research", reply=REPLY, latency=2.0)
    draft = fake_model.agent("draft", reply=lambda p: f"report on {{p}}", latency=3.0)
    with tracer.span("pipeline"):
        async with pool.acquire(max_usd=0.04) as stage:
            notes = await research.run("query", budget=stage)
        async with pool.acquire(max_usd=0.04) as stage:
            await draft.run(notes.text, budget=stage)


async def test_pipeline(fake_model, tracer, budget_pool, agent_recording, agent_snapshot):
    await run_pipeline(fake_model, tracer, budget_pool)
    assert asyncio.get_running_loop().time() == 5.0
    assert agent_recording == agent_snapshot


@pytest.mark.parametrize("who", ["alpha", "beta", "gamma"])
async def test_agents(fake_model, agent_recording, agent_snapshot, who):
    await fake_model.agent(who, reply=f"hello from {{who}}").run("hi")
    assert agent_recording == agent_snapshot


def test_sync(agent_recording, agent_snapshot, decision_log):
    decision_log.record(decision="route", to="billing")
    assert agent_recording == agent_snapshot
"""


def app_source(reply: str = "notes about X") -> str:
    return APP.format(reply=reply)


#: Plugins of the test environment that inner sessions do without: randomization, the cache,
#: and looptime's loop patching (its coexistence with agentrig is tests/plugin/test_looptime.py).
QUIET = (
    "-p", "no:randomly", "-p", "no:cacheprovider",
    "-p", "no:looptime_plugin", "-p", "no:looptime_chronometers", "-p", "no:looptime_timeproxies",
)  # fmt: skip


class Project:
    """A pytester project with agentrig's ini options and helpers to look at snapshots."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.path: Path = pytester.path
        self.configure()

    def configure(self, *, mode: str = "auto", extra: str = "") -> None:
        self.pytester.makeini(INI.format(mode=mode, extra=extra))

    def write(self, relpath: str, source: str) -> Path:
        path = self.path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
        return path

    def write_app(self, reply: str = "notes about X", relpath: str = "tests/test_app.py") -> Path:
        return self.write(relpath, app_source(reply))

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest(*QUIET, *args)

    def run_subprocess(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess(*QUIET, *args)

    def snapshot(self, relpath: str) -> Path:
        return self.path / "snapshots" / relpath

    def snapshot_files(self, root: str = "snapshots") -> dict[str, bytes]:
        base = self.path / root
        return {
            p.relative_to(base).as_posix(): p.read_bytes()
            for p in sorted(base.rglob("*"))
            if p.is_file()
        }
