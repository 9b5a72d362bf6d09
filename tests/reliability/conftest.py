"""Fixtures of the reliability suite: inner pytest sessions run as a developer's would."""

from __future__ import annotations

import pytest
from reliability_kit import Rig


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner sessions record snapshots: not in CI mode, not as xdist workers."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def rig(pytester: pytest.Pytester) -> Rig:
    return Rig(pytester)
