"""agentrig's pytest plugin: fixtures, virtual time, snapshots, drift summary and gates.

Registered through the ``pytest11`` entry point ``agentrig = "agentrig.plugin"``. This module
is the entry point only: ``pytest_addoption`` and ``pytest_configure``, which builds the
session's :class:`~agentrig.plugin.settings.Settings` once and registers one plugin object per
feature, as pytest's own ``cacheprovider`` registers ``LFPlugin`` and ``NFPlugin``:

=========================  ======================  ================================================
registered as              module                  what it does
=========================  ======================  ================================================
``agentrig-session``       :mod:`.snapshots`       what the snapshot extension must know of the run
``agentrig-fixtures``      :mod:`.fixtures`        the fixtures (:data:`AGENTRIG_FIXTURES`)
``agentrig-gates``         :mod:`.gates`           bad settings fail at setup; the cost gate
``agentrig-reports``       :mod:`.reports`         drift summary, JSON report, GitHub annotations
``agentrig-providers``     :mod:`.providers`       the SDK interception and network guard
``agentrig-loop``          :mod:`.loop`            the virtual-time loop for async agentrig tests
``agentrig-run-id``        :mod:`.runid`           the run id received files are stamped with
``agentrig-update-only``   :mod:`.update`          inside ``agentrig update`` only
``agentrig-html``          :mod:`.html`            with ``--agentrig-html`` only
``agentrig-timekeeping``   :mod:`.timekeeping`     seeds and the wall clock
``agentrig-mutate``        :mod:`.mutate`          with ``--agentrig-mutate`` only
``agentrig-cassettes``     :mod:`.cassettes`       the ``llm_cassette`` fixture, recording
``agentrig-otel``          :mod:`.otel`            OpenTelemetry capture, when the SDK is installed
``agentrig-folder-sync``   :mod:`.durability`      one folder fsync per written folder, at the end
=========================  ======================  ================================================

Options, ini keys and the marker are listed once, in :mod:`.settings`. Which tests are agentrig
tests: :mod:`.usage` (agentrig's own fixture definitions or the marker); other tests are
untouched.

Start-up cost. This package imports nothing but pytest and the standard library at import time:
a session without agentrig tests pays for option registration and a few cheap hooks. syrupy glue
(:mod:`agentrig.snapshot`), normalization, drift and the runtime primitives are imported inside
fixtures and hooks, when an agentrig test exists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest

from agentrig.plugin.fixtures import AGENTRIG_FIXTURES
from agentrig.plugin.loop import (
    LoopPlugin,
    StrictModeMarker,
    defer_fixture_loop_scope_warning,
    is_strict_mode,
)
from agentrig.plugin.settings import (
    MARKER_ARGUMENTS,
    MARKER_HELP,
    Settings,
    activate_secret_patterns,
    add_options,
)
from agentrig.plugin.usage import is_agentrig_test, requests_fixture

__all__ = ["AGENTRIG_FIXTURES", "MARKER_ARGUMENTS", "is_agentrig_test", "requests_fixture"]

_SECRETS = pytest.StashKey[AbstractContextManager[Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    # Before any plugin's pytest_configure (pytest-asyncio warns in its own).
    defer_fixture_loop_scope_warning(config)


def pytest_configure(config: pytest.Config) -> None:
    from agentrig._ci import ci_enabled
    from agentrig.plugin import cassettes, fixtures, update
    from agentrig.plugin.gates import GatesPlugin
    from agentrig.plugin.providers import ProvidersPlugin
    from agentrig.plugin.reports import ReportsPlugin
    from agentrig.plugin.runid import RunIdPlugin
    from agentrig.plugin.snapshots import SnapshotSession
    from agentrig.plugin.timekeeping import TimekeepingPlugin

    config.addinivalue_line("markers", MARKER_HELP)
    settings = Settings.from_config(config)  # a bad session-wide value stops the session here
    config.stash[_SECRETS] = activate_secret_patterns(config)
    register = config.pluginmanager.register
    snapshots = SnapshotSession(settings)
    register(snapshots, "agentrig-session")
    register(fixtures, "agentrig-fixtures")
    register(GatesPlugin(), "agentrig-gates")
    register(ReportsPlugin(settings, snapshots), "agentrig-reports")
    register(ProvidersPlugin(config, is_agentrig_test), "agentrig-providers")
    loop_plugin = LoopPlugin(
        _virtual_loop_factory(settings.stall_timeout), reuse=settings.loop_reuse
    )
    register(loop_plugin, "agentrig-loop")
    register(RunIdPlugin(config), "agentrig-run-id")
    update.register(config)
    if config.option.agentrig_html:
        from agentrig.plugin.html import HtmlIndexPlugin

        register(HtmlIndexPlugin(config, config.option.agentrig_html), "agentrig-html")
    register(TimekeepingPlugin(config, is_agentrig_test), "agentrig-timekeeping")
    if config.getoption("agentrig_mutate", False):
        from agentrig.plugin.mutate import MutatePlugin, MutateSettings

        register(MutatePlugin(config, MutateSettings(config)), "agentrig-mutate")
    if config.pluginmanager.hasplugin("asyncio") and is_strict_mode(config):
        register(StrictModeMarker(), "agentrig-strict-mode")
    cassettes.check_options(config, ci=ci_enabled())
    register(cassettes.CassettePlugin(config), "agentrig-cassettes")
    if _otel_importable():
        from agentrig.plugin.otel import OtelPlugin

        register(OtelPlugin(config), "agentrig-otel")
    from agentrig.plugin.durability import FolderSyncPlugin

    register(FolderSyncPlugin(), "agentrig-folder-sync")  # last: nothing after it can fail


def pytest_unconfigure(config: pytest.Config) -> None:
    from agentrig.plugin.snapshots import SnapshotSession

    session = config.stash.get(SnapshotSession.KEY, None)
    if session is not None:
        session.close()
    secrets = config.stash.get(_SECRETS, None)
    if secrets is not None:
        secrets.__exit__(None, None, None)
        del config.stash[_SECRETS]


def _otel_importable() -> bool:
    """Whether opentelemetry-sdk is installed (found without importing it)."""
    import importlib.util

    try:
        return importlib.util.find_spec("opentelemetry.sdk") is not None
    except ImportError:  # no ``opentelemetry`` package at all
        return False


def _virtual_loop_factory(stall_timeout: float) -> Callable[[], asyncio.AbstractEventLoop]:
    """Makes agentrig's virtual-time loop with this session's stall timeout (imported lazily)."""

    def make() -> asyncio.AbstractEventLoop:
        from agentrig.clock import VirtualEventLoop

        return VirtualEventLoop(stall_timeout=stall_timeout)

    return make
