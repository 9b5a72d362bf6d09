"""Reading a file that must be a regular file: never block on a FIFO, a socket or a device.

``open()`` on a FIFO waits for a writer forever (and a test's Runner swallows the first
Ctrl-C), so a named pipe where a snapshot should be would hang pytest and ``agentrig show``.
The file is opened non-blocking and checked with ``fstat`` before a byte is read.
"""

from __future__ import annotations

import os
import stat

__all__ = ["NotARegularFile", "read_regular_file"]


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
