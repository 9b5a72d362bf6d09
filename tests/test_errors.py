"""The error taxonomy: the base follows the kind of mistake, as trio's does.

A wrong state is a RuntimeError (StateError), a wrong type a TypeError (ArgumentTypeError), a
wrong value a ValueError (ConfigurationError); all are AgentRigErrors. The snapshot "re-record"
advice is written once, in its exception class.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import agentrig
from agentrig import (
    AgentRigError,
    ArgumentTypeError,
    BudgetPool,
    ConfigurationError,
    Deadline,
    FakeAgent,
    SnapshotError,
    StageBudget,
    StateError,
    Tracer,
    run,
)
from agentrig.budget import Reservation
from agentrig.normalize import loads


def test_the_bases_follow_the_kind_of_mistake() -> None:
    assert issubclass(StateError, RuntimeError) and issubclass(StateError, AgentRigError)
    assert not issubclass(StateError, ValueError)
    assert issubclass(ArgumentTypeError, TypeError)
    assert issubclass(ArgumentTypeError, ConfigurationError)  # old `except` clauses still work
    assert issubclass(ConfigurationError, ValueError) and not issubclass(
        ConfigurationError, TypeError
    )


def _closed_stage() -> None:
    pool = BudgetPool(usd=1)
    with pool.acquire_nowait(name="s") as stage:
        pass
    stage.charge(0.01)


def _acquire_twice() -> None:
    pool = BudgetPool(usd=1)
    acquisition = pool.acquire(name="once")

    async def main() -> None:
        async with acquisition:
            pass
        async with acquisition:
            pass

    run(main())


def _span_twice() -> None:
    scope = Tracer().span("s")
    with scope:
        pass
    with scope:
        pass


def _tool_twice() -> None:
    execution = agentrig.tool("search", arguments={"q": "x"})
    with execution:
        pass
    with execution:
        pass


@pytest.mark.parametrize(
    ("misuse", "message"),
    [
        (_closed_stage, r"stage 's' of pool 'pool' is closed"),
        (_acquire_twice, r"stage 'once' was already entered"),
        (_span_twice, r"the span 's' was already entered"),
        (_tool_twice, r"tool execution 'search' was already entered"),
        (StageBudget, r"StageBudget is not created directly: use `async with pool.acquire"),
        (FakeAgent, r"FakeAgent is not created directly: use fake_model.agent"),
        (Reservation, r"a Reservation is made by stage.reserve"),
    ],
)
def test_a_wrong_state_is_a_runtime_error_saying_what_to_call(
    misuse: Callable[[], object], message: str
) -> None:
    with pytest.raises(StateError, match=message):
        misuse()


@pytest.mark.parametrize(
    "make",
    [
        lambda: Deadline("soon"),  # type: ignore[arg-type]
        lambda: BudgetPool(usd=[0.1]),  # type: ignore[arg-type]
        lambda: BudgetPool(usd=True),
        lambda: BudgetPool(usd=1, tokens=1.5),  # type: ignore[arg-type]
    ],
)
def test_a_wrong_type_is_a_type_error(make: Callable[[], object]) -> None:
    with pytest.raises(TypeError):
        make()


@pytest.mark.parametrize("make", [lambda: Deadline(-1), lambda: BudgetPool(usd="lots")])
def test_a_wrong_value_is_a_value_error_and_not_a_type_error(make: Callable[[], object]) -> None:
    with pytest.raises(ConfigurationError) as refused:
        make()
    assert not isinstance(refused.value, TypeError)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[]", "the top level is a list, not an object)"),
        (b'{"timeline": []}', 'no {"agentrig": {"format": ...}} header)'),
        (b'{"agentrig": {"format": "x"}, "timeline": []}', "unreadable format version 'x'"),
        (b'{"agentrig": {"format": 1}}', "has no 'timeline' list"),
    ],
)
def test_an_unusable_snapshot_says_once_how_to_re_record_it(data: bytes, message: str) -> None:
    with pytest.raises(SnapshotError) as refused:
        loads(data, source="snap.json")
    text = str(refused.value)
    assert message in text
    assert text.endswith("; re-record it with `agentrig update`")
    assert text.count("agentrig update") == 1


def test_a_snapshot_error_survives_pickling_with_its_advice() -> None:
    import pickle

    error = SnapshotError("snap.json is broken", rerecord=True)
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) == "snap.json is broken; re-record it with `agentrig update`"


def test_messages_drop_repr_addresses_but_keep_user_text_that_looks_like_one() -> None:
    class Doc:
        pass

    wallet = "paid the wallet at 0x52908400098527886E0F7030069857D2E4169EE7 today"
    error = AgentRigError(f"cannot store {Doc()!r} for {wallet!r}")
    assert "object at 0x" not in str(error)
    assert "Doc object>" in str(error)
    assert wallet in str(error)
