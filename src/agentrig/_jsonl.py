"""Shared plumbing of the file-exporting primitives (DecisionLog, Tracer): not API.

An append-only JSONL file whose destination is resolved again at every write (so exports
follow the active recording), crash-tolerant tail repair, and the clock primitives stamp.
"""

from __future__ import annotations

import asyncio
import enum
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from agentrig._errors import AgentRigError, ConfigurationError
from agentrig.recording import active_recording

#: How many records a file-backed log keeps in memory (``entries``) unless told otherwise.
DEFAULT_KEEP_FILE_BACKED = 10_000

JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE
_TAIL_CHUNK = 64 * 1024


def now() -> float:
    """The clock time primitives stamp: the running loop's (virtual under agentrig), else real.

    Outside a loop, a thread working for a recording bound to a virtual loop reads that loop's
    virtual time; anything else reads ``time.monotonic()``.
    """
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        pass
    rec = active_recording()
    if rec is not None:
        t = rec.now()
        if t is not None:
            return t
    return time.monotonic()


def _validate_keep(keep: int | None) -> None:
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 0):
        raise ConfigurationError(
            f"`keep` must be a non-negative int or None (keep everything), got {keep!r}"
        )


# -- the append-only file -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opened:
    """What opening a destination found: its last complete line and a fragment cut off."""

    target: Path
    last_line: bytes | None
    dropped: bytes | None


class JsonlAppender:
    """An append-only JSONL file whose destination is resolved again at every write.

    Not locked: the owner (a DecisionLog or a Tracer) serializes calls with its own lock, so it
    can number a record and write it atomically. Holds no reference to its owner, so the owner
    can ``weakref.finalize`` itself into :meth:`close`.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, owner: str, error: type[AgentRigError]
    ) -> None:
        self.path = Path(path)
        self._owner = owner
        self._error = error
        self._file: io.FileIO | None = None
        self._target: Path | None = None

    def resolve(self) -> Path:
        """Where a write would go right now (redirected under an active recording)."""
        rec = active_recording()
        target = rec.export_path(self.path) if rec is not None else self.path
        # Absolute, so a change of working directory counts as a change of destination.
        return Path(os.path.abspath(target))

    def ensure_open(self) -> Opened | None:
        """Open the current destination if it is not the open file; ``None`` if it already was."""
        target = self.resolve()
        if self._file is not None and target == self._target:
            return None
        self.close()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error(
                f"{self._owner} cannot create the folder {str(target.parent)!r} for"
                f" {str(target)!r}: {exc.strerror or exc}; create it, make it writable, or pass"
                " a path in a writable folder"
            ) from exc
        try:
            f = io.FileIO(target, "a+")
        except OSError as exc:
            raise self._error(
                f"{self._owner} cannot open {str(target)!r} for appending:"
                f" {exc.strerror or exc}; make the file writable or pass another path"
            ) from exc
        try:
            last_line, dropped = _repair_tail(f)
        except OSError as exc:
            f.close()
            raise self._error(
                f"{self._owner} cannot read the end of {str(target)!r} before appending:"
                f" {exc.strerror or exc}; check the file's permissions"
            ) from exc
        self._file = f
        self._target = target
        return Opened(target=target, last_line=last_line, dropped=dropped)

    def write(self, line: bytes) -> None:
        """Append one complete line (ending in a newline) in a single ``write`` where possible."""
        f = self._file
        if f is None:  # pragma: no cover - callers always ensure_open() first
            raise AssertionError("bug in agentrig, please report: write before ensure_open")
        view = memoryview(line)
        try:
            while view:
                n = f.write(view)
                if not n:
                    raise OSError("the file accepted no bytes")
                view = view[n:]
        except OSError as exc:
            target = self._target
            self.close()
            raise self._error(
                f"{self._owner} cannot write to {str(target)!r}: {exc.strerror or exc};"
                " free space or fix permissions, or pass another path"
            ) from exc

    @property
    def target(self) -> Path | None:
        """The file currently open, if any."""
        return self._target if self._file is not None else None

    def close(self) -> None:
        f, self._file, self._target = self._file, None, None
        if f is not None:
            f.close()


def _read_at(f: io.FileIO, pos: int, size: int) -> bytes:
    f.seek(pos)
    parts: list[bytes] = []
    while size > 0:
        chunk = f.read(size)
        if not chunk:
            break
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)


def _tail(f: io.FileIO) -> tuple[bytes | None, bytes]:
    """The last non-blank newline-terminated line of ``f`` and the unterminated fragment after it.

    Reads backwards in chunks, so opening a large log costs a few reads, not a full scan.
    """
    size = f.seek(0, os.SEEK_END)
    pos = size
    buf = b""  # == file[pos:end], where end is the end of the complete part once known
    fragment: bytes | None = None
    while True:
        if fragment is None:
            nl = buf.rfind(b"\n")
            if nl >= 0 or pos == 0:
                fragment = buf[nl + 1 :]
                buf = buf[: nl + 1]
        if fragment is not None:
            lines = buf.split(b"\n")[:-1]
            # Unless we reached the start of the file, the first piece may be a partial line.
            for line in reversed(lines if pos == 0 else lines[1:]):
                if line.strip():
                    return line, fragment
            if pos == 0:
                return None, fragment
        step = min(_TAIL_CHUNK, pos)
        pos -= step
        buf = _read_at(f, pos, step) + buf


def _repair_tail(f: io.FileIO) -> tuple[bytes | None, bytes | None]:
    """Make ``f`` end in a newline before appending; return (last line, fragment cut off).

    A last line without its newline is either a complete record (kept: the newline is added) or
    what a crash mid-write left behind (cut off: appending after it would weld our record onto
    it and turn a tolerable torn *last* line into corruption in the middle of the file).
    """
    last_line, fragment = _tail(f)
    if not fragment:
        return last_line, None
    if not fragment.strip() or _is_json_object(fragment):
        f.write(b"\n")
        return (fragment if fragment.strip() else last_line), None
    size = f.seek(0, os.SEEK_END)
    f.truncate(size - len(fragment))
    return last_line, fragment


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(orjson.loads(raw), dict)
    except orjson.JSONDecodeError:
        return False


class Default(enum.Enum):
    """Sentinel for "not given" where ``None`` already means something."""

    DEFAULT = "default"

    def __repr__(self) -> str:
        return "<default>"


DEFAULT = Default.DEFAULT


def keep_for(keep: int | Default | None, *, file_backed: bool) -> int | None:
    if keep is DEFAULT:
        return DEFAULT_KEEP_FILE_BACKED if file_backed else None
    _validate_keep(keep)
    return keep
