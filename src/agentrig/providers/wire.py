"""Shared helpers of the wire formats: request errors, SSE framing, deterministic chunking.

Each provider module (``openai_wire``, ``anthropic_wire``) turns an
:class:`~agentrig.providers.intercept.InterceptedRequest` into a
:class:`~agentrig.FakeRequest` (``parse``) and a :class:`~agentrig.fake.FakeReply` into the
provider's exact JSON or SSE (``render``), plus its error bodies (``error``). They are pure:
no I/O, no clock, no randomness, so the same reply is the same bytes on every run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

__all__ = ["BadRequest", "require", "slug", "sse", "text_chunks"]

_CHUNK_RE: Final = re.compile(r"\S+\s*|\s+")


class BadRequest(Exception):
    """A malformed request body; ``field`` names the offending field (answered with a 400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def require(body: Mapping[str, Any], field: str, kind: type | tuple[type, ...]) -> Any:
    """``body[field]``, which must exist and be of ``kind``, else :class:`BadRequest`."""
    if field not in body:
        raise BadRequest(field, "this field is required")
    value = body[field]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise BadRequest(field, f"must be {names}, got {type(value).__name__}")
    return value


def sse(data: object, *, event: str | None = None) -> bytes:
    """One server-sent event (key-sorted JSON data, so bytes are stable)."""
    payload = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    head = f"event: {event}\n".encode() if event is not None else b""
    return head + b"data: " + payload + b"\n\n"


def text_chunks(text: str) -> list[str]:
    """Split a reply into stream deltas: one word with its trailing whitespace each."""
    return _CHUNK_RE.findall(text) or [""]


def slug(name: str) -> str:
    """An id-safe form of an agent name (``[A-Za-z0-9_-]``, as Anthropic ids require)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name) or "agent"
