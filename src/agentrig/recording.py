"""One timeline of everything a run did: spans, decisions, budget moves, bus traffic, deadlines.

A :class:`Recording` is *activated* (a context variable, with a process-wide fallback for plain
threads) and every primitive looks the active recording up at the moment it acts, never when
it is constructed. That is what lets a module-level ``log = DecisionLog(path=...)`` created at
import time, long before any test started, report into the current test's recording.

Implementation notes
--------------------
* Ordering. Spans and entries draw their ``seq`` from one counter, so the arrival order of
  everything is known. Arrival order is *not* what a snapshot stores: concurrent work can arrive
  in any order, and ``agentrig.normalize`` puts concurrent siblings in a canonical order. Here we
  only record faithfully.
* Time. ``t`` is the virtual loop time (deterministic) when the work runs on agentrig's virtual
  loop, in thread work that loop started (``to_thread``, ``run_in_executor``), or on a thread
  while a virtual loop is bound to the recording; otherwise ``None``.
  ``wall`` is always ``time.time()`` and is dropped by normalization.
* Attribution. Every entry carries the id of the span that was current (a context variable set
  by the tracer), so normalization can nest entries under the span they happened in.
* Happens-before. Every span and entry carries a ``task`` token naming its *strand*: work that
  runs one step after another. A task's strand is decided the first time it records. When
  another task waits for it and for nothing else -- ``await task``, ``await create_task(c)``,
  ``wait_for`` (a task on 3.11, none on 3.12), ``gather`` of one, ``shield``, a ``TaskGroup``
  of one task -- its work is that task's next step: it continues the waiter's strand. Any
  other task (a ``gather`` of several, a task nobody waits for yet) starts a strand of its
  own. Thread work started by ``run_in_executor`` / ``to_thread`` on the virtual loop
  continues the strand of the task that started it; a plain thread is a strand of its own.
  Normalization keeps one strand's records in arrival order and sorts concurrent strands, so
  "await a coroutine" and "await a task of it" record the same snapshot on every Python.
  (asyncio private state read for this, here only: ``Future._callbacks``,
  ``Task._fut_waiter``, ``_GatheringFuture._children``, ``TaskGroup._tasks`` /
  ``_parent_task`` / ``_on_completed_fut`` and the closures of ``gather`` and ``shield``.)
* Inherited timers. On a loop shared by several tests, a task woken by a timer that was set
  before this test began (a background task of a wider-scoped fixture, or one an earlier test
  left running) lives on a timeline that depends on which tests ran before. Its records go to
  :attr:`Recording.inherited` instead of the timeline (the virtual loop marks such tasks in
  :meth:`~agentrig.VirtualEventLoop.rewind`), so a test's snapshot never depends on test order.
* Thread safety. Appends take a lock: budgets and decision logs are used from threads too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import itertools
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, Literal

import orjson

from agentrig._errors import ConfigurationError
from agentrig._secrets import redact_secrets
from agentrig.clock import VirtualEventLoop, executor_origin
from agentrig.vocabulary import EntryKind, SpanStatus

if TYPE_CHECKING:
    from agentrig._models import RecordingModel

__all__ = [
    "Entry",
    "Recording",
    "SpanEvent",
    "SpanRecord",
    "active_recording",
    "current_span_id",
    "entry_to_dict",
    "json_default",
    "set_parent_hook",
    "span_to_dict",
]


@dataclass(slots=True)
class SpanEvent:
    """A point-in-time event inside a span (``span.add_event``)."""

    name: str
    t: float | None
    attributes: dict[str, Any] = field(default_factory=dict)
    wall: float = 0.0


@dataclass(slots=True)
class SpanRecord:
    """A span as data: what the tracer exports and what a recording keeps."""

    span_id: int
    parent_id: int | None
    name: str
    seq: int
    start: float | None
    end: float | None = None
    end_seq: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    status: SpanStatus = "unset"
    status_message: str | None = None
    error: dict[str, str] | None = None
    wall_start: float = 0.0
    wall_end: float | None = None
    #: The strand (module notes) that opened the span: equal for spans made one step after
    #: another, never reused for concurrent work within a recording. Normalization uses it to
    #: tell sequential steps from concurrent siblings that start at the same virtual instant.
    task: int | None = None


@dataclass(slots=True)
class Entry:
    """One thing that happened: a decision, a budget move, a bus emit, a deadline expiry."""

    seq: int
    t: float | None
    kind: EntryKind
    span_id: int | None
    data: dict[str, Any]
    wall: float = 0.0
    #: The strand that made the entry (see :attr:`SpanRecord.task`).
    task: int | None = None


# The span the current task/thread is inside (its recording span id). Set by the tracer.
current_span_id: ContextVar[int | None] = ContextVar("agentrig_current_span_id", default=None)

_active: ContextVar[Recording | None] = ContextVar("agentrig_active_recording", default=None)
# Plain ``threading.Thread`` workers do not inherit context variables; they fall back to this.
_process_fallback: list[Recording] = []
_fallback_lock = threading.Lock()
_export_dir_lock = threading.Lock()


# Another source of "the current span": agentrig.otel installs one so that agentrig spans and
# entries made inside a captured OpenTelemetry span nest under it. Called with the recording,
# the agentrig current span id and what asks ("span" or "entry"); returns the parent to use.
ParentHook = Callable[["Recording", "int | None", str], "int | None"]
_parent_hook: ParentHook | None = None


def set_parent_hook(hook: ParentHook | None) -> None:
    """Install (or, with ``None``, remove) the hook that may refine the current span."""
    global _parent_hook
    _parent_hook = hook


def active_recording() -> Recording | None:
    """The recording primitives should report into right now, or ``None``."""
    rec = _active.get()
    if rec is not None:
        return rec
    return _process_fallback[-1] if _process_fallback else None


def json_default(value: Any) -> Any:
    """orjson ``default=``: exact-enough numbers for Decimals, a stable placeholder otherwise.

    Never a memory address: ``<Doc object at 0x7f...>`` in a snapshot fails every run.
    """
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, (set, frozenset)):
        try:
            return sorted(value)
        except TypeError:
            return [f"<{type(v).__name__}>" for v in value]
    if isinstance(value, bytes):
        return f"<bytes len={len(value)}>"
    return f"<{type(value).__qualname__}>"


def span_to_dict(span: SpanRecord) -> dict[str, Any]:
    """A span record as a dict, without copying attribute values (``asdict`` deep-copies)."""
    return {
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "name": span.name,
        "seq": span.seq,
        "start": span.start,
        "end": span.end,
        "end_seq": span.end_seq,
        "attributes": span.attributes,
        "events": [
            {"name": ev.name, "t": ev.t, "attributes": ev.attributes, "wall": ev.wall}
            for ev in span.events
        ],
        "status": span.status,
        "status_message": span.status_message,
        "error": span.error,
        "wall_start": span.wall_start,
        "wall_end": span.wall_end,
        "task": span.task,
    }


def entry_to_dict(entry: Entry) -> dict[str, Any]:
    """A timeline entry as a dict, without copying its data."""
    return {
        "seq": entry.seq,
        "t": entry.t,
        "kind": entry.kind,
        "span_id": entry.span_id,
        "data": entry.data,
        "wall": entry.wall,
        "task": entry.task,
    }


def _entry_kind(kind: object) -> EntryKind:
    try:
        return EntryKind(kind)  # type: ignore[arg-type]  # any value: the lookup validates it
    except ValueError:
        valid = ", ".join(repr(k.value) for k in EntryKind)
        raise ConfigurationError(
            f"unknown recording entry kind {kind!r}. "
            f"Use one of {valid} (agentrig.vocabulary.EntryKind)."
        ) from None


_get_running_loop = asyncio._get_running_loop  # public alias of the C accessor, no raise


# ``asyncio.current_task`` is a Python function on 3.11-3.13 that calls the C accessor (3.12+)
# or reads the running-task table (3.11): on every record, the accessor itself (private).
def _task_accessor() -> Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None]:
    accessor = getattr(importlib.import_module("_asyncio"), "current_task", None)
    if accessor is not None:
        return accessor  # type: ignore[no-any-return]
    table = getattr(asyncio.tasks, "_current_tasks", None)
    if isinstance(table, dict):
        return table.get
    return asyncio.current_task


_current_task = _task_accessor()
_release_waiter: Any = getattr(asyncio.tasks, "_release_waiter", None)  # 3.11 wait_for
_GATHER_DONE = getattr(asyncio.tasks, "gather", None)
_SHIELD = getattr(asyncio.tasks, "shield", None)


def _closure_code(func: Any, name: str) -> Any:
    code = getattr(func, "__code__", None)
    for const in getattr(code, "co_consts", ()):
        if getattr(const, "co_name", None) == name:
            return const
    return None


# The done callbacks ``gather`` and ``shield`` put on their children (asyncio private).
_GATHER_CALLBACK = _closure_code(_GATHER_DONE, "_done_callback")
_SHIELD_CALLBACK = _closure_code(_SHIELD, "_inner_done_callback")


def _forget_task(tokens: dict[Any, int], ref: weakref.ref[Any]) -> None:
    tokens.pop(ref, None)  # the task is gone (its weak reference's callback)


def _waiting_task(fut: Any) -> asyncio.Task[Any] | None:
    """The task blocked on ``fut`` (its ``_fut_waiter``), if one is (asyncio private)."""
    for callback, _ in getattr(fut, "_callbacks", None) or ():
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, asyncio.Task) and getattr(owner, "_fut_waiter", None) is fut:
            return owner
    return None


def _cell(callback: Any, name: str) -> Any:
    names = callback.__code__.co_freevars
    cells = callback.__closure__ or ()
    for var, cell in zip(names, cells, strict=False):
        if var == name:
            try:
                return cell.cell_contents
            except ValueError:
                return None
    return None


def _sole_awaiter(task: asyncio.Task[Any]) -> asyncio.Task[Any] | None:
    """The task that waits for ``task`` and for nothing else, or ``None`` (module notes)."""
    for callback, _ in getattr(task, "_callbacks", None) or ():
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, asyncio.Task):
            if getattr(owner, "_fut_waiter", None) is task:  # await task
                return owner
            continue
        if owner is not None and type(owner).__name__ == "TaskGroup":
            tasks = getattr(owner, "_tasks", ())
            parent = getattr(owner, "_parent_task", None)
            done = getattr(owner, "_on_completed_fut", None)
            if len(tasks) == 1 and done is not None and getattr(parent, "_fut_waiter", 0) is done:
                return parent
            continue
        if isinstance(callback, functools.partial):
            if callback.func is _release_waiter and callback.args:  # wait_for on 3.11
                return _waiting_task(callback.args[0])
            continue
        code = getattr(callback, "__code__", None)
        if code is None:
            continue
        if code is _GATHER_CALLBACK:
            outer = _cell(callback, "outer")
            if len(getattr(outer, "_children", ())) == 1:
                return _waiting_task(outer)
        elif code is _SHIELD_CALLBACK:
            return _waiting_task(_cell(callback, "outer"))
    return None


class Recording:
    """Everything one run did, in one ordered timeline.

    Args:
        name: a label (the plugin uses the test's node id).
        export_dir: while active, file exports of DecisionLog and Tracer are redirected here
            instead of the user's working tree. ``None`` leaves paths as given. A callable is
            called once, at the first export, for the folder (the plugin: no temporary folder
            for a test that exports nothing).

    Usage::

        rec = Recording(export_dir=tmp_path)
        with rec.activate():
            agentrig.run(main())
        rec.spans, rec.entries, rec.to_json()
    """

    def __init__(
        self,
        name: str = "",
        *,
        export_dir: str | os.PathLike[str] | Callable[[], str | os.PathLike[str]] | None = None,
    ):
        self.name = name
        self._export_dir: Path | None = None
        self._export_dir_factory: Callable[[], str | os.PathLike[str]] | None = None
        if callable(export_dir):
            self._export_dir_factory = export_dir
        elif export_dir is not None:
            self._export_dir = Path(export_dir)
        self.spans: list[SpanRecord] = []
        self.entries: list[Entry] = []
        self._seq = itertools.count(1)
        self._span_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._virtual_loop: asyncio.AbstractEventLoop | None = None
        self._spans_by_id: dict[int, SpanRecord] = {}
        # task -> strand token, keyed by weak references (what WeakKeyDictionary does, without
        # its Python-level get on every record); an entry goes when its task does.
        self._task_tokens: dict[weakref.ref[asyncio.Task[Any]], int] = {}
        self._thread_tokens = threading.local()
        self._next_token = itertools.count(1)
        #: What tasks woken by timers of earlier tests recorded (module notes): kept out of
        #: the timeline, in arrival order.
        self.inherited: list[SpanRecord | Entry] = []

    def __repr__(self) -> str:
        return redact_secrets(
            f"<Recording {self.name!r} spans={len(self.spans)} entries={len(self.entries)}"
            + (f" inherited={len(self.inherited)}" if self.inherited else "")
            + f" export_dir={self._export_dir_shown()}>"
        )

    # -- activation -------------------------------------------------------------------------

    @contextlib.contextmanager
    def activate(self) -> Iterator[Recording]:
        """Make this the recording every primitive reports into, for the ``with`` block."""
        token: Token[Recording | None] = _active.set(self)
        with _fallback_lock:
            _process_fallback.append(self)
        try:
            yield self
        finally:
            _active.reset(token)
            with _fallback_lock:
                # Remove this activation (not necessarily the last one: xdist-free but
                # nested or interleaved activations must not strand each other).
                for i in range(len(_process_fallback) - 1, -1, -1):
                    if _process_fallback[i] is self:
                        del _process_fallback[i]
                        break

    def bind_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Read virtual time from ``loop`` even where no loop runs (threads started by it)."""
        self._virtual_loop = loop

    # -- time -------------------------------------------------------------------------------

    def now(self) -> float | None:
        """Virtual time if there is a virtual clock to read, else ``None`` (not deterministic)."""
        loop = _get_running_loop()
        if loop is not None and isinstance(loop, VirtualEventLoop):
            return loop.time()
        if loop is None:
            origin = executor_origin()  # thread work the virtual loop started and waits for
            if origin is not None:
                return origin.get_loop().time()
        loop = self._virtual_loop
        if loop is not None and not loop.is_closed():
            return loop.time()
        return None

    # -- writing ----------------------------------------------------------------------------

    def _stamp(self) -> tuple[float | None, int, bool]:
        """``(t, strand token, inherited)`` of what runs now (see :meth:`now` and the notes).

        Called under ``self._lock``. The common case -- a task on a virtual loop that has
        recorded before -- looks at the running loop once; everything else takes the full
        path of :meth:`now` and :meth:`_strand`.
        """
        loop = _get_running_loop()
        if loop is not None and isinstance(loop, VirtualEventLoop):
            task = _current_task(loop)
            if task is not None:
                token = self._task_tokens.get(weakref.ref(task))
                if token is not None:
                    inherited_tasks = loop._inherited_tasks
                    inherited = inherited_tasks is not None and task in inherited_tasks
                    return loop.time(), token, inherited
        token, inherited = self._strand()
        return self.now(), token, inherited

    def _strand(self) -> tuple[int, bool]:
        """The strand token of what runs now, and whether it is inherited (module notes).

        Tokens are never ``id(task)``: ids are reused once a task is gone. Called under
        ``self._lock``.
        """
        loop = _get_running_loop()
        task = _current_task(loop) if loop is not None else None
        inherited = False
        if task is None:
            origin = executor_origin()
            if origin is None:
                local = self._thread_tokens
                token = getattr(local, "token", None)
                if token is None:
                    token = local.token = next(self._next_token)
                return int(token), False
            task = origin
        elif isinstance(loop, VirtualEventLoop) and loop._inherited_tasks is not None:
            inherited = task in loop._inherited_tasks
        tokens = self._task_tokens
        token = tokens.get(weakref.ref(task))
        if token is not None:
            return token, inherited
        # Walk up the tasks that wait for this one and nothing else; the first with a token
        # (or the first nobody waits for: a new strand) names the strand of them all.
        chain = [task]
        while True:
            awaiter = _sole_awaiter(chain[-1])
            if awaiter is None or awaiter in chain:
                token = next(self._next_token)
                break
            found = tokens.get(weakref.ref(awaiter))
            if found is not None:
                token = found
                break
            chain.append(awaiter)
        forget = functools.partial(_forget_task, tokens)
        for member in chain:
            tokens[weakref.ref(member, forget)] = token
        return token, inherited

    def add_entry(
        self,
        kind: EntryKind,
        data: dict[str, Any],
        *,
        span_id: int | Literal["current"] | None = "current",
    ) -> Entry:
        """Append one timeline entry, attributed to the current span unless told otherwise.

        ``kind`` is an :class:`~agentrig.vocabulary.EntryKind` (its value, ``"note"``, is
        accepted too); an unknown kind raises ``ConfigurationError``: normalization and drift
        read the kinds, so a typo would silently lose the entry's meaning.
        """
        if type(kind) is not EntryKind:
            kind = _entry_kind(kind)
        if span_id == "current":
            sid = current_span_id.get()
            if _parent_hook is not None:
                sid = _parent_hook(self, sid, "entry")
        else:
            sid = span_id
        wall = time.time()
        with self._lock:
            t, token, inherited = self._stamp()
            entry = Entry(next(self._seq), t, kind, sid, data, wall, token)
            (self.inherited if inherited else self.entries).append(entry)
        return entry

    def start_span(
        self,
        name: str,
        *,
        parent_id: int | Literal["current"] | None = "current",
        attributes: Mapping[str, Any] | None = None,
    ) -> SpanRecord:
        """Open a span record (the tracer calls this; it does not set the current span)."""
        if parent_id == "current":
            pid = current_span_id.get()
            if _parent_hook is not None:
                pid = _parent_hook(self, pid, "span")
        else:
            pid = parent_id
        attrs = {} if attributes is None else dict(attributes)
        wall = time.time()
        with self._lock:
            t, token, inherited = self._stamp()
            rec = SpanRecord(
                span_id=next(self._span_ids),
                parent_id=pid,
                name=name,
                seq=next(self._seq),
                start=t,
                attributes=attrs,
                wall_start=wall,
                task=token,
            )
            if inherited:
                self.inherited.append(rec)
            else:
                self.spans.append(rec)
                self._spans_by_id[rec.span_id] = rec
        return rec

    def end_span(self, rec: SpanRecord) -> None:
        """Close a span record: stamp its end time and end sequence number."""
        loop = _get_running_loop()
        t = loop.time() if isinstance(loop, VirtualEventLoop) else self.now()
        with self._lock:
            rec.end = t
            rec.end_seq = next(self._seq)
            rec.wall_end = time.time()

    def fold_span(self, span_id: int, into: int) -> None:
        """Merge span ``span_id`` into span ``into``: one span where two described one thing.

        ``into`` gains the attributes it lacks and the events; the folded span's child spans
        and entries move to it; the folded span leaves the recording. (``agentrig.otel`` folds
        agentrig's model-call span into an instrumentation's span of the same call.)

        Raises:
            KeyError: either span is not in this recording.
        """
        with self._lock:
            child = self._spans_by_id[span_id]
            target = self._spans_by_id[into]
            for key, value in child.attributes.items():
                target.attributes.setdefault(key, value)
            target.events.extend(child.events)
            if child.status == "error" and target.status != "error":
                target.status, target.status_message = child.status, child.status_message
            if target.error is None:
                target.error = child.error
            # Everything of the folded span came after it: search from the end (it is recent).
            idx = len(self.spans) - 1
            while self.spans[idx] is not child:
                idx -= 1
            for span in self.spans[idx + 1 :]:
                if span.parent_id == span_id:
                    span.parent_id = into
            del self.spans[idx]
            del self._spans_by_id[span_id]
            for entry in reversed(self.entries):
                if entry.seq < child.seq:
                    break
                if entry.span_id == span_id:
                    entry.span_id = into

    def span(self, span_id: int) -> SpanRecord:
        """The span with this id (raises ``KeyError`` naming the id)."""
        try:
            return self._spans_by_id[span_id]
        except KeyError:
            raise KeyError(f"recording {self.name!r} has no span with id {span_id}") from None

    # -- exports ----------------------------------------------------------------------------

    @property
    def export_dir(self) -> Path | None:
        """The folder file exports go to while this recording is active (``None``: as given)."""
        if self._export_dir is None and self._export_dir_factory is not None:
            with _export_dir_lock:  # (not self._lock: an export may come while it is held)
                factory, self._export_dir_factory = self._export_dir_factory, None
                if factory is not None:
                    self._export_dir = Path(factory())
        return self._export_dir

    def _export_dir_shown(self) -> str:
        # A repr must not create the folder.
        if self._export_dir is None and self._export_dir_factory is not None:
            return "(made at the first export)"
        return str(self._export_dir)

    def export_path(self, path: str | os.PathLike[str]) -> Path:
        """Where a file export asked for at ``path`` goes while this recording is active.

        Relative paths land under ``export_dir`` as given (each ``..`` becomes a folder named
        ``_up``); absolute ones under ``export_dir/_abs/`` with their anchor stripped, so
        nothing escapes the directory.
        """
        p = Path(path)
        if self.export_dir is None:
            return p
        # ``..`` becomes a plain folder name: ``../logs/x.jsonl`` lands in ``_up/logs/``.
        parts = ["_up" if part == ".." else part for part in p.parts]
        if p.is_absolute():
            return self.export_dir.joinpath("_abs", *parts[1:])
        return self.export_dir.joinpath(*parts)

    # -- reading ----------------------------------------------------------------------------

    def entries_of(self, kind: str) -> list[Entry]:
        """The entries of one kind, in arrival order."""
        return [e for e in self.entries if e.kind == kind]

    @property
    def decisions(self) -> list[dict[str, Any]]:
        """The recorded decisions' fields, in arrival order (convenient in assertions)."""
        return [e.data for e in self.entries if e.kind == "decision"]

    def spans_named(self, name: str) -> list[SpanRecord]:
        """The spans with this name, in start order."""
        return [s for s in self.spans if s.name == name]

    def children(self, span_id: int | None) -> list[SpanRecord]:
        """Direct child spans of ``span_id`` (``None``: the root spans), in start order."""
        return [s for s in self.spans if s.parent_id == span_id]

    # -- serialization ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain data (raw: not normalized); attribute values are shared, not copied.

        Values that are not JSON stay as they are (normalization deals with them).
        """
        with self._lock:
            return {
                "name": self.name,
                "spans": [span_to_dict(s) for s in self.spans],
                "entries": [entry_to_dict(e) for e in self.entries],
            }

    def to_json(self) -> bytes:
        """The raw recording as JSON bytes (orjson, sorted keys; non-JSON become placeholders).

        Raises:
            AgentRigError: a recorded value contains itself or nests deeper than 255 levels,
                or a string holds a lone surrogate (raw JSON cannot hold these; snapshots can,
                since :func:`agentrig.normalize.normalize` bounds and replaces them).
        """
        try:
            return orjson.dumps(
                self.to_dict(),
                default=json_default,
                option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SORT_KEYS,
            )
        except orjson.JSONEncodeError as exc:
            from agentrig._errors import AgentRigError

            raise AgentRigError(
                f"recording {self.name!r} cannot be written as raw JSON ({exc}): a recorded value "
                "contains itself, nests deeper than 255 levels or holds a lone surrogate. "
                "Snapshots are not affected (normalization bounds and replaces such values); "
                "to export the raw recording, record plain values"
            ) from None

    def model(self) -> RecordingModel:
        """This recording as a validated, immutable pydantic model."""
        from agentrig._models import RecordingModel  # pydantic is imported only when asked

        return RecordingModel.model_validate_json(self.to_json())
