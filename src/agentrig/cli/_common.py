"""What every ``agentrig`` subcommand shares: exit statuses, the one-line error, terminal
text, reading snapshot documents and listing files.

A private module of the CLI package: its names are unprefixed because the subcommand modules
beside it use them (an underscore would mean "local to this file").
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final, Literal, TextIO

from agentrig._errors import SnapshotError
from agentrig._files import NotARegularFile, read_regular_file
from agentrig.document import loads
from agentrig.drift import DriftReport

# The snapshot file layout is agentrig.snapshot_files' (re-exported for the subcommands).
from agentrig.snapshot_files import RECEIVED_SUFFIX as RECEIVED_SUFFIX
from agentrig.snapshot_files import SNAPSHOT_SUFFIX as SNAPSHOT_SUFFIX
from agentrig.snapshot_files import (
    html_path,
    is_received_file,
    is_snapshot_file,
    received_path,
    snapshot_of_received,
)

EXIT_OK: Final = 0
EXIT_DRIFT: Final = 1
EXIT_USAGE: Final = 2

#: The ini key that moves the snapshot folder, and its default (relative to the rootdir).
SNAPSHOT_DIR_INI: Final = "agentrig_snapshot_dir"
DEFAULT_SNAPSHOT_DIR: Final = "snapshots"
#: The widest line ``show`` prints by default: it fits a 100-column terminal.
DEFAULT_WIDTH: Final = 100
#: How many changes ``update`` and ``accept`` print per snapshot before "... and N more".
FIRST_CHANGES: Final = 5

ColorChoice = Literal["auto", "always", "never"]


class Unusable(Exception):
    """Input the command cannot work with: reported as one line on stderr, exit status 2."""


# -- terminal text ----------------------------------------------------------------------------


def char_width(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal columns, ending in ``…`` when it was cut."""
    if len(text) <= width and text.isascii():
        return text
    total = 0
    for i, ch in enumerate(text):
        total += char_width(ch)
        if total > width:
            # Make room for the ellipsis (one column).
            out = text[:i]
            while out and sum(map(char_width, out)) > width - 1:
                out = out[:-1]
            return out + "…"
    return text


def display(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when under it."""
    try:
        return printable(path.resolve().relative_to(Path.cwd().resolve()).as_posix())
    except ValueError:
        return printable(path.as_posix())


def printable(text: str) -> str:
    """``text`` with the undecodable bytes of a non-UTF-8 file name as U+FFFD (JSON and a
    UTF-8 terminal cannot hold the lone surrogates Python decodes them to)."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def use_color(choice: ColorChoice, stream: TextIO) -> bool:
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 snapshot``, ``2 snapshots``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def add_color(parser: argparse.ArgumentParser) -> None:
    """The ``--color WHEN`` option of the commands that print drift reports."""
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        metavar="WHEN",
        help="colour the drift report: auto (on a terminal, unless NO_COLOR is set), always "
        "or never",
    )


def silence_stdout(out: TextIO) -> None:
    """After the reader of the process's stdout left: no error when the interpreter exits
    and flushes it (an in-process caller's own stream is left alone)."""
    if out is sys.__stdout__:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - interpreter exit flushes it


# -- own options before pytest's ----------------------------------------------------------------


def split_own_args(
    args: Sequence[str], *, flags: frozenset[str], value_options: frozenset[str]
) -> tuple[list[str], list[str]]:
    """A pass-through command's own leading options, and the rest (pytest's arguments).

    ``update`` and ``mutate`` take their options first and hand everything after the first
    argument they do not know (or after ``--``) to pytest unchanged.
    """
    own: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in flags or (arg.partition("=")[0] in value_options and "=" in arg):
            own.append(arg)
        elif arg in value_options:
            own.extend(args[i : i + 2])
            i += 1
        else:
            break
        i += 1
    rest = list(args[i:])
    if rest and rest[0] == "--":
        rest.pop(0)
    return own, rest


# -- reading snapshots and listing files -------------------------------------------------------


def read_bytes(path: Path) -> bytes:
    try:
        return read_regular_file(path)
    except NotARegularFile:
        raise Unusable(
            f"{display(path)} is not a regular file (a FIFO, socket or device); agentrig "
            "never reads from one: move it away"
        ) from None
    except FileNotFoundError:
        raise Unusable(f"no such file: {display(path)}") from None
    except IsADirectoryError:
        raise Unusable(f"{display(path)} is a folder, not a snapshot file") from None
    except OSError as exc:
        raise Unusable(f"cannot read {display(path)}: {exc.strerror or exc}") from None


def load(path: Path) -> dict[str, Any]:
    """A snapshot document from a file; every problem becomes a one-line :class:`Unusable`."""
    data = read_bytes(path)
    try:
        return loads(data, source=display(path))
    except SnapshotError as exc:
        raise Unusable(str(exc)) from None


def snapshot_of(received: Path) -> Path:
    """``x.received.json`` -> ``x.json``."""
    return snapshot_of_received(received)


def received_of(snapshot: Path) -> Path:
    """``x.json`` -> ``x.received.json``."""
    return Path(received_path(str(snapshot)))


def html_page_of(snapshot: Path) -> Path:
    """``x.json`` -> ``x.received.html``, the drift page the plugin writes beside it."""
    return Path(html_path(str(snapshot)))


def is_received(path: Path) -> bool:
    return is_received_file(path.name)


def files_under(folder: Path, suffix: str) -> Iterator[Path]:
    """The regular files under ``folder`` whose name ends in ``suffix``, sorted.

    Dot files are the plugin's temporary files, mid-write: never listed.
    """
    for path in sorted(folder.rglob("*" + suffix)):
        if path.is_file() and not path.name.startswith("."):
            yield path


def snapshot_files(folder: Path) -> Iterator[Path]:
    """The snapshot files (not received files, not cassettes) under ``folder``, sorted."""
    for path in files_under(folder, SNAPSHOT_SUFFIX):
        if is_snapshot_file(path.name):
            yield path


# -- drift summaries shared by update and accept ----------------------------------------------


def change_summary(report: DriftReport) -> str:
    """``3 changes (text 2, usage-cost 1)``: what a re-recording or an accept changes."""
    detail = ", ".join(f"{cls} {n}" for cls, n in report.counts().items())
    return f"{plural(len(report.changes), 'change')} ({detail})"


def first_changes(report: DriftReport, *, color: bool, limit: int = FIRST_CHANGES) -> list[str]:
    """The first ``limit`` changes, one line each, and how many more there are."""
    lines = [change.render(color=color) for change in report.changes[:limit]]
    rest = len(report.changes) - limit
    if rest > 0:
        lines.append(f"… and {plural(rest, 'more change')} (`agentrig diff` lists them all)")
    return lines
