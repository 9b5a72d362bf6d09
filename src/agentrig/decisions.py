"""An append-only, structured JSONL log of the decisions a multi-agent run takes.

Usage::

    log = DecisionLog(path="pipeline_decisions.jsonl")
    log.record(decision="stage_complete", stage="research", tokens=812)
    log.read().entries        # what the file holds, torn last line reported, not fatal

Every ``record`` writes one JSON object per line (orjson, sorted keys) carrying ``seq``, ``t``,
``decision`` and the caller's fields, and flushes it to the operating system before returning,
so a crash loses at most the line being written. A crash *mid*-write leaves a torn last line:
:func:`read_decision_log` reports it (``torn_line``) instead of failing, and a log that reopens
such a file cuts the fragment off before appending (see :attr:`DecisionLog.recovered_torn_lines`).

Implementation notes
--------------------
* Destination. The file is resolved at every write, never at construction: while a
  :class:`~agentrig.recording.Recording` with an ``export_dir`` is active, the record goes to
  ``rec.export_path(path)`` (so a test never litters the repo, even through a module-level log
  created at import time); otherwise to ``path`` relative to the current directory. When the
  destination changes, the old file is closed and the new one opened lazily.
* Writes. The file is opened unbuffered in append mode (``O_APPEND``) and each record goes out
  in one ``write`` of the whole line including its newline, so lines from several writers never
  interleave mid-line. Flushed means handed to the OS (it survives a process crash); there is no
  ``fsync`` per record.
* Sequence numbers. ``seq`` counts the records of the file they went to, 1-based: a log that
  opens an existing file continues after the last ``seq`` it finds there, so ``seq`` stays
  unique within a file across process restarts (given one writer at a time). A memory-only log
  (``path=None``) counts its own records.
* Handles. An open file is closed by :meth:`DecisionLog.close`, when the destination changes,
  or when the log is garbage collected (``weakref.finalize``) — never left for a
  ``ResourceWarning``. A closed log reopens lazily on the next ``record``.
"""

from __future__ import annotations

import collections
import os
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from agentrig._errors import ConfigurationError, DecisionLogError
from agentrig._jsonl import DEFAULT, JSON_OPTIONS, Default, JsonlAppender, Opened, keep_for, now
from agentrig._secrets import redact_secrets
from agentrig.mutate import hook as _mutation
from agentrig.recording import active_recording, json_default
from agentrig.vocabulary import EntryKind

__all__ = ["DecisionLog", "DecisionLogContents", "read_decision_log"]

#: Fields the log writes itself; a caller's field of the same name would be overwritten.
RESERVED_FIELDS = frozenset({"seq", "t", "log"})

# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecisionLogContents:
    """What a decision log file holds.

    Attributes:
        entries: the records, in file order, as dicts (``seq``, ``t``, ``decision``, fields...).
        torn_line: the raw text of a torn last line (a crash mid-write), or ``None``. A torn
            line is reported here, never raised.
        problems: human-readable notes on anything unusual that was tolerated (a torn last
            line, a last record missing its newline), empty for a clean file.
        path: the file that was read (``None`` for a memory-only log's contents).
    """

    entries: tuple[dict[str, Any], ...]
    torn_line: str | None = None
    problems: tuple[str, ...] = ()
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.entries)

    @property
    def decisions(self) -> list[Any]:
        """The ``decision`` of each record, in order (convenient in assertions)."""
        return [e.get("decision") for e in self.entries]


def read_decision_log(path: str | os.PathLike[str]) -> DecisionLogContents:
    """Read a decision log file back.

    The path is read exactly as given. While a recording is active a :class:`DecisionLog`
    writes elsewhere (under the recording's ``export_dir``): read those back with
    :meth:`DecisionLog.read`, or pass :attr:`DecisionLog.current_path`.

    Args:
        path: the JSONL file.

    Returns:
        The records, plus the torn last line and notes on anything tolerated.

    Raises:
        DecisionLogError: the file is missing or unreadable, or a line *before* the last is not
            a JSON object (corruption a crash cannot explain), naming the file and line number.

    Usage::

        contents = read_decision_log("pipeline_decisions.jsonl")
        if contents.torn_line is not None:
            print("the last write was interrupted:", contents.problems)
        [e["decision"] for e in contents.entries]
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise DecisionLogError(
            f"there is no decision log at {str(p)!r}; check the path (while a recording is"
            " active, a DecisionLog writes under the recording's export_dir: use log.read() or"
            " log.current_path)"
        ) from None
    except OSError as exc:
        raise DecisionLogError(
            f"cannot read the decision log {str(p)!r}: {exc.strerror or exc}; check the path"
            " and its permissions"
        ) from exc
    return _parse(data, p)


def _parse(data: bytes, path: Path) -> DecisionLogContents:
    lines = data.split(b"\n")
    terminated = data.endswith(b"\n")
    if terminated:
        lines.pop()  # the empty piece after the final newline
    numbered = [(i, raw) for i, raw in enumerate(lines, start=1) if raw.strip()]
    entries: list[dict[str, Any]] = []
    problems: list[str] = []
    torn: str | None = None
    for k, (lineno, raw) in enumerate(numbered):
        is_last = k == len(numbered) - 1
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if is_last:
                torn = raw.decode("utf-8", errors="replace")
                problems.append(
                    f"line {lineno} is torn (not valid JSON: {exc}); the writer probably"
                    " crashed mid-write, so that record was never complete and is left out"
                )
                break
            raise DecisionLogError(
                f"{str(path)!r}, line {lineno}: not valid JSON ({exc}); only a torn *last* line"
                " is tolerated, so this file was corrupted in the middle; repair or remove that"
                " line"
            ) from None
        if not isinstance(value, dict):
            raise DecisionLogError(
                f"{str(path)!r}, line {lineno}: a JSON {type(value).__name__}, not an object;"
                " every line of a decision log is one JSON object; repair or remove that line"
            )
        entries.append(value)
        if is_last and not terminated and lineno == len(lines):
            problems.append(
                f"line {lineno} has no trailing newline (the record is complete and was kept)"
            )
    return DecisionLogContents(
        entries=tuple(entries), torn_line=torn, problems=tuple(problems), path=path
    )


# -- the log --------------------------------------------------------------------------------


class DecisionLog:
    """An append-only structured JSONL log: one JSON object per :meth:`record`.

    Each record carries ``seq`` (1-based, counting the records of its file), ``t`` (the running
    loop's clock — virtual under agentrig — or ``time.monotonic()`` outside a loop),
    ``decision`` and the caller's fields. While a recording is active, each record also adds a
    ``decision`` entry to it, whose data is the caller's fields plus ``decision`` and ``log``
    (this log's name); ``seq`` and ``t`` stay in the file, and the recording entry carries the
    recording's own ``seq`` and ``t`` instead (they order it among everything else the run did).

    Safe to share between tasks and threads: numbering and writing a record happen under a
    lock, so file order is ``seq`` order.

    Args:
        path: the JSONL file to append to, or ``None`` to keep records in memory only. Resolved
            at every write: under an active recording with an ``export_dir`` the file goes
            there (``rec.export_path(path)``), so tests never write into the working tree.
            Parent folders are created.
        name: the log's name in recordings; default the file name, or ``"decisions"``.
        keep: how many of the newest records :attr:`entries` keeps in memory; ``None`` keeps
            all. Default: all for a memory-only log, the newest 10,000 for a file-backed one
            (the file has them all), so a long-running service does not grow without bound.

    Raises:
        ConfigurationError: an empty path, an empty name, or a negative ``keep``.

    Usage::

        log = DecisionLog(path="pipeline_decisions.jsonl")      # module level is fine
        log.record(decision="stage_complete", stage="research", tokens=812)
        # -> {'seq': 1, 't': 0.0, 'decision': 'stage_complete', 'stage': 'research', ...}
        log.read().entries
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        name: str | None = None,
        keep: int | Default | None = DEFAULT,
    ) -> None:
        if path is not None:
            if not isinstance(path, (str, os.PathLike)):
                raise ConfigurationError(
                    f"`path` must be a str or os.PathLike (or None for memory only),"
                    f" got {type(path).__name__} {path!r}"
                )
            if not os.fspath(path):
                raise ConfigurationError(
                    "`path` must not be empty; pass a file name, or None for memory only"
                )
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigurationError(f"`name` must be a non-empty str or None, got {name!r}")
        self.path: Path | None = Path(path) if path is not None else None
        self.name: str = name or (self.path.name if self.path is not None else "decisions")
        self._entries: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=keep_for(keep, file_backed=self.path is not None)
        )
        self._lock = threading.Lock()
        self._seq = 0
        self._recovered: list[str] = []
        self._sink: JsonlAppender | None = None
        if self.path is not None:
            self._sink = JsonlAppender(
                self.path, owner=f"DecisionLog {self.name!r}", error=DecisionLogError
            )
            # Close the file when the log goes away; the sink holds no reference back to us.
            weakref.finalize(self, self._sink.close)

    def __repr__(self) -> str:
        where = "memory" if self.path is None else repr(self.path.as_posix())
        return redact_secrets(f"<DecisionLog {self.name!r} path={where} records={self._seq}>")

    # -- writing ----------------------------------------------------------------------------

    def record(self, decision: str, **fields: Any) -> dict[str, Any]:
        """Append one decision: a line in the file, an entry in the active recording.

        Args:
            decision: what was decided (``"stage_complete"``, ``"halt"``, ...).
            **fields: anything else worth keeping; values that are not JSON are written as
                stable placeholders (``agentrig.recording.json_default``), never as memory
                addresses. ``seq``, ``t`` and ``log`` are reserved.

        Returns:
            The record as written: ``seq``, ``t``, ``decision`` and the fields.

        Raises:
            ConfigurationError: ``decision`` is not a non-empty str, or a field is reserved.
            DecisionLogError: the file cannot be created or written (the message names the
                path); the record is then not kept.

        Usage::

            log.record(decision="stage_complete", stage="research", tokens=out.tokens)
        """
        if not isinstance(decision, str) or not decision:
            raise ConfigurationError(
                f"`decision` must be a non-empty str, got {decision!r};"
                ' e.g. log.record(decision="stage_complete", stage="research")'
            )
        clash = RESERVED_FIELDS.intersection(fields)
        if clash:
            raise ConfigurationError(
                f"DecisionLog {self.name!r}: field name(s) {sorted(clash)} are reserved"
                f" ({', '.join(sorted(RESERVED_FIELDS))} are written by the log); rename them"
            )
        fields = _mutation.decision_fields(self.name, decision, fields)  # agentrig mutate
        with self._lock:
            sink = self._sink
            if sink is not None:
                opened = sink.ensure_open()
                if opened is not None:
                    self._seq = self._last_seq_in(opened)
            entry: dict[str, Any] = {"seq": self._seq + 1, "t": now(), "decision": decision}
            entry.update(fields)
            if sink is not None:
                sink.write(self._dumps(entry))
            self._seq += 1
            self._entries.append(entry)
            # Inside the lock: the recording sees this log's records in seq order.
            rec = active_recording()
            if rec is not None:
                rec.add_entry(
                    EntryKind.DECISION, {**fields, "decision": decision, "log": self.name}
                )
        return entry

    def _dumps(self, entry: dict[str, Any]) -> bytes:
        try:
            return orjson.dumps(entry, default=json_default, option=JSON_OPTIONS)
        except orjson.JSONEncodeError as exc:
            raise DecisionLogError(
                f"DecisionLog {self.name!r} cannot serialize decision {entry['decision']!r}:"
                f" {exc}; pass plain values (str, numbers, lists, dicts)"
            ) from exc

    def _last_seq_in(self, opened: Opened) -> int:
        """The ``seq`` to continue after in a file just opened (0 for a new or empty file)."""
        if opened.dropped is not None:
            self._recovered.append(opened.dropped.decode("utf-8", errors="replace"))
        if opened.last_line is None:
            return 0
        try:
            last = orjson.loads(opened.last_line)
        except orjson.JSONDecodeError:
            last = None
        seq = last.get("seq") if isinstance(last, dict) else None
        if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0:
            return seq
        # Not one of our records at the end (a file written by something else): count lines.
        try:
            data = opened.target.read_bytes()
        except OSError as exc:
            raise DecisionLogError(
                f"DecisionLog {self.name!r} cannot read {str(opened.target)!r} to continue its"
                f" numbering: {exc.strerror or exc}; check the file's permissions"
            ) from exc
        return sum(1 for raw in data.split(b"\n") if raw.strip())

    def close(self) -> None:
        """Close the file (if open). A later :meth:`record` reopens it; closing twice is fine."""
        with self._lock:
            if self._sink is not None:
                self._sink.close()

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------

    @property
    def entries(self) -> tuple[dict[str, Any], ...]:
        """The records this log object wrote in this process (the newest ``keep``), in order."""
        with self._lock:
            return tuple(self._entries)

    @property
    def current_path(self) -> Path | None:
        """The file the next record goes to, resolved now (``None`` for a memory-only log)."""
        return self._sink.resolve() if self._sink is not None else None

    @property
    def recovered_torn_lines(self) -> tuple[str, ...]:
        """Torn last lines (crash leftovers) this log cut off files it reopened, as text."""
        with self._lock:
            return tuple(self._recovered)

    def read(self) -> DecisionLogContents:
        """Read back the file this log writes to now (see :attr:`current_path`).

        Returns:
            The file's contents, which include records of earlier runs appended to the same
            file; empty if nothing was written there yet. A memory-only log returns its
            :attr:`entries`.

        Raises:
            DecisionLogError: as :func:`read_decision_log`.
        """
        target = self.current_path
        if target is None:
            return DecisionLogContents(entries=self.entries)
        with self._lock:
            if not target.exists():
                return DecisionLogContents(entries=(), path=target)
            return read_decision_log(target)
