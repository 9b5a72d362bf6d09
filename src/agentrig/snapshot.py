"""agentrig's syrupy extension: one normalized, byte-stable JSON file per snapshot.

``assert agent_recording == agent_snapshot`` normalizes the recording
(:func:`agentrig.normalize.normalize`), compares it with the stored document semantically
(:func:`agentrig.drift.compare`) and, on a mismatch, fails with the drift report and writes the
received document beside the snapshot. This is the only module that imports syrupy, and it
holds one concept, the syrupy extension (its session settings, the extension and the
assertion), which is why it is longer than most; the file layout it shares with the CLI is in
:mod:`agentrig.snapshot_files`.

File layout
-----------
Snapshots live under ``<rootdir>/<agentrig_snapshot_dir>/`` (default ``snapshots/``), in a
folder that mirrors the test module's path relative to the rootdir, one file per snapshot::

    snapshots/tests/test_app/test_pipeline.json               tests/test_app.py::test_pipeline
    snapshots/tests/test_app/TestRuns.test_one.json           ...::TestRuns::test_one
    snapshots/tests/test_app/test_model[gpt-4o].json           ...::test_model[gpt-4o]
    snapshots/tests/test_app/test_pipeline[draft].json         agent_snapshot(name="draft")
    snapshots/tests/test_app/test_model[gpt-4o][draft].json     both
    snapshots/tests/test_app/test_pipeline.1.json               a second unnamed assertion
    snapshots/tests/test_app/test_pipeline.received.json        the last mismatch (not a snapshot)

The file stem is also the syrupy snapshot *name*. Named snapshots use syrupy's own convention
(``[name]``) rather than ``.name`` because syrupy relates a snapshot to its test by the leading
Python identifiers of the name (``test_pipeline[draft]`` -> ``test_pipeline``): with
``test_pipeline.draft`` a skipped test's named snapshots would be reported unused and deleted by
``--snapshot-update``, and every write would warn.

Parametrize ids and names are made filesystem-safe: only ``A-Z a-z 0-9 _ - . , = + @ ( )`` are
kept; any other character (``/``, ``\\``, ``[``, ``]``, ``~``, spaces, NUL and other control
characters, non-ASCII) becomes ``_`` and the component gets ``~`` plus 10 hex digits of the
SHA-256 of the original text, so two ids never collide; a component longer than its budget (80
characters for ids, 40 for names, less after a very long test name) is cut and gets the same
hash suffix; a secret in an id or name (``sk-…``, ``password=…``) is redacted the same way,
since file names are committed too. A test name (``Class.function``) longer than 200 UTF-8
bytes is cut and hashed, so that every file name stays within 255 bytes. A stem always starts
with the test function's name, so it can never be ``.`` or ``..``, and since ``/`` never
survives, no name can leave its folder. (Case-insensitive file systems would still see
``test[A]`` and ``test[a]`` as one file; pick ids that differ by more than case there.)

Implementation notes
--------------------
* **Linear discovery and matching.** syrupy's single-file extensions match every snapshot name
  against every test location (quadratic in parametrized tests, ``Path.resolve`` per pair).
  Here, :meth:`AgentrigSnapshotExtension.discovery_dirname` is the snapshot root for every
  test, so syrupy discovers once per session: one ``os.walk`` that skips folders whose test
  module exists on disk but was not collected (``--ignore``, a path argument naming another
  file), so their snapshots are never "unused". Locations are cached per test file and per
  node id, and :meth:`~AgentrigSnapshotExtension.matches_test_location` is a few string
  comparisons. It keeps syrupy's semantics: a non-parametrized test relates to its module's
  folder, a parametrized one only to its own stem (so ``pytest tests/x.py::test[1]`` does not
  report ``test[2]`` unused, although our folders are not below the test's folder).
* **Atomic, byte-stable writes.** Documents are written by :func:`agentrig.document.dumps`
  (sorted keys, 2-space indent, UTF-8, trailing newline) to a temporary file in the same
  folder, fsynced, then ``os.replace``-d over the snapshot: a reader (another xdist worker, an
  interrupted run) sees the old file or the new one, never half of one. A failed write (disk
  full, permission denied) leaves the old file and fails the test with a ``SnapshotError``;
  a killed writer can only leave a hidden ``.<name>.<pid>.<hex>.tmp`` file behind.
* **Careful deletion.** Unused-snapshot clean-up deletes only files that start with the
  agentrig header, never a snapshot of a test that was skipped this session (syrupy cannot
  relate a name cut for length to its test), and folders owned by no test module are searched
  for agentrig files only: a snapshot folder that also holds test data loses nothing. Only a
  test that *finished* (no failed phase) can have unused snapshots: a fixture error or a
  failure before an assertion says nothing about them, a module that failed to import keeps
  all of its, and a session that stopped early (``-x``, ``--maxfail``, Ctrl-C) deletes only
  snapshots of tests it saw finish (syrupy would delete the snapshots of every test it never
  ran). :meth:`SnapshotSettings.may_delete` is that rule; discovery applies it too, so a plain
  run does not report such snapshots unused either.
* **Failure messages.** syrupy's ``pytest_assertrepr_compare`` diff shows only the first
  changed lines, and pytest truncates assertion explanations. The assertion therefore raises
  ``AssertionError`` carrying agentrig's whole drift report (exception messages are never
  truncated) instead of returning ``False``.
* **syrupy private API** is used in exactly one place, :func:`syrupy_session`, which reads
  ``config._syrupy`` (syrupy's per-session ``SnapshotSession``, stable since syrupy 1.0), so
  that the assertion joins syrupy's session (writes, ``--snapshot-update``, unused detection,
  xdist report merging) without also registering a default amber assertion. Everything else
  uses syrupy's documented extension hooks and ``SnapshotAssertion``'s public surface.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest
from syrupy.assertion import AssertionResult, DiffMode, SnapshotAssertion
from syrupy.data import Snapshot, SnapshotCollection, SnapshotCollections
from syrupy.extensions.base import AbstractSyrupyExtension
from syrupy.location import PyTestLocation

from agentrig._errors import SnapshotError
from agentrig._files import NotARegularFile, read_regular_file
from agentrig._secrets import redact_secrets
from agentrig.mutate.hook import mutating
from agentrig.snapshot_files import (
    EXTERNAL_DIR,
    RECEIVED_KEY,
    RECEIVED_SUFFIX,
    SNAPSHOT_SUFFIX,
    atomic_write,
    base_candidates,
    file_stem,
    html_path,
    is_agentrig_file,
    is_cut_for_length,
    is_snapshot_file,
    module_folder,
    nodeid_parts,
    owned_by,
    prune_empty_dirs,
    received_path,
    safe_component,
)

if TYPE_CHECKING:
    from syrupy.session import SnapshotSession
    from syrupy.types import (
        PropertyFilter,
        PropertyMatcher,
        SerializableData,
        SerializedData,
        SnapshotIndex,
    )

    from agentrig.drift import DriftConfig, DriftReport
    from agentrig.normalize import NormalizeRules

__all__ = [
    "OUTCOMES_KEY",
    "RECEIVED_SUFFIX",
    "SNAPSHOT_SUFFIX",
    "AgentrigSnapshotAssertion",
    "AgentrigSnapshotExtension",
    "AssertionOptions",
    "SnapshotOutcome",
    "SnapshotSettings",
    "activate_settings",
    "atomic_write",
    "current_settings",
    "is_snapshot_file",
    "received_path",
    "safe_component",
    "snapshot_stem",
    "syrupy_session",
]


# -- session settings -----------------------------------------------------------------------------


@dataclass
class SnapshotSettings:
    """Where this session's snapshots live and what it may do to them.

    The plugin activates one per pytest session (:func:`activate_settings`); syrupy builds
    extensions without arguments (also on the xdist controller, from a class path), so they
    read their settings from here.

    Args:
        rootdir: pytest's rootdir; test module paths are mirrored relative to it.
        snapshot_root: the folder snapshots live in (``<rootdir>/snapshots`` by default).
        invocation_dir: where pytest was started (for commands and paths shown to the user).
        write_refusal: when set, snapshot files may not be created, rewritten or deleted, and
            this says why (the CI gate).
    """

    rootdir: Path
    snapshot_root: Path
    invocation_dir: Path
    write_refusal: str | None = None
    #: Test module paths (``str(path)``) pytest collected this session.
    collected_modules: set[str] = field(default_factory=set)
    #: Snapshot folders of modules collected only in part (``file.py::test`` arguments) ->
    #: the base stems of the tests collected from them.
    partial: dict[str, set[str]] = field(default_factory=dict)
    #: Snapshot folder -> base stems of tests collected but deselected (``-k``, ``-m``,
    #: ``--deselect``, ``--lf``): their snapshots are not this session's business.
    deselected: dict[str, set[str]] = field(default_factory=dict)
    #: Snapshot folder -> base stems of the agentrig tests that ran (reported) this session.
    ran: dict[str, set[str]] = field(default_factory=dict)
    #: Node ids of the tests reported skipped (or xfailed) this session: their snapshots are
    #: kept, also where syrupy cannot relate a name to its test (a name cut for length).
    skipped: set[str] = field(default_factory=set)
    #: Node ids of the tests with a failed phase (setup, call or teardown) this session, and of
    #: those whose teardown was reported with no failure: only a test that finished can have
    #: unused snapshots.
    unfinished: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)
    #: Test module paths whose collection failed (an import error): their snapshots are kept.
    broken_modules: set[str] = field(default_factory=set)
    #: The session stopped before running every selected test (``-x``, ``--maxfail``, Ctrl-C):
    #: then only the snapshots of tests that finished can be unused.
    stopped_early: bool = False
    _dirs: dict[str, str] = field(default_factory=dict, repr=False)
    _locations: dict[tuple[str, SnapshotIndex], str] = field(default_factory=dict, repr=False)
    _bases: dict[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    def module_dir(self, module_path: str) -> str:
        """The snapshot folder of the test module at ``module_path`` (an absolute path)."""
        cached = self._dirs.get(module_path)
        if cached is not None:
            return cached
        folder = module_folder(self.rootdir, self.snapshot_root, module_path)
        result = str(folder)
        self._dirs[module_path] = result
        return result

    def folder_and_base(self, nodeid: str) -> tuple[str, str]:
        """The snapshot folder and base stem of the test ``nodeid`` (cached)."""
        cached = self._bases.get(nodeid)
        if cached is None:
            file_part, head, param = nodeid_parts(nodeid)
            module = os.path.normpath(self.rootdir / file_part)
            cached = (self.module_dir(module), file_stem(head, param, 0))
            self._bases[nodeid] = cached
        return cached

    def skipped_bases(self) -> dict[str, set[str]]:
        """Snapshot folder -> base stems of the tests reported skipped this session."""
        out: dict[str, set[str]] = {}
        for nodeid in self.skipped:
            folder, base = self.folder_and_base(nodeid)
            out.setdefault(folder, set()).add(base)
        return out

    def keeps(self) -> tuple[dict[str, set[str]], dict[str, set[str]] | None, set[str]]:
        """What unused-snapshot clean-up must leave alone, whatever syrupy concludes.

        Returns the base stems of tests that did not finish (by folder), the base stems of
        tests that did when the session stopped early (None when it ran to the end: then a
        snapshot no test owns is an orphan), and the folders of modules that failed to import.
        """
        unfinished: dict[str, set[str]] = {}
        for nodeid in self.unfinished:
            folder, base = self.folder_and_base(nodeid)
            unfinished.setdefault(folder, set()).add(base)
        finished: dict[str, set[str]] | None = None
        if self.stopped_early:
            finished = {}
            for nodeid in self.finished - self.unfinished:
                folder, base = self.folder_and_base(nodeid)
                finished.setdefault(folder, set()).add(base)
        broken = {self.module_dir(m) for m in self.broken_modules}
        return unfinished, finished, broken

    def in_broken_module(self, folder: str, broken: set[str]) -> bool:
        """True when ``folder`` belongs to a module (or a folder of them) that failed to import."""
        return any(folder == b or folder.startswith(b + os.sep) for b in broken)

    def may_delete(self, folder: str, stem: str) -> bool:
        """True when the snapshot ``stem`` in ``folder`` may be reported unused or deleted."""
        unfinished, finished, broken = self.keeps()
        if self.in_broken_module(folder, broken) or owned_by(stem, unfinished.get(folder)):
            return False
        return finished is None or owned_by(stem, finished.get(folder))

    def note(self, kind: Literal["partial", "deselected", "ran"], nodeid: str) -> None:
        """Record a test as collected in a partial module, deselected, or run."""
        folder, base = self.folder_and_base(nodeid)
        getattr(self, kind).setdefault(folder, set()).add(base)

    def display(self, path: str | os.PathLike[str]) -> str:
        """``path`` as shown to the user: relative to where pytest was started, if inside it."""
        if isinstance(path, str) and os.sep == "/":  # the common case, without Path objects
            base = str(self.invocation_dir).rstrip("/") + "/"
            rest = path[len(base) :]
            if path.startswith(base) and all(part not in ("", ".") for part in rest.split("/")):
                return rest  # what relative_to(...).as_posix() gives
        p = Path(path)
        with suppress(ValueError):
            return p.relative_to(self.invocation_dir).as_posix()
        return str(p)

    def record_command(self, nodeid: str) -> str:
        """The shell command that records the snapshots of the test ``nodeid``."""
        file_part, sep, rest = nodeid.partition("::")
        target = self.rootdir / file_part
        shown = self.display(target) if file_part else file_part
        return f"pytest {shlex.quote(shown + sep + rest)} --snapshot-update"


_settings_stack: list[SnapshotSettings] = []
_settings_lock = threading.Lock()


@contextmanager
def activate_settings(settings: SnapshotSettings) -> Iterator[SnapshotSettings]:
    """Make ``settings`` current for the ``with`` block (sessions nest under ``pytester``)."""
    with _settings_lock:
        _settings_stack.append(settings)
    try:
        yield settings
    finally:
        with _settings_lock:
            for i in range(len(_settings_stack) - 1, -1, -1):
                if _settings_stack[i] is settings:
                    del _settings_stack[i]
                    break


def current_settings() -> SnapshotSettings:
    """The settings of the running session (a fallback rooted at the cwd outside the plugin)."""
    if _settings_stack:
        return _settings_stack[-1]
    cwd = Path.cwd()
    return SnapshotSettings(rootdir=cwd, snapshot_root=cwd / "snapshots", invocation_dir=cwd)


# -- names ----------------------------------------------------------------------------------------


def snapshot_stem(test_location: PyTestLocation, index: SnapshotIndex = 0) -> str:
    """The file stem (and syrupy snapshot name) of assertion ``index`` of a test."""
    _, head, param = nodeid_parts(test_location.nodeid)
    return file_stem(head, param, index)


# -- files ----------------------------------------------------------------------------------------


def _os_problem(exc: OSError, path: str, settings: SnapshotSettings) -> str:
    """An OSError about ``path`` as one phrase: ``No space left on device``, or what is in
    the way (a file where one of its folders must be)."""
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        for parent in reversed(Path(path).parents):
            if parent.exists() and not parent.is_dir():
                return f"{reason} ({settings.display(parent)} is a file where a folder must be)"
    return reason


# -- options and outcomes -------------------------------------------------------------------------


@dataclass(frozen=True)
class AssertionOptions:
    """How one test's snapshot assertions normalize, compare and report.

    Args:
        rules: normalization rules (ini rules merged with the test's marker).
        drift_config: tolerances and failing classes for :func:`agentrig.drift.compare`.
        exact: compare bytes only: any change is a mismatch (``--snapshot-update`` rewrites
            every file that differs, tolerated drift included).
        color: colour the drift report (a terminal that supports it).
        update_refused: why ``--snapshot-update`` was not honoured for this test (CI gate).
        run_id: the session's run id, stamped into received files (``plugin/runid.py``).
        verbose: pytest's verbosity; 2 or more (``-vv``) lists every consequence under its
            root in the failure message.
    """

    rules: NormalizeRules | None = None
    drift_config: DriftConfig | None = None
    exact: bool = False
    color: bool = False
    update_refused: str | None = None
    seed_note: str | None = None  # the test's random seed, when not the default
    verbose: int = 0
    run_id: str | None = None


OutcomeStatus = Literal["passed", "tolerated", "drift", "missing", "error", "created", "updated"]


@dataclass
class SnapshotOutcome:
    """What one snapshot assertion found; JSON-able (it travels from xdist workers)."""

    nodeid: str
    snapshot: str
    name: str
    status: OutcomeStatus
    counts: dict[str, int] = field(default_factory=dict)
    failing: dict[str, int] = field(default_factory=dict)
    #: Root changes per class (what the summary table shows), and how many were folded.
    root_counts: dict[str, int] = field(default_factory=dict)
    consequences: int = 0
    received: str | None = None
    error: str | None = None
    #: The drift report as text (no colour), as the failure shows it.
    report: str | None = None
    #: The HTML timeline written beside the received file (a drift only).
    html: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        # (``dataclasses.asdict`` deep-copies field by field through its generic walker: a
        # measurable share of every passing test's report; the fields are plain JSON here)
        return {
            "nodeid": self.nodeid,
            "snapshot": self.snapshot,
            "name": self.name,
            "status": self.status,
            "counts": dict(self.counts),
            "failing": dict(self.failing),
            "root_counts": dict(self.root_counts),
            "consequences": self.consequences,
            "received": self.received,
            "error": self.error,
            "report": self.report,
            "html": self.html,
            "changes": [dict(change) for change in self.changes],
        }

    @property
    def is_failure(self) -> bool:
        return self.status in ("drift", "missing", "error")


#: Per test item: the outcomes of its snapshot assertions (read by the plugin's report hooks).
OUTCOMES_KEY = pytest.StashKey[list[SnapshotOutcome]]()
_RUN_NOTED = pytest.StashKey[bool]()
#: The top-level key of a received file that says where it came from (``agentrig accept``
#: reads it and strips it before the document becomes a snapshot).
#: pytest's cache key holding the id of the latest session that compared snapshots.
RUN_CACHE_KEY = "agentrig/run"


def _received_payload(data: bytes, location: str, nodeid: str, run_id: str | None) -> bytes:
    """The received document, stamped with its run and the digest of the snapshot it was
    compared against (``None``: there was none)."""

    from agentrig.document import dumps, loads

    try:
        doc = loads(data, source="the received recording")
    except SnapshotError:
        return data
    try:
        digest: str | None = hashlib.sha256(Path(location).read_bytes()).hexdigest()
    except OSError:
        digest = None
    test = nodeid.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    doc[RECEIVED_KEY] = {"run": run_id, "snapshot_sha256": digest, "test": redact_secrets(test)}
    try:
        return dumps(doc)
    except (TypeError, ValueError):
        return data


def _note_run(config: pytest.Config, run_id: str | None) -> None:
    """Tell ``agentrig accept`` which session compared snapshots last: pytest's cache key
    ``agentrig/run`` (``.pytest_cache/v/agentrig/run``), once per session and worker. Without
    a cache (``-p no:cacheprovider``) accept takes the newest run stamped in the files."""
    if run_id is None or config.stash.get(_RUN_NOTED, False):
        return
    config.stash[_RUN_NOTED] = True
    cache = getattr(config, "cache", None)
    if cache is not None:
        with suppress(OSError):
            cache.set(RUN_CACHE_KEY, run_id)


def _counts(report: DriftReport, *, failing: bool) -> dict[str, int]:
    return report.counts(severity="fail") if failing else report.counts()


# -- the extension --------------------------------------------------------------------------------


class AgentrigSnapshotExtension(AbstractSyrupyExtension):
    """Stores each snapshot as one normalized JSON document under the snapshot root.

    Built without arguments by syrupy (and on the xdist controller from its class path); the
    per-test options arrive through :meth:`begin` just before an assertion compares.
    """

    file_extension = "json"
    write_immediately = True

    def __init__(self) -> None:
        self._options = AssertionOptions()
        self._location: str | None = None
        self._report: DriftReport | None = None
        self._compare_error: BaseException | None = None

    # -- one assertion ----------------------------------------------------------------------

    def begin(self, options: AssertionOptions, location: str) -> None:
        """Prepare to compare assertion results for ``location`` under ``options``."""
        self._options = options
        self._location = location
        self._report = None
        self._compare_error = None
        self.last_documents: tuple[dict[str, Any], dict[str, Any]] | None = None

    @property
    def last_report(self) -> DriftReport | None:
        """The drift report of the last comparison that found differences."""
        return self._report

    # -- naming and locations ---------------------------------------------------------------

    @classmethod
    def get_snapshot_name(cls, *, test_location: PyTestLocation, index: SnapshotIndex = 0) -> str:
        location = cls.get_location(test_location=test_location, index=index)
        return os.path.basename(location)[: -len(SNAPSHOT_SUFFIX)]

    @classmethod
    def get_file_basename(cls, *, test_location: PyTestLocation, index: SnapshotIndex) -> str:
        return cls.get_snapshot_name(test_location=test_location, index=index)

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return current_settings().module_dir(test_location.filepath)

    @classmethod
    def discovery_dirname(cls, *, test_location: PyTestLocation) -> str:
        # One folder for every test: syrupy discovers (walks) once per session.
        return str(current_settings().snapshot_root)

    @classmethod
    def get_location(cls, *, test_location: PyTestLocation, index: SnapshotIndex) -> str:
        settings = current_settings()
        key = (test_location.nodeid, index)
        location = settings._locations.get(key)
        if location is None:
            folder = settings.module_dir(test_location.filepath)
            location = os.path.join(folder, snapshot_stem(test_location, index) + SNAPSHOT_SUFFIX)
            settings._locations[key] = location
        return location

    @classmethod
    def matches_test_location(
        cls, *, test_location: PyTestLocation, snapshot_location: str
    ) -> bool:
        folder, filename = os.path.split(snapshot_location)
        settings = current_settings()
        if folder != settings.module_dir(test_location.filepath):
            return False
        if not test_location.is_item_parametrized:
            return True  # syrupy's semantics: the module's folder; names are checked apart
        stem = filename[: -len(SNAPSHOT_SUFFIX)] if filename.endswith(SNAPSHOT_SUFFIX) else ""
        candidates = base_candidates(stem)
        if settings.folder_and_base(test_location.nodeid)[1] in candidates:
            return True
        # The snapshot's own test ran: then syrupy's "does any test that ran relate to this
        # file" is true whichever candidate it asks about, and answering at once makes its
        # scan over every test of the module linear instead of quadratic. Where syrupy also
        # compares names (a ran or skipped test of another function), the names differ.
        ran = settings.ran.get(folder)
        return ran is not None and any(c in ran for c in candidates)

    def is_snapshot_location(self, *, location: str) -> bool:
        return is_snapshot_file(os.path.basename(location))

    def owns_snapshot_collection(self, *, filepath: str, test_location: PyTestLocation) -> bool:
        return self.is_snapshot_location(location=filepath)

    # -- discovery --------------------------------------------------------------------------

    def discover_snapshots(
        self,
        *,
        test_location: PyTestLocation,
        ignore_extensions: list[str] | None = None,
    ) -> SnapshotCollections:
        settings = current_settings()
        root = str(settings.snapshot_root)
        collected = {settings.module_dir(m) for m in settings.collected_modules}
        skipped = settings.skipped_bases()
        unfinished, finished, broken = settings.keeps()
        discovered = SnapshotCollections()
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            names = sorted(f for f in filenames if is_snapshot_file(f))
            if not names:
                continue
            if dirpath not in collected and not self._is_orphan(dirpath, settings):
                continue
            # Only agentrig's own files are snapshots: a test's data file beside them (or a
            # snapshot folder set to `tests`) is never taken for an unused snapshot.
            names = [n for n in names if is_agentrig_file(os.path.join(dirpath, n))]
            # Only some tests of a module collected (``file.py::test``) or some deselected
            # (``-k``, ``-m``, ``--lf``): the other tests' snapshots are not this session's
            # business. syrupy cannot tell from the paths: our folders are not below the
            # test's folder.
            partial = settings.partial.get(dirpath)
            deselected = settings.deselected.get(dirpath)
            if skipped.get(dirpath):  # a skipped test's snapshots are not unused
                names = [
                    n for n in names if not owned_by(n[: -len(SNAPSHOT_SUFFIX)], skipped[dirpath])
                ]
            # A test that did not finish (a fixture error, a failure before its assertion, never
            # run because the session stopped early) or a module that failed to import says
            # nothing about its snapshots: they are not unused.
            if broken and settings.in_broken_module(dirpath, broken):
                continue
            if unfinished.get(dirpath) or finished is not None:
                names = [
                    n
                    for n in names
                    if not owned_by(n[: -len(SNAPSHOT_SUFFIX)], unfinished.get(dirpath))
                    and (
                        finished is None
                        or owned_by(n[: -len(SNAPSHOT_SUFFIX)], finished.get(dirpath))
                    )
                ]
            if partial is not None or deselected:
                names = [
                    n
                    for n in names
                    if (partial is None or owned_by(n[: -len(SNAPSHOT_SUFFIX)], partial))
                    and not owned_by(n[: -len(SNAPSHOT_SUFFIX)], deselected)
                ]
            for filename in names:
                location = os.path.join(dirpath, filename)
                collection = SnapshotCollection(location=location)
                collection.add(Snapshot(name=filename[: -len(SNAPSHOT_SUFFIX)]))
                discovered.add(collection)
        return discovered

    @staticmethod
    def _is_orphan(folder: str, settings: SnapshotSettings) -> bool:
        """True when the test module owning ``folder`` no longer exists (its snapshots are
        unused); False when it exists but was not collected this session (they are not)."""
        rel = Path(folder).relative_to(settings.snapshot_root)
        if not rel.parts or rel.parts[0] == EXTERNAL_DIR:
            return False  # cannot tell where an external module lived: keep its snapshots
        module = settings.rootdir.joinpath(*rel.parts).with_suffix(".py")
        return not module.exists()

    def read_snapshot_collection(self, *, snapshot_location: str) -> SnapshotCollection:
        collection = SnapshotCollection(location=snapshot_location)
        name = os.path.basename(snapshot_location)[: -len(SNAPSHOT_SUFFIX)]
        collection.add(Snapshot(name=name))
        return collection

    # -- reading and writing ----------------------------------------------------------------

    def read_snapshot_data_from_location(
        self, *, snapshot_location: str, snapshot_name: str, session_id: str
    ) -> SerializedData | None:
        try:
            return read_regular_file(snapshot_location)
        except FileNotFoundError:
            return None
        except NotARegularFile:
            shown = current_settings().display(snapshot_location)
            raise SnapshotError(
                f"cannot read snapshot {shown}: it is not a regular file (a FIFO, socket or "
                "device; agentrig never reads from one); move it away, then re-record"
            ) from None
        except IsADirectoryError:
            shown = current_settings().display(snapshot_location)
            raise SnapshotError(
                f"cannot read snapshot {shown}: it is a folder, not a file; move the folder "
                "away (agentrig never deletes it), then re-record"
            ) from None
        except OSError as exc:
            settings = current_settings()
            problem = _os_problem(exc, snapshot_location, settings)
            raise SnapshotError(
                f"cannot read snapshot {settings.display(snapshot_location)}: {problem}; fix its "
                "permissions, or move what is in the way, and re-record"
            ) from None

    @classmethod
    def write_snapshot_collection(
        cls,
        *,
        snapshot_collection: SnapshotCollection,
        name_order: dict[str, int] | None = None,
    ) -> None:
        settings = current_settings()
        location = snapshot_collection.location
        if settings.write_refusal is not None:
            raise SnapshotError(
                f"refusing to write snapshot {settings.display(location)}: {settings.write_refusal}"
            )
        snapshot = next(iter(snapshot_collection), None)
        data = snapshot.data if snapshot is not None else None
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, bytes):
            raise SnapshotError(
                f"bug in agentrig, please report: snapshot data for {location} is "
                f"{type(data).__name__}, not bytes"
            )
        try:
            atomic_write(Path(location), data)
        except OSError as exc:
            raise SnapshotError(
                f"cannot write snapshot {settings.display(location)}: "
                f"{_os_problem(exc, location, settings)}; the file on disk (if any) is "
                "unchanged. Free disk space or make the folder writable, then re-run with "
                "--snapshot-update"
            ) from None
        for stale in (received_path(location), html_path(location)):
            with suppress(FileNotFoundError):
                os.unlink(stale)

    def delete_snapshots(self, *, snapshot_location: str, snapshot_names: set[str]) -> None:
        settings = current_settings()
        if settings.write_refusal is not None:
            return  # the CI gate: leave unused snapshots for a local run to clean up
        if not is_agentrig_file(snapshot_location):
            return  # not a snapshot of ours: never delete a file agentrig did not write
        folder = os.path.dirname(snapshot_location)
        stem = os.path.basename(snapshot_location)[: -len(SNAPSHOT_SUFFIX)]
        if owned_by(stem, settings.skipped_bases().get(folder)):
            return  # its test was skipped this session: not unused
        if not settings.may_delete(folder, stem):
            return  # its test did not finish, or the session stopped early: not unused
        for path in (
            snapshot_location,
            received_path(snapshot_location),
            html_path(snapshot_location),
        ):
            with suppress(FileNotFoundError):
                os.unlink(path)
        prune_empty_dirs(Path(snapshot_location).parent, settings.snapshot_root)

    # -- serializing and comparing ----------------------------------------------------------

    def serialize(
        self,
        data: SerializableData,
        *,
        exclude: PropertyFilter | None = None,
        include: PropertyFilter | None = None,
        matcher: PropertyMatcher | None = None,
    ) -> SerializedData:
        # ``matcher`` is always syrupy's wrapper (it swaps nested assertions for their repr);
        # a recording never holds one, so it is ignored.
        if exclude is not None or include is not None:
            raise TypeError(
                "agent_snapshot does not support syrupy's include=/exclude=; drop or mask "
                "fields with @pytest.mark.agentrig(drop=[...], mask=[...]) or the "
                "agentrig_drop / agentrig_mask ini options"
            )
        from agentrig.document import dumps
        from agentrig.normalize import normalize

        try:
            doc = normalize(data, rules=self._options.rules)
        except TypeError:
            if isinstance(data, dict) or (hasattr(data, "spans") and hasattr(data, "entries")):
                raise  # a recording after all: the error is about something in it
            raise TypeError(
                "agent_snapshot compares agentrig recordings: use "
                "`assert agent_recording == agent_snapshot` (or a Recording, its to_dict(), "
                f"or a snapshot document), not a {type(data).__name__}"
            ) from None
        return dumps(doc)

    def matches(
        self,
        *,
        serialized_data: SerializableData,
        snapshot_data: SerializableData,
    ) -> bool:
        if serialized_data == snapshot_data:
            return True
        if self._options.exact:
            # Updating: any difference rewrites the file. The report only says what changed
            # (for the summary); an unreadable old snapshot is simply replaced.
            with suppress(SnapshotError):
                self._report = self._compare(serialized_data, snapshot_data)
            return False
        report = self._compare(serialized_data, snapshot_data)
        self._report = report
        return not report.failed

    def _compare(
        self, serialized_data: SerializableData, snapshot_data: SerializableData
    ) -> DriftReport:
        from agentrig.document import loads
        from agentrig.drift import compare

        settings = current_settings()
        source = settings.display(self._location) if self._location else "the snapshot"
        expected = loads(snapshot_data, source=source)
        received = loads(serialized_data, source="the received recording")
        self.last_documents = (expected, received)
        return compare(expected, received, config=self._options.drift_config)

    def diff_lines(
        self, serialized_data: SerializedData, snapshot_data: SerializedData
    ) -> Iterator[str]:
        report = self._report
        if report is not None:
            yield from report.render(
                color=self._options.color, verbose=self._options.verbose
            ).splitlines()


# -- syrupy's session (the one private API use) ---------------------------------------------------


def syrupy_session(config: pytest.Config) -> SnapshotSession:
    """syrupy's ``SnapshotSession`` of this pytest session.

    syrupy private API: ``config._syrupy`` is set by syrupy's ``pytest_sessionstart`` (stable
    since syrupy 1.0 through 7.x). Going through the public ``snapshot`` fixture instead would
    register a second, default-extension assertion per test.
    """
    session = getattr(config, "_syrupy", None)
    if session is None:
        raise pytest.UsageError(
            "agent_snapshot needs syrupy's pytest plugin, which is not active in this session "
            "(was it disabled with `-p no:syrupy`?); remove that option or install syrupy 7"
        )
    return session  # type: ignore[no-any-return]


# -- the assertion --------------------------------------------------------------------------------


class AgentrigSnapshotAssertion(SnapshotAssertion):
    """The ``agent_snapshot`` fixture: a syrupy assertion using :class:`AgentrigSnapshotExtension`.

    ``assert agent_recording == agent_snapshot`` passes, or raises ``AssertionError`` with the
    drift report. ``agent_snapshot(name="draft")`` names the next assertion's snapshot.
    """

    agentrig_options: AssertionOptions = AssertionOptions()

    @classmethod
    def create(
        cls,
        *,
        config: pytest.Config,
        item: pytest.Item,
        options: AssertionOptions,
        update_snapshots: bool,
        update_new_snapshots_only: bool,
    ) -> AgentrigSnapshotAssertion:
        assertion = cls(
            session=syrupy_session(config),
            extension_class=AgentrigSnapshotExtension,
            test_location=PyTestLocation(item),
            update_snapshots=update_snapshots,
            update_new_snapshots_only=update_new_snapshots_only,
        )
        assertion.agentrig_options = options
        return assertion

    @property
    def extension(self) -> AgentrigSnapshotExtension:
        ext = self.__dict__.get("_agentrig_extension")
        if not isinstance(ext, AgentrigSnapshotExtension):
            ext = AgentrigSnapshotExtension()
            self.__dict__["_agentrig_extension"] = ext
        return ext

    def with_defaults(
        self,
        *,
        exclude: PropertyFilter | None = None,
        include: PropertyFilter | None = None,
        matcher: PropertyMatcher | None = None,
        extension_class: type[AbstractSyrupyExtension] | None = None,
    ) -> SnapshotAssertion:
        if extension_class is not None and extension_class is not AgentrigSnapshotExtension:
            raise TypeError(
                "agent_snapshot always uses agentrig's extension; use syrupy's `snapshot` "
                "fixture for other extensions"
            )
        clone = super().with_defaults(exclude=exclude, include=include, matcher=matcher)
        if isinstance(clone, AgentrigSnapshotAssertion):
            clone.agentrig_options = self.agentrig_options
        return clone

    def __call__(
        self, *, name: SnapshotIndex | None = None, **unsupported: Any
    ) -> AgentrigSnapshotAssertion:
        if unsupported:
            raise TypeError(
                f"agent_snapshot(...) accepts only name=; got {', '.join(sorted(unsupported))}. "
                "Drop or mask fields with @pytest.mark.agentrig(drop=[...], mask=[...])"
            )
        super().__call__(name=name)
        return self

    def __eq__(self, other: object) -> bool:
        __tracebackhide__ = True
        index = self.index
        ext = self.extension
        location = ext.get_location(test_location=self.test_location, index=index)
        ext.begin(self.agentrig_options, location)
        if is_cut_for_length(os.path.basename(location)):
            # A test name cut for length: syrupy cannot relate the file's name to the test by
            # its text and warns on every write; agentrig relates them (and keeps a skipped
            # test's snapshots) itself.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "\nCan not relate snapshot name", UserWarning)
                passed = super().__eq__(other)
        else:
            passed = super().__eq__(other)
        result = self.executions[self.num_executions - 1]
        outcome = self._outcome(result, ext, write=not mutating())  # a mutant leaves files be
        item = self.test_location.item
        if isinstance(item, pytest.Item):
            item.stash.setdefault(OUTCOMES_KEY, []).append(outcome)
        if not passed:
            error = result.exception
            if error is not None and not isinstance(error, SnapshotError):
                # A misuse (not a recording, a bad option): the original error, raised from
                # here so that the failure shows the test's line, not syrupy's and agentrig's
                # frames (whose locals print as ``<... object at 0x7f...>``).
                raise error.with_traceback(None) from None
            raise AssertionError(self._failure_message(outcome, result, ext))
        return True

    def __repr__(self) -> str:
        # After an assertion, name the file it compared with (what a failure is about), not
        # the next one an assertion would use.
        if self.num_executions:
            location = self.executions[self.num_executions - 1].snapshot_location
        else:
            location = self.extension.get_location(
                test_location=self.test_location, index=self.index
            )
        return f"<agent_snapshot {current_settings().display(location)}>"

    def get_assert_diff(self, *, diff_mode: DiffMode = DiffMode.DETAILED) -> list[str]:
        if not self.executions:
            return []
        result = self.executions[self.num_executions - 1]
        outcome = self._outcome(result, self.extension, write=False)
        return self._failure_message(outcome, result, self.extension).splitlines()

    # -- outcome and message -----------------------------------------------------------------

    def _outcome(
        self, result: AssertionResult, ext: AgentrigSnapshotExtension, *, write: bool = True
    ) -> SnapshotOutcome:
        settings = current_settings()
        location = result.snapshot_location
        received = received_path(location)
        report = ext.last_report
        status: OutcomeStatus
        if result.exception is not None:
            status = "error"
        elif result.created:
            status = "created"
        elif result.updated:
            status = "updated"
        elif result.success:
            status = "tolerated" if report is not None and report.changes else "passed"
        elif result.recalled_data is None:
            status = "missing"
        else:
            status = "drift"
        outcome = SnapshotOutcome(
            nodeid=self.test_location.nodeid,
            snapshot=settings.display(location),
            name=result.snapshot_name,
            status=status,
        )
        if report is not None and status in ("drift", "tolerated", "updated"):
            outcome.counts = _counts(report, failing=False)
            outcome.failing = _counts(report, failing=True) if status == "drift" else {}
            outcome.root_counts = report.counts(roots=True)
            outcome.consequences = len(report.changes) - len(report.roots)
            outcome.changes = [change.to_dict() for change in report.changes]
            outcome.report = report.render(color=False)
        if result.exception is not None:
            # (an exception of the user's code: its message is not an agentrig one, redact it)
            outcome.error = redact_secrets(str(result.exception) or type(result.exception).__name__)
        failed = status in ("drift", "missing", "error")
        data = result.asserted_data
        item = self.test_location.item
        config = item.config if isinstance(item, pytest.Item) else None
        run_id = self.agentrig_options.run_id
        if write and config is not None:
            _note_run(config, run_id)
        if failed and isinstance(data, (bytes, str)):
            outcome.received = settings.display(received)
            if write:
                payload = data.encode("utf-8") if isinstance(data, str) else data
                payload = _received_payload(payload, location, self.test_location.nodeid, run_id)
                try:
                    atomic_write(Path(received), payload)
                except OSError as exc:
                    outcome.received = None
                    why = f"received file not written: {exc.strerror or type(exc).__name__}"
                    outcome.error = f"{outcome.error} ({why})" if outcome.error else why
                else:
                    self._write_html(outcome, location, ext)
            elif status == "drift":
                outcome.html = settings.display(html_path(location))
        elif write and not failed:
            for path in (received, html_path(location)):
                with suppress(FileNotFoundError, OSError):
                    os.unlink(path)
        return outcome

    def _write_html(
        self, outcome: SnapshotOutcome, location: str, ext: AgentrigSnapshotExtension
    ) -> None:
        """The drift's HTML timeline beside the received file (a drift with a report only)."""
        report, docs = ext.last_report, ext.last_documents
        target = html_path(location)
        if outcome.status != "drift" or report is None or docs is None:
            with suppress(FileNotFoundError, OSError):
                os.unlink(target)  # a stale page of an earlier drift would mislead
            return
        from agentrig.html import render_html

        settings = current_settings()
        page = render_html(
            docs[0],
            docs[1],
            report,
            title=self.test_location.nodeid.encode("utf-8", "surrogateescape").decode(
                "utf-8", "replace"
            ),
            snapshot_name=outcome.snapshot,
            received_name=outcome.received or "",
        )
        try:
            atomic_write(Path(target), page.encode("utf-8", "replace"))
        except (OSError, ValueError):
            return  # the text report says everything; the page is a convenience
        outcome.html = settings.display(target)

    def _failure_message(
        self, outcome: SnapshotOutcome, result: AssertionResult, ext: AgentrigSnapshotExtension
    ) -> str:
        settings = current_settings()
        options = self.agentrig_options
        command = settings.record_command(self.test_location.nodeid)
        lines: list[str] = []
        if outcome.status == "missing":
            lines.append(f"agentrig snapshot {outcome.snapshot} does not exist.")
            lines.append("A missing snapshot never passes; record it with:")
        elif outcome.status == "error":
            writing = (outcome.error or "").startswith("cannot write snapshot")
            verb = "write" if writing else "compare with"
            lines.append(f"agentrig cannot {verb} snapshot {outcome.snapshot}:")
            lines.append(f"  {outcome.error}")
            lines.append(
                "Once that is fixed, re-record it with:" if writing else "Re-record it with:"
            )
        else:
            report = ext.last_report
            lines.append(f"The recording drifted from snapshot {outcome.snapshot}")
            if report is not None:
                text = report.render(color=options.color, verbose=options.verbose)
                lines.extend(text.rstrip("\n").splitlines())
                if options.verbose < 2 and len(report.roots) < len(report.changes):
                    lines.append("(-vv lists every consequence under its root)")
            if options.seed_note:
                lines.append(options.seed_note)
            lines.append("If the change is intended, re-record with:")
        if options.update_refused and outcome.status != "error":
            lines.append(f"    {command}  (outside CI, or with --agentrig-force-update)")
        else:
            lines.append(f"    {command}")
        if outcome.received:
            lines.append(f"Received recording written to {outcome.received}")
        if outcome.html:
            lines.append(f"HTML timeline: {outcome.html}")
        elif outcome.error and outcome.status != "error":
            lines.append(f"Note: {outcome.error}")
        if options.update_refused:
            lines.append(options.update_refused)
        return "\n".join(lines)
