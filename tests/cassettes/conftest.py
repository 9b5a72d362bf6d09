"""Inner pytest sessions run as a developer's would; a real LLM-compatible server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# In-process pytester runs drop the modules a run imported for the first time, while the
# package namespace keeps the names it resolved lazily (``agentrig.BudgetPool``): a later inner
# session would then see two copies of a module's context variables (the ambient stage, the
# active recording). Keep them imported for every inner session (as tests/plugin/conftest.py).
import agentrig.budget
import agentrig.recording  # noqa: F401


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    yield
