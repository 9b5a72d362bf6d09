"""The provider SDKs under pytest: the fake answers, the guard refuses, problems fail the test.

* ``fake_model``: when the fixture's value is set up (whichever definition supplied it: the
  plugin's own or a project's override returning a FakeModel), a
  :class:`~agentrig.providers.responder.FakeModelResponder` is activated on the seam until the
  fixture is torn down, and placeholder ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY`` values are
  set if absent, so SDK clients can be built inside the test (the key never leaves the
  process: the fake answers every request it would authenticate).
* The network guard is active for the whole run protocol (setup, call, teardown) of every
  agentrig test; other tests are untouched and nothing is patched for them. (One guard stays
  active across consecutive agentrig tests -- ``nextitem`` says whether the next one is -- so
  the transports are not patched and restored per test.)
* After the test body, problems reported to the seam (a blocked provider call, a script
  mismatch, an unsupported endpoint) fail the test with their messages, even if the app
  swallowed the SDK's exception.

Hooks used: ``pytest_fixture_setup`` (public) and ``FixtureDef.addfinalizer`` (public) to tie
the responder's lifetime to the fixture's, ``pytest_runtest_protocol`` and
``pytest_runtest_call`` wrappers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from contextlib import ExitStack
from typing import Any, Final

import pytest

__all__ = ["PLACEHOLDER_KEYS", "ProvidersPlugin"]

#: Set while fake_model is active, when the variable is absent.
PLACEHOLDER_KEYS: Final = {
    "OPENAI_API_KEY": "agentrig-placeholder-key",
    "ANTHROPIC_API_KEY": "agentrig-placeholder-key",
}


class ProvidersPlugin:
    """Registered by ``pytest_configure`` as ``agentrig-providers``."""

    def __init__(self, config: pytest.Config, uses_agentrig: Callable[[pytest.Item], bool]):
        self._uses_agentrig = uses_agentrig
        self._extra_hosts = tuple(
            str(h).strip() for h in config.getini("agentrig_provider_hosts") if str(h).strip()
        )
        # The guard of a run of consecutive agentrig tests: activated (the transports patched)
        # by the first, deactivated after the last one, before any other test runs.
        self._guard: Any = None
        self._guard_active: ExitStack | None = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        if not self._uses_agentrig(item):
            return (yield)
        from agentrig.providers import intercept

        self._activate_guard(item.nodeid)
        keep = False
        try:
            result = yield
            keep = nextitem is not None and self._uses_agentrig(nextitem)
            return result
        finally:
            intercept.problems(clear=True)  # nothing of this test reaches the next one
            if not keep:
                self._deactivate_guard()

    def pytest_sessionfinish(self) -> None:
        self._deactivate_guard()

    def _activate_guard(self, where: str) -> None:
        if self._guard_active is not None:
            self._guard.where = where  # the next test of the run: name it in the message
            return
        from agentrig.providers import intercept
        from agentrig.providers.guard import NetworkGuard

        self._guard = NetworkGuard(extra=self._extra_hosts, where=where)
        stack = ExitStack()
        stack.enter_context(intercept.activate(self._guard, priority=intercept.PRIORITY_GUARD))
        self._guard_active = stack

    def _deactivate_guard(self) -> None:
        stack, self._guard_active = self._guard_active, None
        if stack is not None:
            stack.close()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        if not self._uses_agentrig(item):
            return (yield)
        from agentrig.providers import intercept

        try:
            result = yield
        except BaseException as exc:
            found = intercept.problems(clear=True)
            if found and not isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise _problem_failure(found) from exc
            raise
        found = intercept.problems(clear=True)
        if found:
            raise _problem_failure(found)
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, object, object]:
        result = yield
        if fixturedef.argname != "fake_model":
            return result
        from agentrig.fake import FakeModel

        if not isinstance(result, FakeModel):
            return result
        from agentrig.providers import intercept
        from agentrig.providers.responder import FakeModelResponder

        stack = ExitStack()
        for name, value in PLACEHOLDER_KEYS.items():
            if not os.environ.get(name):
                os.environ[name] = value
                stack.callback(os.environ.pop, name, None)
        stack.enter_context(
            intercept.activate(FakeModelResponder(result), priority=intercept.PRIORITY_FAKE)
        )
        fixturedef.addfinalizer(stack.close)
        return result


def _problem_failure(found: list[BaseException]) -> BaseException:
    lines = [f"{type(p).__name__}: {p}" for p in found]
    return pytest.fail.Exception(
        "agentrig: the model calls of this test went wrong (the SDK may have hidden it behind"
        " a connection error):\n" + "\n".join(lines),
        pytrace=False,
    )
