"""Bad input to the runtime primitives: a clear agentrig error, and nothing that happened lost.

BudgetPool with NaN, negative or infinite money; an acquire larger than the pool; a charge
after its stage closed; a Deadline with negative seconds; an EventBus handler that raises; a
DecisionLog in a missing, unwritable or full location; a torn last line in a decision log.
Each error names the parameter or object and says what to do; the ledger and the recording
keep what happened.
"""

from __future__ import annotations

import asyncio
import errno
import io
import math
import types
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import Rig, assert_clean

import agentrig._jsonl
from agentrig import (
    AgentRigError,
    BudgetExceeded,
    BudgetPool,
    ConfigurationError,
    Deadline,
    DeadlineExceeded,
    DecisionLog,
    DecisionLogError,
    EventBus,
    Recording,
    StateError,
    run,
)
from agentrig.decisions import read_decision_log


def _pool() -> BudgetPool:
    return BudgetPool(usd=0.10, name="research")


def _charge_after_close() -> None:
    pool = _pool()
    stage = pool.acquire_nowait(max_usd=0.04, name="draft")
    stage.close()
    stage.charge(0.01, label="late")


async def _acquire_too_much() -> None:
    async with _pool().acquire(max_usd=0.5):
        pass


#: what a caller does wrong -> (the error, words the message must hold)
MISUSES: dict[str, tuple[Callable[[], object], type[Exception], str]] = {
    "pool usd nan": (lambda: BudgetPool(usd=math.nan), ConfigurationError, "`usd` must be a fi"),
    "pool usd negative": (lambda: BudgetPool(usd=-1), ConfigurationError, "`usd` must be non-neg"),
    "pool usd inf": (lambda: BudgetPool(usd=math.inf), ConfigurationError, "NaN and infinity"),
    "pool usd decimal nan": (
        lambda: BudgetPool(usd=Decimal("NaN")),
        ConfigurationError,
        "`usd` must be a finite amount",
    ),
    "pool usd text": (lambda: BudgetPool(usd="lots"), ConfigurationError, "write it like '0.04'"),
    "pool tokens negative": (
        lambda: BudgetPool(usd=1, tokens=-5),
        ConfigurationError,
        "`tokens`",
    ),
    "acquire nan": (
        lambda: _pool().acquire_nowait(max_usd=math.nan),
        ConfigurationError,
        "`max_usd` must be a finite amount",
    ),
    "acquire more than the pool": (
        lambda: _pool().acquire_nowait(max_usd=0.5),
        ConfigurationError,
        "more than pool 'research' can ever hold (cap $0.10); lower max_usd=",
    ),
    "async acquire more than the pool": (
        lambda: run(_acquire_too_much()),
        ConfigurationError,
        "more than pool 'research' can ever hold",
    ),
    "charge nan": (
        lambda: _pool().acquire_nowait(max_usd=0.04).charge(math.nan),
        ConfigurationError,
        "`usd` must be a finite amount",
    ),
    "charge negative": (
        lambda: _pool().acquire_nowait(max_usd=0.04).charge(-0.01),
        ConfigurationError,
        "`usd` must be non-negative",
    ),
    "charge over the cap": (
        lambda: _pool().acquire_nowait(max_usd=0.04, name="draft").charge(0.05),
        BudgetExceeded,
        "stage 'draft' of pool 'research' went over budget",
    ),
    "charge after close": (
        _charge_after_close,
        StateError,
        "stage 'draft' of pool 'research' is closed",
    ),
    "deadline negative": (lambda: Deadline(-1), ConfigurationError, "`seconds` must be non-neg"),
    "deadline nan": (lambda: Deadline(math.nan), ConfigurationError, "must be a finite number"),
    "deadline inf": (lambda: Deadline(math.inf), ConfigurationError, "must be a finite number"),
    "deadline text": (lambda: Deadline("soon"), ConfigurationError, "a number of seconds"),  # type: ignore[arg-type]
    "decision empty": (lambda: DecisionLog().record(decision=""), ConfigurationError, "decision"),
    "decision reserved field": (
        lambda: DecisionLog().record(decision="x", seq=3),
        ConfigurationError,
        "seq",
    ),
    "bus empty topic": (lambda: EventBus().on("")(print), ConfigurationError, "topic"),
}


@pytest.mark.parametrize("case", sorted(MISUSES))
def test_each_misuse_raises_a_clear_agentrig_error(case: str) -> None:
    make, error, words = MISUSES[case]
    with pytest.raises(error) as info:
        make()
    assert isinstance(info.value, AgentRigError)
    message = str(info.value)
    assert words in message, message
    assert_clean(message)


def test_spend_that_broke_a_cap_or_came_after_close_stays_in_the_ledger() -> None:
    pool = BudgetPool(usd=0.10, name="p")
    stage = pool.acquire_nowait(max_usd=0.04, name="s")
    stage.charge(0.03, label="ok")
    with pytest.raises(BudgetExceeded):
        stage.charge(0.02, label="over")
    stage.close()
    with pytest.raises(StateError, match="is closed"):
        stage.charge(0.01, label="late")
    ledger = [(e.label, e.usd, e.accepted) for e in pool.ledger]
    assert ledger == [
        ("ok", Decimal("0.03"), True),
        ("over", Decimal("0.02"), False),
        ("late", Decimal("0.01"), False),
    ]
    assert pool.statistics().spent_usd == Decimal("0.06")


def test_a_raising_handler_is_recorded_the_others_run_and_emit_raises_it() -> None:
    bus = EventBus(name="bus")
    seen: list[str] = []

    @bus.on("task")
    def first(event: dict[str, Any]) -> str:
        raise ValueError("handler exploded")

    @bus.on("task")
    def second(event: dict[str, Any]) -> str:
        seen.append("second")
        return "fine"

    rec = Recording("bus")
    with rec.activate(), pytest.raises(ValueError, match="handler exploded"):
        run(bus.emit("task", text="x"))
    assert seen == ["second"]
    handlers = [e.data for e in rec.entries if e.kind == "bus.handler"]
    assert [h["ok"] for h in handlers] == [False, True]
    assert handlers[0]["error"] == {"type": "ValueError", "message": "handler exploded"}


def test_emitting_to_nobody_returns_none_and_is_recorded() -> None:
    rec = Recording("bus")
    with rec.activate():
        assert run(EventBus().emit("nobody", x=1)) is None
    assert [e.data["handlers"] for e in rec.entries if e.kind == "bus.emit"] == [0]


def test_a_block_past_its_deadline_is_cancelled_with_deadline_exceeded() -> None:
    async def main() -> None:
        async with Deadline(120, name="review"):
            await asyncio.sleep(1000)  # virtual seconds: the test takes milliseconds

    with pytest.raises(DeadlineExceeded, match="review") as info:
        run(main())
    assert isinstance(info.value, TimeoutError)


# -- decision logs on bad file systems ---------------------------------------------------------


def test_a_decision_log_in_a_missing_folder_creates_it(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there.jsonl"
    with DecisionLog(path=path) as log:
        log.record(decision="go")
    assert [e["decision"] for e in read_decision_log(path).entries] == ["go"]


def test_a_file_where_the_folder_should_be_names_the_folder_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "logs").write_text("I am a file")
    log = DecisionLog(path=tmp_path / "logs" / "decisions.jsonl")
    with pytest.raises(DecisionLogError, match="cannot create the folder") as info:
        log.record(decision="go")
    assert str(tmp_path / "logs") in str(info.value)
    assert "pass a path in a writable folder" in str(info.value)


class _RefusingFileIO(io.FileIO):
    """A file system that refuses to open (read-only) or to write (full)."""

    refuse_open: int | None = None
    refuse_write: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if self.refuse_open is not None:
            raise OSError(self.refuse_open, "refused by test")
        super().__init__(*args, **kwargs)

    def write(self, data: Any) -> int:
        if self.refuse_write is not None:
            raise OSError(self.refuse_write, "No space left on device")
        return super().write(data)


@pytest.fixture
def refusing_fs(monkeypatch: pytest.MonkeyPatch) -> type[_RefusingFileIO]:
    # We run as root, where a read-only folder is writable: refuse at the system call instead.
    fake_io = types.SimpleNamespace(FileIO=_RefusingFileIO)
    monkeypatch.setattr(agentrig._jsonl, "io", fake_io)
    monkeypatch.setattr(_RefusingFileIO, "refuse_open", None)
    monkeypatch.setattr(_RefusingFileIO, "refuse_write", None)
    return _RefusingFileIO


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_a_read_only_location_names_the_file_and_the_fix(
    tmp_path: Path, refusing_fs: type[_RefusingFileIO], code: int
) -> None:
    refusing_fs.refuse_open = code
    log = DecisionLog(path=tmp_path / "decisions.jsonl")
    with pytest.raises(DecisionLogError, match="cannot open") as info:
        log.record(decision="go")
    assert str(tmp_path / "decisions.jsonl") in str(info.value)
    assert "make the file writable or pass another path" in str(info.value)


def test_a_full_disk_names_the_file_and_keeps_the_log_usable(
    tmp_path: Path, refusing_fs: type[_RefusingFileIO]
) -> None:
    path = tmp_path / "decisions.jsonl"
    log = DecisionLog(path=path)
    log.record(decision="first")
    refusing_fs.refuse_write = errno.ENOSPC
    with pytest.raises(DecisionLogError, match="No space left on device; free space"):
        log.record(decision="lost")
    refusing_fs.refuse_write = None
    log.record(decision="after")
    log.close()
    assert [e["decision"] for e in read_decision_log(path).entries] == ["first", "after"]


def test_a_torn_last_line_is_reported_and_the_next_writer_repairs_it(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    path.write_bytes(b'{"decision":"a","seq":1,"t":null}\n{"decision":"b","se')

    contents = read_decision_log(path)
    assert [e["decision"] for e in contents.entries] == ["a"]
    assert contents.torn_line == '{"decision":"b","se'
    assert "line 2 is torn" in contents.problems[0]

    with DecisionLog(path=path) as log:
        entry = log.record(decision="c")
        assert log.recovered_torn_lines == ('{"decision":"b","se',)
    assert entry["seq"] == 2
    repaired = read_decision_log(path)
    assert [e["decision"] for e in repaired.entries] == ["a", "c"]
    assert repaired.torn_line is None


# -- through pytest: a test that misuses a primitive fails with the message, nothing else -----

MISUSING_TESTS = """
import math

import pytest


def test_nan_pool(budget_pool):
    budget_pool(usd=math.nan)


async def test_acquire_too_much(budget_pool):
    pool = budget_pool(usd=0.1, name="p")
    async with pool.acquire(max_usd=1):
        pass


def test_negative_deadline(deadline):
    deadline(seconds=-5)


async def test_raising_handler(event_bus, agent_recording):
    @event_bus.on("x")
    def boom(event):
        raise RuntimeError("handler said no")

    await event_bus.emit("x")


def test_bad_log(decision_log):
    decision_log.record(decision="")
"""


def test_misusing_a_primitive_in_a_test_fails_that_test_with_the_clear_message(rig: Rig) -> None:
    rig.write("tests/test_misuse.py", MISUSING_TESTS)

    result = rig.run("--tb=line")

    result.assert_outcomes(failed=5)
    out = result.stdout.str()
    for words in (
        "ConfigurationError: `usd` must be a finite amount of US dollars, got nan",
        "more than pool 'p' can ever hold",
        "Deadline `seconds` must be non-negative, got -5",
        "RuntimeError: handler said no",
        "`decision` must be a non-empty str",
    ):
        assert words in out, words


def test_a_test_that_would_wait_forever_fails_with_a_clear_error_instead_of_hanging(
    rig: Rig,
) -> None:
    rig.write(
        "tests/test_stall.py",
        """
import asyncio

async def test_waits_forever(agent_recording):
    await asyncio.Event().wait()  # nothing will ever set it
""",
    )

    result = rig.run("--tb=line")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*StallError: agentrig virtual clock stalled at t=0s: nothing is scheduled*"]
    )
    assert result.duration < 30
