"""One folder fsync per touched snapshot folder per session, instead of one per file written.

Every file is still fsynced before its ``os.replace`` (see :mod:`agentrig._files`); the folder
fsyncs that make the renames survive a power cut are batched to the end of the session
(``pytest_unconfigure``, after syrupy has written its snapshots in ``pytest_sessionfinish``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentrig._files import begin_folder_sync, end_folder_sync

__all__ = ["FolderSyncPlugin"]


class FolderSyncPlugin:
    """Opens a folder-sync batch when registered, closes it when the session is unconfigured."""

    def __init__(self) -> None:
        self._batch: set[Path] = begin_folder_sync()

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self) -> None:
        end_folder_sync(self._batch)
