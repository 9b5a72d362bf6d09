"""Helpers for the reliability suite: a throw-away agentrig project driven through pytester.

Every helper that looks at output checks the two promises each bad input must keep: no
``INTERNALERROR`` (agentrig never crashes pytest) and no memory address (``0x7f...``) that
would make a message differ from run to run.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
{extra}
"""

#: In-process runs skip plugins that only cost time here (hypothesis' own pytest plugin,
#: randomization, the cache).
FAST = ("-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:hypothesispytest")

ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{6,}")


def assert_clean(text: str) -> None:
    """No INTERNALERROR and no memory address anywhere in ``text``."""
    assert "INTERNALERROR" not in text, text[-3000:]
    found = ADDRESS_RE.findall(text)
    assert not found, f"memory addresses in output: {found[:5]}"


class Rig:
    """A pytester project with agentrig's ini options and helpers to run and inspect it."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.path: Path = pytester.path
        self.configure()

    def configure(self, extra: str = "") -> None:
        if "agentrig_stall_timeout" not in extra:
            extra = f"agentrig_stall_timeout = 0.2\n{extra}"
        self.pytester.makeini(INI.format(extra=extra))

    def write(self, relpath: str, source: str) -> Path:
        path = self.path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
        return path

    def run(self, *args: str) -> pytest.RunResult:
        """An in-process pytest session; its whole output is checked with :func:`assert_clean`."""
        result = self.pytester.runpytest(*FAST, *args)
        assert_clean(result.stdout.str() + result.stderr.str())
        return result

    def run_subprocess(self, *args: str, timeout: float = 60) -> pytest.RunResult:
        result = self.pytester.runpytest_subprocess(*FAST, *args, timeout=timeout)
        assert_clean(result.stdout.str() + result.stderr.str())
        return result

    @property
    def snapshots(self) -> Path:
        return self.path / "snapshots"

    def snapshot(self, relpath: str) -> Path:
        return self.snapshots / relpath

    def files(self, root: Path | None = None) -> dict[str, bytes]:
        """Every file under ``root`` (default: the snapshot folder) by relative POSIX path."""
        base = root or self.snapshots
        if not base.exists():
            return {}
        return {
            p.relative_to(base).as_posix(): p.read_bytes()
            for p in sorted(base.rglob("*"))
            if p.is_file()
        }


UNUSED_RE = re.compile(r"snapshots? unused|unused snapshots? deleted|Deleted ")


def assert_nothing_unused(result: pytest.RunResult) -> None:
    """syrupy reported no snapshot unused and deleted none."""
    found = UNUSED_RE.findall(result.stdout.str())
    assert not found, result.stdout.str()[-2000:]


def python() -> str:
    return sys.executable


def lines_matching(text: str, needles: Iterable[str]) -> list[str]:
    return [line for line in text.splitlines() if any(n in line for n in needles)]
