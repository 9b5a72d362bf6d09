"""The OpenTelemetry side of the plugin: capture spans in agentrig tests, export runs as OTLP.

Registered from ``pytest_configure`` only when opentelemetry-sdk is importable; it acts only in
agentrig tests (those that get a recording), and only once ``opentelemetry`` has been imported
(by the code under test or a framework, usually when the test modules are collected): until
then nothing can emit a span, and a session that never uses OpenTelemetry pays nothing.

Before a test's fixtures are set up it makes sure the global provider feeds
:mod:`agentrig.otel`'s processor (adding it to the user's SDK provider, or putting a fallback
provider in place for the test); again when the test body starts, for a provider a fixture set;
after teardown it closes the capture (spans that never ended stay unfinished), takes the
fallback out again and, with ``--agentrig-otlp=DIR``, writes the test's normalized run as
OTLP/JSON, one file per test (whether or not it used OpenTelemetry).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from agentrig.plugin.usage import is_agentrig_test

if TYPE_CHECKING:
    from agentrig.recording import Recording

_CAPTURE = pytest.StashKey["tuple[Recording | None, bool, bool]"]()
_UNSAFE = re.compile(r"[^A-Za-z0-9._\-\[\]=+,]+")


def otlp_path(folder: Path, nodeid: str) -> Path:
    """Where ``--agentrig-otlp`` writes a test's run: its node id as a relative path, made safe."""
    path, _, name = nodeid.partition("::")
    parts = [p for p in Path(path).parts if p not in ("", ".", "..", "/")]
    stem = _UNSAFE.sub("_", name.replace("::", ".")) or "module"
    return folder.joinpath(*parts, f"{stem[:200]}.otlp.json")


class OtelPlugin:
    """Per-test OpenTelemetry capture and the ``--agentrig-otlp`` export."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        out = config.getoption("agentrig_otlp", None)
        self.otlp_dir: Path | None = Path(out).resolve() if out else None
        if self.otlp_dir is not None and self.otlp_dir.exists() and not self.otlp_dir.is_dir():
            raise pytest.UsageError(
                f"--agentrig-otlp={out}: that is a file, not a folder; give a folder to write"
                " one OTLP/JSON file per test into (it is created if missing)"
            )

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        if not is_agentrig_test(item):
            return (yield)
        capture = "opentelemetry.trace" in sys.modules  # else nothing can emit spans yet
        installed = False
        if capture:
            from agentrig import otel

            installed = otel.attach()
        item.stash[_CAPTURE] = (None, capture, installed)
        try:
            return (yield)
        finally:
            from agentrig.recording import active_recording

            # The recording fixture has activated the test's recording by now (or failed).
            item.stash[_CAPTURE] = (active_recording(), capture, installed)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        captured = item.stash.get(_CAPTURE, None)
        if captured is not None and captured[1]:
            from agentrig import otel

            otel.attach()  # a provider set by a fixture gets the processor too
        return (yield)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        try:
            return (yield)
        finally:
            captured = item.stash.get(_CAPTURE, None)
            if captured is not None:
                del item.stash[_CAPTURE]
                self._close(item, *captured)

    def _close(
        self, item: pytest.Item, recording: Recording | None, capture: bool, installed: bool
    ) -> None:
        if capture:
            from agentrig import otel

            if recording is not None:
                otel.processor().finish(recording)
            if installed:
                otel.detach_fallback()
        if recording is not None and self.otlp_dir is not None:
            self._export(item, recording)

    def _export(self, item: pytest.Item, recording: Recording) -> None:
        from agentrig.normalize import normalize
        from agentrig.otlp import dumps_otlp
        from agentrig.plugin.settings import TestSettings
        from agentrig.snapshot import atomic_write

        assert self.otlp_dir is not None
        doc = normalize(recording, rules=TestSettings.of(item).rules)
        path = otlp_path(self.otlp_dir, item.nodeid)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, dumps_otlp(doc))
