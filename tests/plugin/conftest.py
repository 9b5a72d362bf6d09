"""Fixtures for driving real pytest sessions of a small agent project through ``pytester``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agentrig_project import Project

# In-process pytester runs drop the modules a run imported for the first time; an inner test's
# ``agentrig.active_recording`` (cached in the package namespace) would then read another
# copy of the module's context variable than the plugin's fixtures set. Import it up front.
import agentrig.recording  # noqa: F401  (kept in sys.modules for every inner session)


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The inner sessions run as a developer's would, whatever runs this suite."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    # When this suite itself runs under xdist, the inner sessions are not workers (syrupy
    # reads this variable to decide).
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def project(pytester: pytest.Pytester) -> Project:
    return Project(pytester)


@pytest.fixture
def recorded(project: Project) -> Project:
    """The app, recorded once with ``--snapshot-update``."""
    project.write_app()
    result = project.run("--snapshot-update")
    result.assert_outcomes(passed=5)
    return project
