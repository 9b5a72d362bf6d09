"""Atomic file writes, shared by everything agentrig commits to disk (snapshots, cassettes).

A reader (another xdist worker, an interrupted run, ``git add``) must see the old file or the
new one, never half of one: write a temporary file in the same folder, fsync it, ``os.replace``
it over the target, then fsync the folder so that the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import secrets
from contextlib import suppress
from pathlib import Path

__all__ = ["atomic_write", "fsync_dir"]


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
    fsync_dir(path.parent)
