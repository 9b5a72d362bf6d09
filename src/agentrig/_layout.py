"""Where snapshots live: the one rule for ``agentrig_snapshot_dir``, shared by plugin and CLI.

The plugin and the ``agentrig`` command must agree on the snapshot folder to the letter: a
command that followed a folder the plugin refuses (``../x``, an absolute path) once replaced
a file outside the project. Both call :func:`snapshot_folder`; each turns its
:class:`~agentrig.ConfigurationError` into its own kind of error (``pytest.UsageError``, a
one-line CLI failure).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

from agentrig._errors import ConfigurationError

__all__ = ["DEFAULT_SNAPSHOT_DIR", "RUN_CACHE_FILE", "snapshot_folder"]

DEFAULT_SNAPSHOT_DIR: Final = "snapshots"
#: Under the rootdir: pytest's cache entry ``agentrig/run`` (JSON), the id of the latest
#: pytest session that compared snapshots.
RUN_CACHE_FILE: Final = ".pytest_cache/v/agentrig/run"


def snapshot_folder(rootdir: Path, raw: str | None) -> Path:
    """The snapshot folder for an ``agentrig_snapshot_dir`` value, checked to be in the project.

    Args:
        rootdir: pytest's rootdir.
        raw: the ini value (``None`` or empty: ``snapshots``).

    Raises:
        ConfigurationError: a control character, the rootdir itself, or a folder outside it.
    """
    text = (raw or "").strip()
    if any(ord(c) < 32 for c in text):
        raise ConfigurationError(
            f"agentrig_snapshot_dir = {text!r} holds a control character (NUL, a newline...); "
            "give a plain folder name such as 'snapshots'"
        )
    folder = Path(os.path.normpath(rootdir / (text or DEFAULT_SNAPSHOT_DIR)))
    try:
        rel: Path | None = folder.relative_to(os.path.normpath(rootdir))
    except ValueError:
        rel = None
    if rel is None or not rel.parts:
        where = "is the rootdir itself" if rel is not None else "is outside the rootdir"
        raise ConfigurationError(
            f"agentrig_snapshot_dir = {text!r} {where} ({rootdir}); snapshots need a folder of "
            "their own inside the project, e.g. 'snapshots' or 'tests/snapshots'"
        )
    return folder.absolute()
