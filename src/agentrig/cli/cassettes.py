"""``agentrig cassettes [PATH] [--prune]`` and ``agentrig show X.cassette.json``.

``cassettes`` lists every cassette under PATH (default: the project's snapshot folder) with its
interactions, the models that answered, tokens and cost at agentrig's default prices.

``--prune`` drops the interactions no test used. Which ones a test used is known only from a
run: after a passing replay, the plugin writes a *use record* into pytest's cache
(``.pytest_cache/d/agentrig/cassette-usage/``) holding the cassette's SHA-256 and the indices
it used. A cassette is pruned only when its record matches its current bytes; otherwise it is
left alone with a note saying to run its test first (never guess from a stale record).
"""

from __future__ import annotations

import argparse
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import orjson

from agentrig._errors import CassetteError
from agentrig.cassette import (
    CASSETTE_SUFFIX,
    Cassette,
    dumps_cassette,
    read_cassette,
    reply_text,
    summarize,
    write_cassette,
)
from agentrig.cli._common import Unusable, clip, display, files_under, plural
from agentrig.cli._project import find_project
from agentrig.money import CONTEXT, ZERO, format_usd

__all__ = ["add_parser", "run", "show"]

_USAGE_PARTS = (".pytest_cache", "d", "agentrig", "cassette-usage")

DESCRIPTION = """\
List the cassettes under PATH (default: the project's snapshot folder): interactions, models,
tokens and cost. With --prune, drop the interactions that no test used in its last passing
replay (the plugin keeps a record of use in .pytest_cache)."""

EPILOG = """\
examples:
  agentrig cassettes                     every cassette of the project
  agentrig cassettes snapshots/tests/test_app
  pytest && agentrig cassettes --prune   replay everything, then drop what went unused
  agentrig show snapshots/tests/test_app/test_chat.cassette.json"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """The ``cassettes`` subcommand's parser."""
    parser = sub.add_parser(
        "cassettes",
        help="list recorded model calls (cassettes); --prune drops unused ones",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=formatter,
    )
    parser.add_argument("path", nargs="?", metavar="PATH", help="a folder or a cassette")
    parser.add_argument(
        "--prune",
        action="store_true",
        help="drop interactions unused in each cassette's last passing replay",
    )
    parser.add_argument("--json", action="store_true", help="print the listing as JSON")


def _usd(amount: Decimal | None) -> str:
    if amount is None:
        return "$?"
    return format_usd(amount)


def _cassettes(target: Path) -> list[Path]:
    if target.is_file():
        return [target]
    return list(files_under(target, CASSETTE_SUFFIX))


def run(ns: argparse.Namespace, out: TextIO) -> int:
    """Run ``agentrig cassettes``; returns the exit status (2: an unreadable cassette)."""
    project = find_project()
    target = Path(ns.path) if ns.path else project.snapshot_dir
    if not target.exists():
        raise Unusable(f"no such file or folder: {display(target)}")
    problems = 0
    listed: list[dict[str, Any]] = []
    loaded: list[tuple[Path, Cassette]] = []
    for path in _cassettes(target):
        try:
            cassette = read_cassette(path, shown=display(path))
        except (CassetteError, OSError) as exc:
            out.write(f"error: {exc}\n")
            problems += 1
            continue
        loaded.append((path, cassette))
        info = summarize(cassette)
        info["path"] = display(path)
        listed.append(info)
    if ns.prune:
        for path, cassette in loaded:
            out.write(_prune(path, cassette, project.rootdir, display(path)) + "\n")
        return 2 if problems else 0
    if ns.json:
        rows = [{**i, "usd": None if i["usd"] is None else float(i["usd"])} for i in listed]
        out.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 2 if problems else 0
    total_tokens = 0
    total_usd: Decimal | None = ZERO
    for info in listed:
        tokens = info["input_tokens"] + info["output_tokens"]
        total_tokens += tokens
        total_usd = (
            None
            if total_usd is None or info["usd"] is None
            else CONTEXT.add(total_usd, info["usd"])
        )
        models = ", ".join(info["models"]) or "-"
        out.write(
            f"{info['path']}  {plural(info['interactions'], 'interaction')}  {models}  "
            f"{tokens} tokens ({info['input_tokens']} in / {info['output_tokens']} out)  "
            f"{_usd(info['usd'])}\n"
        )
    interactions = sum(i["interactions"] for i in listed)
    out.write(
        f"total: {plural(len(listed), 'cassette')}, {plural(interactions, 'interaction')},"
        f" {total_tokens} tokens, {_usd(total_usd)} (at agentrig's default prices)\n"
    )
    return 2 if problems else 0


def _prune(path: Path, cassette: Cassette, rootdir: Path, shown: str) -> str:
    """Drop what the cassette's use record says went unused; say what happened."""
    try:
        rel = path.resolve().relative_to(rootdir.resolve()).as_posix()
    except ValueError:
        return f"{shown}: outside the rootdir {rootdir}; not pruned"
    name = hashlib.sha256(rel.encode("utf-8", "surrogatepass")).hexdigest()[:16] + ".json"
    record_path = rootdir.joinpath(*_USAGE_PARTS, name)
    try:
        record = orjson.loads(record_path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return f"{shown}: no record of use; run its test (pytest, with the cache) first"
    if not isinstance(record, dict) or record.get("cassette") != rel:
        return f"{shown}: no record of use; run its test (pytest, with the cache) first"
    if record.get("sha256") != hashlib.sha256(path.read_bytes()).hexdigest():
        return f"{shown}: changed since its test last passed; run it again before pruning"
    used = {i for i in record.get("used", []) if isinstance(i, int)}
    keep = [x for i, x in enumerate(cassette.interactions) if i in used]
    dropped = len(cassette.interactions) - len(keep)
    if not dropped:
        return f"{shown}: every interaction is used"
    write_cassette(path, cassette.name, keep)
    return f"pruned {dropped} unused interaction(s) from {shown}"


def show(path: Path, shown: str, out: TextIO, width: int, *, as_json: bool = False) -> int:
    """Render one cassette: header, totals, then each interaction with prompt and reply
    (``as_json``: the checked cassette as its canonical bytes)."""
    try:
        cassette = read_cassette(path, shown=shown)
    except FileNotFoundError:
        raise Unusable(f"no such file: {shown}") from None
    if as_json:
        out.write(dumps_cassette(cassette.name, cassette.interactions).decode("utf-8"))
        return 0
    info = summarize(cassette)
    out.write(f"{shown}  ({cassette.name})\n")
    models = ", ".join(info["models"]) or "-"
    out.write(
        f"{plural(info['interactions'], 'interaction')}, {models},"
        f" {info['input_tokens']} in / {info['output_tokens']} out, {_usd(info['usd'])}\n"
    )
    for n, x in enumerate(cassette.interactions):
        req = x.request
        usage = x.usage()
        bits = [f"#{n}", req.provider or "?", req.method, req.endpoint]
        if req.model:
            bits.append(req.model)
        if req.stream:
            bits.append("stream")
        out.write(
            clip(
                " ".join(bits) + f"  -> {x.response.status}  {x.latency:g} s"
                f"  {usage.input_tokens} in / {usage.output_tokens} out",
                width,
            )
            + "\n"
        )
        prompt = _last_message(req.body)
        if prompt:
            out.write(clip(f"    > {prompt}", width) + "\n")
        for line in reply_text(x.response).splitlines() or [""]:
            if line:
                out.write(clip(f"    < {line}", width) + "\n")
    return 0


def _last_message(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    messages = body.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        content = messages[-1].get("content")
        if isinstance(content, str):
            return " ".join(content.split())
        return orjson.dumps(content).decode()
    value = body.get("input")
    return value if isinstance(value, str) else ""
