"""The snapshot file layout: safe names, where received files go, atomic writes, pruning.

One definition for the syrupy extension (:mod:`agentrig.snapshot`) and the CLI, which both
name, find, write and remove snapshot files; pytest-free, so the CLI can use it without
importing pytest or syrupy. The naming rules are described in :mod:`agentrig.snapshot`'s
module notes ("File layout").
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from agentrig._files import atomic_write, folder_sync_batch
from agentrig._secrets import redact_secrets
from agentrig.cassette import CASSETTE_SUFFIX

__all__ = [
    "EXTERNAL_DIR",
    "HTML_SUFFIX",
    "RECEIVED_KEY",
    "RECEIVED_SUFFIX",
    "SNAPSHOT_SUFFIX",
    "atomic_write",
    "base_candidates",
    "file_stem",
    "find_snapshots",
    "folder_sync_batch",
    "html_path",
    "is_agentrig_file",
    "is_cut_for_length",
    "is_received_file",
    "is_snapshot_file",
    "module_folder",
    "nodeid_parts",
    "owned_by",
    "prune_empty_dirs",
    "received_path",
    "safe_component",
    "snapshot_of_received",
]

SNAPSHOT_SUFFIX: Final = ".json"
#: What the plugin writes beside a snapshot whose test drifted.
RECEIVED_SUFFIX: Final = ".received.json"
#: The HTML timeline of a drifted test, beside its received file.
HTML_SUFFIX: Final = ".received.html"
#: The key of the stamp a received file carries (``{"run", "snapshot_sha256", "test"}``).
RECEIVED_KEY: Final = "received"

_SAFE_CHARS_RE = re.compile(r"[^A-Za-z0-9_\-.,=+@()]")
_PARAM_BUDGET = 80
_NAME_BUDGET = 40
_HASH_LEN = 10
# File names are limited to 255 bytes. A stem leaves room for ``.received.json`` (14) and an
# index suffix (``.1234``): 236 bytes for head, ``[param]`` and ``[name]``. The head (the test's
# ``Class.function``) keeps up to 200 bytes; the parametrize id's budget shrinks for long heads
# (it depends on the head only, so every stem of one test shares its base), then the name's.
_STEM_BUDGET = 236
_HEAD_BUDGET = 200
_MIN_BUDGET = 16
_HEAD_UNSAFE_RE = re.compile(r"[^\w.]")
_CUT_HEAD_RE = re.compile(r"^[^\[]*~[0-9a-f]{10}")  # a head cut for length (see _safe_head)
#: Where snapshots of test modules outside the rootdir go, below the snapshot root.
EXTERNAL_DIR: Final = "_external"


# -- names ----------------------------------------------------------------------------------------


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LEN]


def safe_component(text: str, *, budget: int = _PARAM_BUDGET) -> str:
    """``text`` made safe for a file name, unambiguously (see the module notes).

    A secret in it (an API key as a parametrize value, say) is redacted first, as in
    snapshot documents: a file name is committed too.

    >>> safe_component("gpt-4o")
    'gpt-4o'
    >>> safe_component("a/b")
    'a_b~c14cddc033'
    """
    shown = redact_secrets(text)
    safe = _SAFE_CHARS_RE.sub("_", shown)
    if shown == text and safe == text and len(safe) <= budget:
        return safe
    return f"{safe[: max(budget - _HASH_LEN - 1, 1)]}~{_digest(text)}"


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _safe_head(head: str) -> str:
    """The test's ``Class.function`` as a file-name part: kept unless unsafe or too long."""
    if _HEAD_UNSAFE_RE.search(head) or head.startswith("."):
        return safe_component(head, budget=_HEAD_BUDGET)  # not an identifier path: no node id
    if _utf8_len(head) <= _HEAD_BUDGET:
        return head
    cut = head.encode("utf-8", "surrogatepass")[: _HEAD_BUDGET - _HASH_LEN - 1]
    return f"{cut.decode('utf-8', 'ignore')}~{_digest(head)}"


def is_cut_for_length(filename: str) -> bool:
    """True when the test name in a snapshot file name was cut for length (and hashed)."""
    return _CUT_HEAD_RE.search(filename) is not None


def _budget(left: int, most: int) -> int:
    return max(_MIN_BUDGET, min(most, left))


def nodeid_parts(nodeid: str) -> tuple[str, str, str | None]:
    """(file part, ``Class.function``, the raw parametrize id or None) of a node id.

    Works from the node id string alone: on the xdist controller syrupy rebuilds test
    locations from strings, and ``::`` may occur inside a parametrize id.
    """
    # The file part ends at the first ``::`` (a folder or file name may hold ``[``); the
    # names end at the first ``[`` after it (class and function names never hold one).
    file_part, sep, after = nodeid.partition("::")
    if not sep:
        return file_part, file_part, None
    names_part, bracket, rest = after.partition("[")
    names = [p for p in names_part.split("::") if p]
    head = ".".join(names) if names else file_part
    if not bracket:
        return file_part, head, None
    return file_part, head, rest[:-1] if rest.endswith("]") else rest


def file_stem(head: str, param: str | None, index: int | str) -> str:
    """The file stem of assertion ``index`` (a number, or a ``name=``) of the test ``head``
    (``Class.function``) with the parametrize id ``param``."""
    result = _safe_head(head)
    left = _STEM_BUDGET - _utf8_len(result) - 2
    if param is not None:
        result = f"{result}[{safe_component(param, budget=_budget(left - 42, _PARAM_BUDGET))}]"
    if isinstance(index, str):
        left = _STEM_BUDGET - _utf8_len(result) - 2
        return f"{result}[{safe_component(index, budget=_budget(left, _NAME_BUDGET))}]"
    if index:
        return f"{result}.{int(index)}"
    return result


_INDEX_SUFFIX_RE = re.compile(r"\.\d+$")


def base_candidates(stem: str) -> tuple[str, ...]:
    """The base stems (index 0 of a test) a snapshot stem can belong to.

    ``test_a.1`` -> ``test_a``; ``test_a[x]`` -> ``test_a`` (named) or ``test_a[x]``
    (parametrized); ``test_p[1][draft]`` -> ``test_p`` or ``test_p[1]``. Sanitized ids and
    names hold no brackets, so this is exact.
    """
    stem = _INDEX_SUFFIX_RE.sub("", stem)
    open_at = stem.find("[")
    if open_at < 0:
        return (stem,)
    close_at = stem.find("]", open_at)
    return (stem[:open_at], stem[: close_at + 1] if close_at >= 0 else stem)


def owned_by(stem: str, bases: set[str] | None) -> bool:
    """True when ``stem`` is a snapshot of one of the tests whose base stems are ``bases``."""
    return bases is not None and any(c in bases for c in base_candidates(stem))


def is_snapshot_file(filename: str) -> bool:
    """True for a snapshot file name (not a received file, a cassette, a temporary file or
    anything else)."""
    return (
        filename.endswith(SNAPSHOT_SUFFIX)
        and not filename.endswith(RECEIVED_SUFFIX)
        and not filename.endswith(CASSETTE_SUFFIX)
        and not filename.startswith(".")
    )


def received_path(snapshot_location: str) -> str:
    """Where the received document of a mismatch goes: ``<stem>.received.json`` beside it."""
    return snapshot_location[: -len(SNAPSHOT_SUFFIX)] + RECEIVED_SUFFIX


def html_path(snapshot_location: str) -> str:
    """Where the HTML timeline of a drift goes: ``<stem>.received.html`` beside the snapshot."""
    return snapshot_location[: -len(SNAPSHOT_SUFFIX)] + HTML_SUFFIX


# -- files ----------------------------------------------------------------------------------------


def snapshot_of_received(received: Path) -> Path:
    """``x.received.json`` -> ``x.json``."""
    return received.with_name(received.name[: -len(RECEIVED_SUFFIX)] + SNAPSHOT_SUFFIX)


def is_received_file(filename: str) -> bool:
    """True for the name of a received file (``x.received.json``)."""
    return filename.endswith(RECEIVED_SUFFIX)


def find_snapshots(folder: Path) -> Iterator[Path]:
    """The snapshot files (not received files, cassettes or temporary files) under ``folder``,
    sorted."""
    for path in sorted(folder.rglob("*" + SNAPSHOT_SUFFIX)):
        if is_snapshot_file(path.name) and path.is_file():
            yield path


def module_folder(rootdir: Path, snapshot_root: Path, module_path: str) -> Path:
    """The snapshot folder of the test module at ``module_path`` (an absolute path).

    It mirrors the module's path relative to ``rootdir``; a module outside it gets a stable
    folder per path under ``_external/``, still named after the module (syrupy relates
    snapshots to tests by the folder's name).
    """
    path = Path(module_path)
    rel: Path | None = None
    for base, target in ((rootdir, path), (rootdir.resolve(), path.resolve())):
        try:
            rel = target.relative_to(base)
            break
        except ValueError:
            pass
    if rel is not None and rel.parts and ".." not in rel.parts:
        return snapshot_root.joinpath(*rel.with_suffix("").parts)
    digest = hashlib.sha256(str(path).encode("utf-8", "surrogatepass")).hexdigest()
    return snapshot_root / EXTERNAL_DIR / digest[:_HASH_LEN] / path.stem


# -- files ----------------------------------------------------------------------------------------


#: How every agentrig snapshot starts (``dumps`` sorts keys; "agentrig" is the first).
_HEADER_RE = re.compile(rb'\A\s*\{\s*"agentrig"\s*:\s*\{\s*"format"\s*:')


def is_agentrig_file(path: str) -> bool:
    """True when the file at ``path`` starts like an agentrig snapshot (its format header).

    A test's own data file in the snapshot folder (``expected.json``) is not one: it is never
    reported unused, never deleted. Only a regular file is opened (a FIFO would block).
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return False
    return _HEADER_RE.match(head) is not None


def prune_empty_dirs(folder: Path, stop: Path) -> None:
    """Remove ``folder`` and its parents while they are empty, up to (not including) ``stop``."""
    try:
        folder.relative_to(stop)
    except ValueError:
        return
    while folder != stop:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
