"""CI integration helpers shared by the plugin and the CLI (pure functions, no pytest)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Final, Literal

__all__ = ["ci_enabled", "github_annotation"]

_ANNOTATION_LEVELS: Final = ("error", "warning", "notice")
#: ``CI`` values that mean "not CI" (any other value, e.g. ``true`` or ``1``, means CI).
_FALSY: Final = frozenset({"", "0", "false", "no", "off"})


def ci_enabled() -> bool:
    """Whether this runs under CI (the ``CI`` environment variable set to a true value).

    Under CI the plugin never writes snapshots on ``--snapshot-update`` unless forced: a CI run
    must never bless its own drift.
    """
    return os.environ.get("CI", "").strip().lower() not in _FALSY


def _escape_data(value: str) -> str:
    # actions/toolkit core/src/command.ts ``escapeData``.
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    # actions/toolkit core/src/command.ts ``escapeProperty``: data escapes plus ':' and ','.
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github_annotation(
    path: str | os.PathLike[str],
    line: int | None,
    title: str,
    message: str,
    *,
    level: Literal["error", "warning", "notice"] = "error",
    root: str | os.PathLike[str] | None = None,
) -> str:
    """One GitHub Actions workflow command that annotates ``path:line`` in a pull request.

    Escapes exactly as GitHub's own toolkit does: ``%``, CR and LF in the message become
    ``%25``, ``%0D``, ``%0A`` (so a multi-line drift report stays one command), and in the
    properties (``file``, ``title``) ``:`` and ``,`` are escaped too.

    Args:
        path: the file to annotate, relative to the repository root (GitHub ignores absolute
            paths); an absolute path under ``root`` is made relative to it. Written with ``/``.
        line: the 1-based line (the test function's ``def``), or ``None`` for the whole file.
        title: a short title, e.g. ``"agentrig drift: test_pipeline"``.
        message: the text; may span lines.
        level: ``"error"`` (default), ``"warning"`` or ``"notice"``.
        root: the repository root (``GITHUB_WORKSPACE`` or pytest's rootdir).

    Returns:
        The command without a trailing newline: print it on its own line to stdout.

    Raises:
        ValueError: an unknown ``level`` or a ``line`` below 1.

    Example::

        >>> github_annotation("tests/test_app.py", 12, "agentrig drift", "2 changes:\\n text")
        '::error file=tests/test_app.py,line=12,title=agentrig drift::2 changes:%0A text'
    """
    if level not in _ANNOTATION_LEVELS:
        raise ValueError(
            f"github_annotation `level` must be one of {', '.join(_ANNOTATION_LEVELS)}, "
            f"got {level!r}"
        )
    if line is not None and (isinstance(line, bool) or line < 1):
        raise ValueError(f"github_annotation `line` must be 1 or more, got {line!r}")
    p = Path(path)
    if root is not None and p.is_absolute():
        with contextlib.suppress(ValueError):
            p = p.relative_to(Path(root))
    props = [f"file={_escape_property(p.as_posix())}"]
    if line is not None:
        props.append(f"line={line}")
    if title:
        props.append(f"title={_escape_property(title)}")
    return f"::{level} {','.join(props)}::{_escape_data(message)}"
