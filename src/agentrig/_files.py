"""Files agentrig reads and commits: regular files only, atomic writes.

Reading: ``open()`` on a FIFO waits for a writer forever (and a test's Runner swallows the first
Ctrl-C), so a named pipe where a snapshot should be would hang pytest and ``agentrig show``.
The file is opened non-blocking and checked with ``fstat`` before a byte is read.

Writing: a reader (another xdist worker, an interrupted run, ``git add``) must see the old file
or the new one, never half of one: write a temporary file in the same folder, fsync it,
``os.replace`` it over the target, then fsync the folder so that the rename itself survives a
power cut. Inside a :func:`folder_sync_batch` (a pytest session, an ``accept`` run) each touched
folder is fsynced once when the batch ends instead of after every file: the folder fsync was
~64 % of a snapshot write under ``--snapshot-update`` (issue #20), and a rename is durable once
its folder is synced, however many renames came before.
"""

from __future__ import annotations

import os
import secrets
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

__all__ = [
    "NotARegularFile",
    "atomic_write",
    "begin_folder_sync",
    "end_folder_sync",
    "folder_sync_batch",
    "fsync_dir",
    "read_regular_file",
]

# Open batches, innermost last (a pytester session inside a pytest session nests one).
_batches: list[set[Path]] = []
_batches_lock = threading.Lock()


class NotARegularFile(OSError):
    """The path is a FIFO, socket or device, not a file (a folder raises IsADirectoryError)."""


def read_regular_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of the regular file at ``path``.

    Raises:
        FileNotFoundError, IsADirectoryError, PermissionError, OSError: as ``open`` would.
        NotARegularFile: a FIFO, socket or device (never opened for a blocking read).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(f"{os.fsdecode(path)} is a folder")
        if not stat.S_ISREG(mode):
            kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "not a regular file"
            raise NotARegularFile(f"{os.fsdecode(path)} is {kind}")
        with os.fdopen(fd, "rb", closefd=True) as f:
            fd = -1
            return f.read()
    finally:
        if fd >= 0:
            os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; the rename is durable enough there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The name is cut so that a 255-byte file name still has a valid temporary name.
    tmp = path.parent / f".{path.name[:40]}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    # os.open with 0o666 honours the umask (mkstemp would force 0o600 on a committed file).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    with _batches_lock:
        if _batches:
            _batches[-1].add(path.parent)
            return
    fsync_dir(path.parent)


def begin_folder_sync() -> set[Path]:
    """Open a batch: until :func:`end_folder_sync`, :func:`atomic_write` defers folder fsyncs."""
    batch: set[Path] = set()
    with _batches_lock:
        _batches.append(batch)
    return batch


def end_folder_sync(batch: set[Path]) -> None:
    """Close ``batch`` (idempotent) and fsync each folder written in it, once, in sorted order."""
    with _batches_lock:
        for i, open_batch in enumerate(_batches):
            if open_batch is batch:
                del _batches[i]
                break
        else:
            return
        folders = sorted(batch)
        batch.clear()
    for folder in folders:
        fsync_dir(folder)


@contextmanager
def folder_sync_batch() -> Iterator[None]:
    """The writes inside share one fsync per folder, made when the block ends (even on error)."""
    batch = begin_folder_sync()
    try:
        yield
    finally:
        end_folder_sync(batch)
