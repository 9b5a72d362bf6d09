"""The snapshot document's shared vocabulary: format version, codec, shape checks, identities.

One home for what every reader and writer of a snapshot document must agree on, so that
:mod:`agentrig.normalize` (which writes documents), :mod:`agentrig.drift` (which compares
them), the syrupy extension and the CLI cannot drift apart: the format version and its header
check, the byte-stable :func:`dumps` and the checking :func:`loads`, who is acting in a span
(:func:`span_actor`) and what tells one entry of a kind from another (:func:`entry_label`).
Pure data in, data out: no pytest, no syrupy.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

import orjson

from agentrig._errors import SnapshotError, SnapshotFormatError
from agentrig.vocabulary import (
    AGENTRIG_AGENT,
    AGENTRIG_STAGE,
    GEN_AI_AGENT_NAME,
    upgrade_attributes,
)

__all__ = [
    "ACTOR_ATTRIBUTES",
    "FORMAT_VERSION",
    "PROMOTE_AFTER",
    "check_header",
    "collector_paused",
    "dumps",
    "entry_label",
    "loads",
    "span_actor",
]

#: The snapshot document format this agentrig writes and reads.
FORMAT_VERSION: Final = 1

#: The attributes that say who is acting in a span, in priority order (sorting, matching and
#: the CLI's tree all use the first one present and not empty).
ACTOR_ATTRIBUTES: Final = (
    GEN_AI_AGENT_NAME,
    "agent",
    "agent.name",
    AGENTRIG_AGENT,
    "stage",
    AGENTRIG_STAGE,
)

_OPTS_DUMP: Final = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE

#: Young container objects after which :func:`collector_paused` moves them to the oldest
#: generation instead of letting the collector walk them all at once (see there).
PROMOTE_AFTER: Final = 20_000


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a large acyclic tree is built.

    :func:`loads` and normalization allocate hundreds of thousands of dicts and lists for a
    big recording, and every allocation burst triggers collector passes that walk all of them
    (and everything else alive) to find cycles that cannot exist there: measured, a third of
    the drifting snapshot path (benchmarks/RESULTS.md). Re-entrant, and a collector that was
    already off stays off.

    Resuming would still walk everything built meanwhile at once: the objects allocated while
    paused all sit in the youngest generation, whose count is then far past its threshold, so
    the first allocation afterwards collects it (measured: 9 ms of the 10,000-span normalize's
    51 ms). After a large build (:data:`PROMOTE_AFTER` young objects), ``gc.freeze()`` +
    ``gc.unfreeze()`` move the young objects to the oldest generation unexamined instead (two
    list splices): the tree is acyclic, so reference counting frees it when it is dropped. The
    price: cyclic garbage made just before (user objects still young) waits for the next full
    collection; nothing is lost. A small build (one test's recording) resumes as it was, and
    so does one while something is frozen already (a pre-fork server's ``gc.freeze()``, which
    unfreezing would undo). Writing the document afterwards (:func:`dumps`) and freeing it get
    slower by ~1-2 ms each at 10,000 spans: the skipped collection no longer pulls the tree
    back into the CPU caches just before. Net, the passing path is still ~6 ms faster.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if gc.get_count()[0] >= PROMOTE_AFTER and not gc.get_freeze_count():
            gc.freeze()
            gc.unfreeze()
        gc.enable()


def span_actor(attributes: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """Who is acting in a span: its actor attribute and value (``("gen_ai.agent.name", "web")``).

    ``None`` when no attribute of :data:`ACTOR_ATTRIBUTES` is present with a value other than
    ``None`` or ``""``; a value that is not a string reads as ``str(value)``.
    """
    if not attributes:
        return None
    for key in ACTOR_ATTRIBUTES:
        value = attributes.get(key)
        if value is not None and value != "":
            return key, value if isinstance(value, str) else str(value)
    return None


def entry_label(kind: str, data: Mapping[str, Any] | None) -> str:
    """What tells one entry of a kind from another: the decision, topic, stage or deadline."""
    if not data:
        return ""
    if kind == "decision":
        keys: tuple[str, ...] = ("decision",)
    elif kind == "bus.emit":
        keys = ("topic",)
    elif kind == "bus.handler":
        keys = ("topic", "handler")
    elif kind.startswith("budget."):
        keys = ("stage", "pool")
    elif kind == "deadline.expired":
        keys = ("deadline",)
    else:
        keys = ("name", "decision", "topic", "stage")
    parts = [data[k] for k in keys if data.get(k) not in (None, "")]
    if kind == "bus.handler" and len(parts) == 2:
        return f"{parts[0]} → {parts[1]}"
    if not parts:
        return ""
    first = parts[0]
    return first if isinstance(first, str) else str(first)


def check_header(doc: Mapping[str, Any], where: str) -> None:
    """Refuse a mapping without the agentrig header or of another format version.

    Raises:
        SnapshotError: no ``{"agentrig": {"format": ...}}`` header, or an unreadable version.
        SnapshotFormatError: another format version; the message says what to do.
    """
    header = doc.get("agentrig")
    if not isinstance(header, Mapping) or "format" not in header:
        raise SnapshotError(
            f'{where} is not an agentrig snapshot (no {{"agentrig": {{"format": ...}}}} header)',
            rerecord=True,
        )
    version = header["format"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise SnapshotError(f"{where} has an unreadable format version {version!r}", rerecord=True)
    if version != FORMAT_VERSION:
        if version < FORMAT_VERSION:
            hint = "it was written by an older agentrig; re-record with `agentrig update`"
        else:
            hint = (
                "it was written by a newer agentrig; upgrade agentrig, or re-record with "
                "`agentrig update`"
            )
        raise SnapshotFormatError(
            f"{where} has snapshot format {version}, this agentrig reads format "
            f"{FORMAT_VERSION}: {hint}"
        )


def dumps(doc: Mapping[str, Any]) -> bytes:
    """The document as snapshot-file bytes: UTF-8 JSON, keys sorted, 2-space indent, final newline.

    Byte-stable: the same document always gives the same bytes.

    Raises:
        SnapshotError: ``doc`` holds values JSON cannot hold (pass it through
            :func:`agentrig.normalize.normalize` first).
    """
    try:
        return orjson.dumps(doc, option=_OPTS_DUMP)
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise SnapshotError(
            f"cannot write the snapshot document ({exc}); pass the data through "
            "agentrig.normalize.normalize() first"
        ) from None


def loads(data: bytes | str, *, source: str | None = None) -> dict[str, Any]:
    """Read a snapshot document back, checking its shape and format version.

    A UTF-8 byte-order mark and CRLF line endings (a Windows checkout) are tolerated.

    Args:
        data: the file's contents.
        source: where it came from (a path), named in every error.

    Raises:
        SnapshotError: not JSON, not UTF-8, or not shaped like a snapshot document.
        SnapshotFormatError: written in another format version; the message says to
            re-record with ``agentrig update``.
    """
    where = source if source is not None else "the snapshot"
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise SnapshotError(
                f"{where} is UTF-16 encoded; snapshots are UTF-8. Re-record it with "
                "`agentrig update` (or re-save it as UTF-8)"
            )
        payload: bytes | str = raw
    elif isinstance(data, str):
        payload = data[1:] if data.startswith("\ufeff") else data
    else:
        raise TypeError(f"loads() needs bytes or str, got {type(data).__name__}")
    try:
        with collector_paused():
            doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(
            f"{where} is not valid JSON ({exc}); fix the file or re-record it with "
            "`agentrig update`"
        ) from None
    if not isinstance(doc, dict):
        raise SnapshotError(
            f"{where} is not an agentrig snapshot (the top level is a {type(doc).__name__}, "
            "not an object)",
            rerecord=True,
        )
    check_header(doc, where)
    _check_shape(doc, where)
    _check_depth(doc, where)
    _upgrade_names(doc)
    return doc


def _upgrade_names(doc: dict[str, Any]) -> None:
    """Read older GenAI attribute names as the current ones (``agentrig.vocabulary``), in place.

    A snapshot recorded with an older instrumentation then compares equal to a run of its
    upgrade; only the names move, values stay.
    """
    stack = [doc.get("timeline")]
    while stack:
        timeline = stack.pop()
        if not isinstance(timeline, list):
            continue
        for item in timeline:
            if not isinstance(item, dict) or "span" not in item:
                continue
            attrs = item.get("attributes")
            if type(attrs) is dict:
                item["attributes"] = upgrade_attributes(attrs)
            stack.append(item.get("timeline"))


def _check_depth(doc: dict[str, Any], where: str) -> None:
    """Refuse a document nested deeper than agentrig ever writes.

    :func:`dumps` cannot write more than 255 nested levels (orjson's limit), and normalization
    stays far below it; the JSON reader accepts up to 1024. A document in between was not
    written by agentrig, and comparing it could exhaust Python's recursion limit. Serializing
    it again is the cheapest exact check (C speed, and only on loads).
    """
    try:
        orjson.dumps(doc)
    except orjson.JSONEncodeError:
        raise SnapshotError(
            f"{where} nests deeper than agentrig ever writes (255 levels), so it was not "
            "written by agentrig",
            rerecord=True,
        ) from None


def _check_shape(doc: dict[str, Any], where: str) -> None:
    timeline = doc.get("timeline")
    if not isinstance(timeline, list):
        raise SnapshotError(f"{where} has no 'timeline' list", rerecord=True)
    stack: list[tuple[list[Any], str]] = [(timeline, "timeline")]
    while stack:
        items, path = stack.pop()
        for i, item in enumerate(items):
            here = f"{path}[{i}]"
            if not isinstance(item, dict):
                raise SnapshotError(
                    f"{where}: {here} is a {type(item).__name__}, not a span or an entry",
                    rerecord=True,
                )
            if "span" in item:
                if not isinstance(item["span"], str):
                    raise SnapshotError(f"{where}: {here}.span is not a string")
                for key, kind in (("attributes", dict), ("events", list), ("timeline", list)):
                    if key in item and not isinstance(item[key], kind):
                        raise SnapshotError(
                            f"{where}: {here}.{key} is not a {kind.__name__}", rerecord=True
                        )
                for j, ev in enumerate(item.get("events", ())):
                    if not isinstance(ev, dict) or not isinstance(ev.get("name"), str):
                        raise SnapshotError(
                            f"{where}: {here}.events[{j}] is not an event with a name"
                        )
                if "timeline" in item:
                    stack.append((item["timeline"], f"{here}.timeline"))
            elif "entry" in item:
                if not isinstance(item["entry"], str):
                    raise SnapshotError(f"{where}: {here}.entry is not a string")
            else:
                raise SnapshotError(
                    f"{where}: {here} is neither a span (no 'span' key) nor an entry (no "
                    "'entry' key)",
                    rerecord=True,
                )
