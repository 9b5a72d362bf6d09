"""Reports: the terminal's drift summary, ``--agentrig-report`` JSON, GitHub annotations, and
the outcome file ``agentrig update`` reads.

Per-test results (snapshot outcomes, spend, a cost gate) travel on the ``TestReport`` as the
attribute ``agentrig``: pytest-xdist serializes report attributes to the controller, so the
terminal summary and ``--agentrig-report`` merge all workers through one code path (and a
crashed worker loses nothing it had already reported). Only agentrig tests' reports carry it:
the hooks return at once for every other test and phase.

Every string that reaches an output channel is redacted (built-in secret patterns and the
session's ``agentrig_secret_patterns``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from agentrig.plugin.fixtures import RECORDING
from agentrig.plugin.gates import GATE, spend
from agentrig.plugin.settings import Settings
from agentrig.plugin.snapshots import SnapshotSession
from agentrig.plugin.update import OUTCOMES_ENV

__all__ = ["ReportsPlugin"]


class _Result:
    """What the controller knows about one agentrig test (from its reports)."""

    __slots__ = ("gate", "line", "nodeid", "outcome", "path", "snapshots", "spend")

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.outcome = "passed"
        self.snapshots: list[dict[str, Any]] = []
        self.spend: dict[str, Any] | None = None
        self.gate: str | None = None
        self.path: str | None = None  # the test file, relative to the rootdir
        self.line: int | None = None  # the test's line, 1-based


class ReportsPlugin:
    """Carries each agentrig test's results to the controller and reports them there."""

    def __init__(self, settings: Settings, snapshots: SnapshotSession) -> None:
        self.settings = settings
        self.snapshots = snapshots
        self.results: dict[str, _Result] = {}
        self.report_error: str | None = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when != "call":
            return report
        recording = item.stash.get(RECORDING, None)
        if recording is None:
            return report
        from agentrig.snapshot import OUTCOMES_KEY

        outcomes = item.stash.get(OUTCOMES_KEY, [])
        path, lineno, _ = item.location
        payload: dict[str, Any] = {
            "path": path,
            "line": lineno + 1 if isinstance(lineno, int) else None,
            "snapshots": [o.to_json() for o in outcomes],
        }
        gate = item.stash.get(GATE, None)
        if gate is not None:
            payload["gate"] = gate
        if gate is not None or any(o.status != "passed" for o in outcomes):
            # Only a test the JSON report lists shows its spend: the passing majority does
            # not pay for summing it.
            usd, tokens = spend(recording)
            payload["spend"] = {"usd": float(usd), "tokens": tokens}
        report.agentrig = payload  # type: ignore[attr-defined]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        payload = getattr(report, "agentrig", None)
        if not isinstance(payload, dict) or self.settings.is_worker:
            return  # (a worker: the controller gets this report, with its attribute, from xdist)
        result = self.results.setdefault(report.nodeid, _Result(report.nodeid))
        result.outcome = report.outcome
        result.snapshots = list(payload.get("snapshots") or [])
        result.spend = payload.get("spend")
        result.gate = payload.get("gate")
        result.path = payload.get("path")
        result.line = payload.get("line")

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(
        self, session: pytest.Session, exitstatus: int
    ) -> Generator[None, object, object]:
        result = yield
        if not self.settings.is_worker:
            self._finish(session)  # after every other plugin's hook (and the workers')
        return result

    def _finish(self, session: pytest.Session) -> None:
        _write_update_outcomes(self.results)
        path = self.settings.report_path
        if not path:
            return
        try:
            _write_json_report(
                self.results,
                self.snapshots.update_refused,
                self.settings.invocation_dir / path,
            )
        except OSError as exc:
            # Not an INTERNALERROR: the summary says what failed (pytest prints it after this
            # hook), and a CI that wants the report fails.
            self.report_error = (
                f"agentrig: cannot write --agentrig-report {path}: {exc.strerror or exc}; "
                "free disk space or choose a writable path"
            )
            if not session.exitstatus:
                session.exitstatus = pytest.ExitCode.USAGE_ERROR

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        if self.settings.is_worker:
            return
        lines = _summary_lines(self.results, self.snapshots.update_refused)
        if self.report_error:
            lines.append((self.report_error, {"red": True}))
        if not lines:
            return
        terminalreporter.write_sep("-", "agentrig drift summary")
        for line, markup in lines:
            terminalreporter.write_line(line, **markup)
        if os.environ.get("GITHUB_ACTIONS", "").strip().lower() == "true":
            for annotation in _github_annotations(self.results, self.settings.rootdir):
                terminalreporter.write_line(annotation)


_STATUS_LABEL = {
    "drift": "DRIFT",
    "missing": "MISSING",
    "error": "ERROR",
    "tolerated": "tolerated",
    "created": "created",
    "updated": "updated",
}


def _classes(counts: dict[str, Any]) -> str:
    return ", ".join(f"{cls} {n}" for cls, n in sorted(counts.items()))


def _write_update_outcomes(results: dict[str, _Result]) -> None:
    target = os.environ.get(OUTCOMES_ENV)
    if not target:
        return
    import json

    from agentrig.snapshot import atomic_write

    rows = [
        {"nodeid": nodeid, "snapshot": snap.get("snapshot"), "status": snap.get("status")}
        for nodeid in sorted(results)
        for snap in results[nodeid].snapshots
    ]
    with contextlib.suppress(OSError):
        atomic_write(Path(target), json.dumps(rows, sort_keys=True).encode("utf-8"))


def _roots_detail(snap: dict[str, Any]) -> str:
    """``root text 1 (+21 consequences)``; older payloads without roots show leaf counts."""
    roots = snap.get("root_counts")
    if not roots:
        return _classes(snap.get("counts") or {})
    detail = f"roots: {_classes(roots)}"
    folded = int(snap.get("consequences") or 0)
    if folded:
        detail += f" (+{folded} consequence{'s' if folded != 1 else ''})"
    return detail


def _redacted(text: str) -> str:
    """``text`` as every output channel writes it: secrets (built-in and the session's
    ``agentrig_secret_patterns``) redacted, lone surrogates (a non-UTF-8 file name) replaced."""
    from agentrig._secrets import redact_secrets

    if not text.isascii():
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return redact_secrets(text)


def _redacted_tree(value: Any) -> Any:
    """:func:`_redacted` applied to every string (keys too) of JSON data."""
    if isinstance(value, str):
        return _redacted(value)
    if isinstance(value, dict):
        return {_redacted_tree(k): _redacted_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted_tree(v) for v in value]
    return value


def _summary_lines(
    results: dict[str, _Result], update_refused: str | None
) -> list[tuple[str, dict[str, bool]]]:
    lines: list[tuple[str, dict[str, bool]]] = []
    totals: dict[str, int] = {}
    failing = 0
    for nodeid in sorted(results):
        result = results[nodeid]
        for snap in result.snapshots:
            status = str(snap.get("status"))
            if status in ("passed", "created") or (
                status == "updated" and os.environ.get(OUTCOMES_ENV)
            ):
                # (under `agentrig update`, which lists each updated snapshot itself, once)
                if status != "passed":
                    totals[status] = totals.get(status, 0) + 1
                continue
            totals[status] = totals.get(status, 0) + 1
            label = _STATUS_LABEL.get(status, status)
            detail = _roots_detail(snap)
            if status == "drift":
                failing += 1
                fail_classes = ", ".join(snap.get("failing") or {})
                if fail_classes:
                    detail += f" (failing: {fail_classes})"
            elif status in ("missing", "error"):
                failing += 1
                detail = snap.get("error") or ("never recorded" if status == "missing" else "")
            line = f"{label:<9} {nodeid}  {snap.get('snapshot')}"
            if detail:
                line += f"  {detail}"
            markup = {"red": True} if status in ("drift", "missing", "error") else {}
            lines.append((_redacted(line), markup))
        if result.gate:
            totals["over budget"] = totals.get("over budget", 0) + 1
            lines.append((_redacted(f"{'BUDGET':<9} {nodeid}  {result.gate}"), {"red": True}))
    if update_refused:
        lines.append((update_refused, {"yellow": True}))
    if totals:
        parts = [f"{n} {status}" for status, n in sorted(totals.items())]
        lines.append((f"agentrig: {', '.join(parts)}", {"bold": True}))
    return lines


_ANNOTATION_TITLES = {
    "drift": "agentrig drift",
    "missing": "agentrig missing snapshot",
    "error": "agentrig unusable snapshot",
}


def _github_annotations(results: dict[str, _Result], rootdir: Path) -> list[str]:
    """GitHub Actions workflow commands putting each failing test's drift on its line."""
    from agentrig._ci import github_annotation

    root = os.environ.get("GITHUB_WORKSPACE") or str(rootdir)
    commands: list[str] = []
    for nodeid in sorted(results):
        result = results[nodeid]
        if result.path is None:
            continue
        path = rootdir / result.path
        name = nodeid.rpartition("::")[2]
        for snap in result.snapshots:
            title = _ANNOTATION_TITLES.get(str(snap.get("status")))
            if title is None:
                continue
            message = f"{snap.get('snapshot')}\n{snap.get('report') or snap.get('error') or ''}"
            commands.append(
                github_annotation(
                    path,
                    result.line,
                    _redacted(f"{title}: {name}"),
                    _redacted(message.strip()),
                    root=root,
                )
            )
        if result.gate:
            commands.append(
                github_annotation(
                    path, result.line, f"agentrig cost gate: {name}", result.gate, root=root
                )
            )
    return commands


def _write_json_report(results: dict[str, _Result], update_refused: str | None, path: Path) -> None:
    import json

    tests: list[dict[str, Any]] = []
    summary: dict[str, Any] = {
        "tests": len(results),
        "drift": 0,
        "missing": 0,
        "error": 0,
        "tolerated": 0,
        "created": 0,
        "updated": 0,
        "over_budget": 0,
        "classes": {},
    }
    classes: dict[str, int] = summary["classes"]
    for nodeid in sorted(results):
        result = results[nodeid]
        interesting = [s for s in result.snapshots if s.get("status") != "passed"]
        for snap in interesting:
            status = str(snap.get("status"))
            summary[status] = int(summary.get(status, 0)) + 1
            for cls, n in (snap.get("counts") or {}).items():
                classes[cls] = classes.get(cls, 0) + int(n)
        if result.gate:
            summary["over_budget"] += 1
        if interesting or result.gate:
            tests.append(
                {
                    "nodeid": nodeid,
                    "path": result.path,
                    "line": result.line,
                    "outcome": result.outcome,
                    "snapshots": interesting,
                    "spend": result.spend,
                    "gate": result.gate,
                }
            )
    summary["classes"] = dict(sorted(classes.items()))
    doc = {
        "agentrig_report": 1,
        "summary": summary,
        "tests": tests,
        "update_refused": update_refused,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(_redacted_tree(doc), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    from agentrig.snapshot import atomic_write

    atomic_write(path, data.encode("utf-8"))
