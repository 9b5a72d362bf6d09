"""With looptime installed too, agentrig tests run on agentrig's loop, unpatched.

looptime's plugin swaps the class of every pytest-asyncio loop for one of its own at creation,
active (``--looptime``, its marker) or not; on agentrig's loop that put its time and select
wrappers into every iteration (agentrig tests ran about 2x slower) and, when active, its clock
against agentrig's. Tests that do not use agentrig keep looptime exactly as before.
"""

from __future__ import annotations

import pytest

pytest.importorskip("looptime")  # a test dependency (pyproject's test extra)

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
{extra}
"""

TESTS = """
import asyncio

import pytest

from agentrig import DecisionLog, VirtualEventLoop

log = DecisionLog()
pytestmark = pytest.mark.asyncio(loop_scope="{scope}")


async def test_agentrig_runs_on_its_own_loop(agent_recording):
    loop = asyncio.get_running_loop()
    assert type(loop) is VirtualEventLoop, type(loop).__mro__
    await asyncio.sleep(120)
    log.record(decision="waited")
    assert agent_recording.entries[-1].t == 120.0


async def test_agentrig_again(agent_recording):
    assert type(asyncio.get_running_loop()) is VirtualEventLoop
    await asyncio.sleep(5)
    assert agent_recording.now() == 5.0
"""

NEIGHBOUR = """
import asyncio

import pytest
from looptime import LoopTimeEventLoop


@pytest.mark.looptime
async def test_a_looptime_test_keeps_looptime(looptime):
    assert isinstance(asyncio.get_running_loop(), LoopTimeEventLoop)
    await asyncio.sleep(100)
    assert looptime == 100
"""


@pytest.mark.parametrize("scope", ["function", "module"])
@pytest.mark.parametrize("active", [False, True], ids=["looptime-installed", "looptime-active"])
def test_agentrig_tests_run_on_agentrigs_loop_beside_looptime(
    pytester: pytest.Pytester, scope: str, active: bool
) -> None:
    pytester.makeini(INI.format(extra=""))
    pytester.makepyfile(test_agents=TESTS.replace("{scope}", scope), test_neighbour=NEIGHBOUR)
    args = ["-p", "no:cacheprovider", "-p", "no:randomly"]
    if active:
        args.append("--looptime")  # looptime for every test that does not opt out

    result = pytester.runpytest_subprocess(*args)

    result.assert_outcomes(passed=3)
    assert "looptime-" in result.stdout.str()  # its plugin was loaded in that session
