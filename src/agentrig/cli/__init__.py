"""The ``agentrig`` command line: the snapshot workflow outside pytest.

Usage::

    agentrig update [PYTEST ARGS...]   re-record snapshots with pytest, show what changed
    agentrig diff A B                  semantic drift between two snapshots or two folders
    agentrig show FILE                 a snapshot as a readable tree, timeline and tables
    agentrig accept [PATHS...]         promote *.received.json files over their snapshots
    agentrig review [PATHS...]         walk the drifted snapshots one at a time
    agentrig cassettes [PATH]          list recorded model calls; --prune drops unused ones
    agentrig mutate [PYTEST ARGS...]   the mutation score of the suite

Every subcommand has ``--help`` with an example. :func:`main` takes the arguments and returns
the exit status, so it is called from tests in-process (``main(["diff", a, b])``) exactly as the
console script and ``python -m agentrig`` call it.

Exit statuses: ``0`` success / no drift, ``1`` drift (``diff``), ``2`` unusable input (a
missing file, a file that is not JSON, a snapshot of another format version, a bad option),
reported as one line on stderr and never as a traceback. ``update`` exits with pytest's status.

This module is only the entry point and the argparse wiring. Each subcommand is a module of
this package with ``add_parser(sub, formatter)`` and ``run(ns, out)`` (``update.py``,
``diff.py``, ``show.py``, ``accept.py``, ``review.py``, ``cassettes.py``; ``mutate.py`` parses
its own options); what they share is in ``_common.py`` (exit statuses, the one-line error,
terminal text, reading snapshots, listing files) and ``_project.py`` (the rootdir and snapshot
folder, found as pytest finds them).

:func:`github_annotation` formats a GitHub Actions workflow command (``::error file=...::...``);
the plugin prints one per drifted test when ``GITHUB_ACTIONS`` is set.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import Final, TextIO

from agentrig._ci import github_annotation
from agentrig._secrets import redact_secrets
from agentrig.cli import accept, cassettes, diff, review, show, update
from agentrig.cli._common import DEFAULT_WIDTH, EXIT_OK, EXIT_USAGE, Unusable, printable

__all__ = ["github_annotation", "main"]

_DESCRIPTION: Final = """\
The snapshot workflow of agentrig (multi-agent regression tests), outside pytest.

commands:
  update [PYTEST ARGS]   re-record the snapshots with pytest and show what changed
  diff A B               semantic drift between two snapshot files or two folders
  show FILE              a snapshot (or *.received.json) as a tree, timeline and tables
  accept [PATHS]         promote *.received.json files over their snapshots
  review [PATHS]         walk the drifted snapshots: accept, reject, skip or quit
  mutate [PYTEST ARGS]   how strong is the suite: mutants of the fakes, score, survivors

exit statuses: 0 success / no drift, 1 drift (diff) or score below --min-score (mutate),
2 unusable input; update exits with pytest's status.
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=DEFAULT_WIDTH)


def _build_parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The ``agentrig`` parser, and ``update``'s (which sees only update's own options)."""
    from agentrig import __version__

    parser = argparse.ArgumentParser(
        prog="agentrig",
        description=_DESCRIPTION,
        epilog="`agentrig COMMAND --help` shows a command's options and examples",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"agentrig {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    update_parser = update.add_parser(sub, _Formatter)
    for command in (diff, show, accept, review, cassettes):
        command.add_parser(sub, _Formatter)
    # Listed here for `agentrig --help`; `agentrig mutate ...` is dispatched before parsing.
    sub.add_parser("mutate", help="mutation score of the suite: mutants, survivors, a CI gate")
    return parser, update_parser


def _run(args: list[str], out: TextIO) -> int:
    parser, update_parser = _build_parser()
    if args and args[0] == "update":
        own, pytest_args = update.split_args(args[1:])
        return update.run(update_parser.parse_args(own), pytest_args, out)
    if args and args[0] == "mutate":
        from agentrig.cli.mutate import run_mutate

        return run_mutate(args[1:], out)
    ns = parser.parse_args(args)
    if ns.command is None:
        parser.print_help(out)
        return EXIT_USAGE
    commands = {
        "diff": diff,
        "show": show,
        "accept": accept,
        "review": review,
        "cassettes": cassettes,
    }
    status: int = commands[ns.command].run(ns, out)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``agentrig`` command line; the console script and ``python -m agentrig``.

    Args:
        argv: the arguments after the program name (default ``sys.argv[1:]``).

    Returns:
        The exit status: 0 success / no drift, 1 drift (``diff``), 2 unusable input or a bad
        option (one line on stderr, never a traceback); ``update`` returns pytest's status.

    Example::

        >>> main(["diff", "old.json", "new.json"])   # doctest: +SKIP
        1
    """
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args and not args[0].startswith("-") else None
    _tolerate_unencodable_output()
    out = sys.stdout
    try:
        return _run(args, out)
    except SystemExit as exc:  # argparse: --help, --version, usage errors (already printed)
        code = exc.code
        return code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_USAGE)
    except Unusable as exc:
        prog = f"agentrig {command}" if command else "agentrig"
        sys.stderr.write(f"{prog}: error: {printable(str(exc))}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `agentrig show x.json | head`: the reader left, nothing to say
        with contextlib.suppress(OSError, ValueError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - interpreter exit flushes it
        return EXIT_OK
    except Exception as exc:  # the guarantee: every failure is one line and exit status 2
        prog = f"agentrig {command}" if command else "agentrig"
        message = printable(redact_secrets(f"{type(exc).__name__}: {exc}".splitlines()[0]))
        sys.stderr.write(
            f"{prog}: error: {message} (a bug in agentrig: please report it, with the command)\n"
        )
        return EXIT_USAGE


def _tolerate_unencodable_output() -> None:
    """Tree guides and arrows must not crash a console whose encoding lacks them (cp1252)."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        reconfigure = getattr(stream, "reconfigure", None)
        if encoding != "utf8" and reconfigure is not None:
            with contextlib.suppress(ValueError, OSError, TypeError):
                reconfigure(errors="replace")
