"""Cassettes: real model calls recorded once, replayed offline, keyed by what was asked.

A cassette is one JSON file per test, ``<snapshot folder>/<test stem>.cassette.json``, beside
the test's snapshot (same folder, same safe stem; see :mod:`agentrig.snapshot`). It holds the
test's model calls in call order, each an *interaction*: the request (provider, method,
endpoint, whether it streamed, the canonical body), the response (status, the headers an SDK
reads, the JSON body or the ordered server-sent events of a stream) and the call's latency.
This module is the format and the matching, pure and pytest-free; the plugin
(:mod:`agentrig.plugin.cassettes`) puts it between the SDKs and the network. One concept, one
module: the file's shape, its checks and the request key that matching uses are one contract
(a key computed differently from what was stored is a miss), so they are not split.

Implementation notes
--------------------
* **Matching on content.** A request's key is its provider, method, endpoint path (no host:
  the local server a test records against listens on a new port every run) and canonical body:
  the JSON body, redacted, with the volatile fields removed (:data:`VOLATILE_FIELDS`: the stream
  flags and per-user ids, plus the ini ``agentrig_cassette_ignore`` paths). ``stream`` leaves the
  body but stays part of the key as the interaction's own ``stream`` flag, since a streamed
  answer (events) cannot serve a plain request. Identical requests are answered in recorded
  order (FIFO per key): the third identical call gets the third recorded answer.
* **Secrets.** Nothing is written that the snapshot redaction (:func:`agentrig._secrets.
  redact_secrets` plus the user's ``agentrig_secret_patterns``) would redact: request headers
  are not stored at all (API keys, auth headers, cookies live there), response headers are kept
  only from :data:`KEPT_RESPONSE_HEADERS`, and every string of both bodies is redacted before
  the file is written, as is the value of any key the redaction names a secret
  (``"api_key": "..."``). Matching uses the redacted form of the live request too, so a redacted
  cassette still replays. A cassette that holds something that looks like a secret (edited by
  hand) is refused, naming the interaction and the field.
* **Byte-stable files.** Keys sorted, 2-space indent, UTF-8, trailing newline; latency is
  quantized (default 0.1 s): a re-recording whose calls took 1.23 s instead of 1.19 s changes
  neither the cassette nor the virtual timestamps in the snapshot, while a call that really got
  slower (0.4 s -> 3 s) still shows as timing drift. Writes are atomic (temp file + fsync +
  ``os.replace``).
* **Misses fail closed.** A request with no recorded answer raises :class:`CassetteMiss` with
  the nearest recorded request, a field-level diff of the two (``messages[1].content: 'a' ->
  'b'``) and the command that re-records; it never reaches the network.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import orjson

from agentrig._errors import CassetteError, CassetteFormatError, CassetteMiss
from agentrig._files import atomic_write, read_regular_file
from agentrig._secrets import REDACTED, redact_secrets
from agentrig.chat import ToolCall
from agentrig.money import CONTEXT, ZERO

__all__ = [
    "CASSETTE_FORMAT",
    "CASSETTE_SUFFIX",
    "DEFAULT_LATENCY_QUANTUM",
    "KEPT_RESPONSE_HEADERS",
    "VOLATILE_FIELDS",
    "Cassette",
    "CassetteRules",
    "Interaction",
    "Player",
    "RecordedReply",
    "Request",
    "Response",
    "SseEvent",
    "Usage",
    "dumps_cassette",
    "load_cassette",
    "parse_sse",
    "read_cassette",
    "recorded_reply",
    "reply_text",
    "request_diff",
    "write_cassette",
]

#: The file name suffix of a cassette (``test_pipeline.cassette.json``).
CASSETTE_SUFFIX: Final = ".cassette.json"
#: The cassette format version this agentrig writes and reads.
CASSETTE_FORMAT: Final = 1
#: Recorded latencies are rounded to a multiple of this many seconds (ini
#: ``agentrig_cassette_latency_quantum``).
DEFAULT_LATENCY_QUANTUM: Final = 0.1
#: Top-level request fields that never take part in matching and are not stored: they change
#: between runs without changing the answer (``stream`` is kept as the interaction's flag).
VOLATILE_FIELDS: Final = (
    "stream",
    "stream_options",
    "user",
    "metadata",
    "safety_identifier",
    "prompt_cache_key",
)
#: The response headers kept in a cassette: what the SDKs read. Everything else (cookies,
#: request ids, rate-limit counters, organization ids) stays out of the file.
KEPT_RESPONSE_HEADERS: Final = (
    "content-type",
    "retry-after",
    "retry-after-ms",
    "x-should-retry",
)

_MAX_DIFF_LINES: Final = 12
_MAX_VALUE: Final = 60
_PATH_RE: Final = re.compile(r"[^.\[\]]+|\[(?:\d+|\*)\]")
_WHOLE_PATH_RE: Final = re.compile(r"(?:[^.\[\]]+|\[(?:\d+|\*)\])(?:\.[^.\[\]]+|\[(?:\d+|\*)\])*")


# -- rules ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CassetteRules:
    """How requests are made canonical and latencies quantized (built once per session).

    Args:
        ignore: extra request body fields left out of matching and of the file (ini
            ``agentrig_cassette_ignore``): dotted paths with ``[N]`` or ``[*]`` for list items,
            e.g. ``temperature``, ``messages[*].name``, ``metadata.trace``.
        latency_quantum: recorded latency is rounded to a multiple of this many seconds
            (``0`` keeps milliseconds).
        patterns: extra compiled patterns redacted from every string (``agentrig_secret_patterns``).

    Raises:
        ConfigurationError: a malformed path or a negative / non-finite quantum.
    """

    ignore: tuple[str, ...] = ()
    latency_quantum: float = DEFAULT_LATENCY_QUANTUM
    patterns: tuple[re.Pattern[str], ...] = ()
    _paths: tuple[tuple[str, ...], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        from agentrig._errors import ConfigurationError

        q = self.latency_quantum
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not math.isfinite(q) or q < 0:
            raise ConfigurationError(
                f"agentrig_cassette_latency_quantum must be a non-negative number of seconds,"
                f" got {q!r}"
            )
        paths = []
        for raw in self.ignore:
            text = raw.strip()
            parts = tuple(_PATH_RE.findall(text))
            if not _WHOLE_PATH_RE.fullmatch(text):
                raise ConfigurationError(
                    f"agentrig_cassette_ignore: {raw!r} is not a field path; write dotted keys"
                    " with [N] or [*] for list items, e.g. temperature or messages[*].name"
                )
            paths.append(parts)
        object.__setattr__(self, "_paths", tuple(paths))

    # -- redaction ----------------------------------------------------------------------------

    def redact_text(self, s: str) -> str:
        """``s`` as the snapshot redaction leaves it (built-in patterns, then the user's)."""
        s = redact_secrets(s)
        for rx in self.patterns:
            s = rx.sub(REDACTED, s)
        return s

    def redact_value(self, value: Any) -> Any:
        """A JSON value with every string redacted, and the string under any key the
        redaction names a secret (``"api_key": "..."``) replaced."""
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, list):
            return [self.redact_value(v) for v in value]
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                key = self.redact_text(k)
                if isinstance(v, str) and v and v != REDACTED and _secret_key(key):
                    out[key] = REDACTED
                else:
                    out[key] = self.redact_value(v)
            return out
        return value

    def find_secret(self, value: Any, path: str) -> str | None:
        """The path of the first string in ``value`` that redaction would change, or None."""
        if isinstance(value, str):
            return path if self.redact_text(value) != value else None
        if isinstance(value, list):
            for i, v in enumerate(value):
                hit = self.find_secret(v, f"{path}[{i}]")
                if hit is not None:
                    return hit
        elif isinstance(value, dict):
            for k, v in value.items():
                sub = f"{path}.{k}" if path else k
                if self.redact_text(k) != k:
                    return sub
                if isinstance(v, str) and v and v != REDACTED and _secret_key(k):
                    return sub
                hit = self.find_secret(v, sub)
                if hit is not None:
                    return hit
        return None

    # -- canonical requests -------------------------------------------------------------------

    def canonical_body(self, body: Any) -> Any:
        """The body as it is matched and stored: redacted, volatile and ignored fields gone."""
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in VOLATILE_FIELDS}
        body = self.redact_value(body)
        for path in self._paths:
            body = _drop_path(body, path)
        return body

    def request(
        self,
        *,
        provider: str | None,
        method: str,
        path: str,
        body: bytes | None,
        stream: bool | None = None,
    ) -> Request:
        """The canonical :class:`Request` of a live call (``body``: its raw bytes).

        ``stream`` defaults to the body's own ``"stream"`` field.
        """
        parsed: Any = None
        text: str | None = None
        if body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                text = self.redact_text(body.decode("utf-8", "replace"))
        if stream is None:
            stream = isinstance(parsed, dict) and parsed.get("stream") is True
        return Request(
            provider=provider,
            method=method.upper(),
            endpoint=self.redact_text(path),
            stream=bool(stream),
            body=self.canonical_body(parsed) if text is None else None,
            text=text,
        )

    def quantize(self, seconds: float) -> float:
        """``seconds`` rounded half-up to the quantum (never negative)."""
        seconds = max(0.0, float(seconds))
        q = self.latency_quantum
        if q == 0:
            return round(seconds, 3)
        return round(math.floor(seconds / q + 0.5) * q, 6)


def _secret_key(key: str) -> bool:
    """True when the shared redaction treats ``key`` as naming a secret (``api_key=...``)."""
    probe = f"{key}=x"
    return redact_secrets(probe) != probe


def _drop_path(value: Any, path: Sequence[str]) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if head.startswith("["):
        if not isinstance(value, list):
            return value
        index = head[1:-1]
        out = []
        for i, item in enumerate(value):
            if index != "*" and int(index) != i:
                out.append(item)
            elif rest:  # a field inside the item goes; the item stays
                out.append(_drop_path(item, rest))
        return out
    if not isinstance(value, dict):
        return value
    out_d = {}
    for k, v in value.items():
        if head in ("*", k):
            if rest:
                out_d[k] = _drop_path(v, rest)
        else:
            out_d[k] = v
    return out_d


# -- the data -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A canonical request: what matching compares and the cassette stores.

    ``body`` is the canonical JSON body (None when the request had none or was not JSON, then
    ``text`` holds it).
    """

    provider: str | None
    method: str
    endpoint: str
    stream: bool
    body: Any = None
    text: str | None = None

    def key(self) -> bytes:
        """The matching key: provider, method, endpoint, stream flag and body, as bytes."""
        return orjson.dumps(
            [self.provider, self.method, self.endpoint, self.stream, self.body, self.text],
            option=orjson.OPT_SORT_KEYS,
        )

    @property
    def model(self) -> str | None:
        """The model the request asked for, if its body names one."""
        model = self.body.get("model") if isinstance(self.body, dict) else None
        return model if isinstance(model, str) else None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "provider": self.provider,
            "method": self.method,
            "endpoint": self.endpoint,
            "stream": self.stream,
        }
        if self.text is not None:
            out["text"] = self.text
        else:
            out["body"] = self.body
        return out


@dataclass(frozen=True)
class SseEvent:
    """One server-sent event of a streamed response: its ``event:`` name and its data (parsed
    JSON where the data is JSON, else the text, e.g. OpenAI's ``[DONE]``)."""

    data: Any
    event: str | None = None

    def encode(self) -> bytes:
        """The event as it goes over the wire (``event: ...`` / ``data: ...`` / blank line)."""
        data = self.data if isinstance(self.data, str) else orjson.dumps(self.data).decode()
        lines = [f"event: {self.event}"] if self.event is not None else []
        lines.extend(f"data: {line}" for line in data.split("\n"))
        return ("\n".join(lines) + "\n\n").encode("utf-8")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"data": self.data}
        if self.event is not None:
            out["event"] = self.event
        return out


@dataclass(frozen=True)
class Response:
    """A recorded response: status, kept headers, and a JSON ``body``, a ``text`` body, or
    the ``events`` of a stream."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    text: str | None = None
    events: tuple[SseEvent, ...] | None = None

    def content(self) -> bytes:
        """The body bytes to hand back to the SDK (a stream's events, concatenated)."""
        if self.events is not None:
            return b"".join(e.encode() for e in self.events)
        if self.text is not None:
            return self.text.encode("utf-8")
        if self.body is None:
            return b""
        return orjson.dumps(self.body)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "headers": dict(self.headers)}
        if self.events is not None:
            out["events"] = [e.to_json() for e in self.events]
        elif self.text is not None:
            out["text"] = self.text
        else:
            out["body"] = self.body
        return out


@dataclass(frozen=True)
class Usage:
    """What one recorded call used: the model that answered, tokens, cost (None: unpriced)."""

    model: str | None
    input_tokens: int
    output_tokens: int
    usd: Decimal | None


@dataclass(frozen=True)
class Interaction:
    """One recorded model call: request, response, latency (quantized seconds)."""

    request: Request
    response: Response
    latency: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "request": self.request.to_json(),
            "response": self.response.to_json(),
            "latency": self.latency,
        }

    def usage(self) -> Usage:
        """Tokens read from the response as the provider reported them (streams included)."""
        found: dict[str, int] = {}
        model: str | None = None
        for doc in self._documents():
            for usage in _usages(doc):
                for k, v in usage.items():
                    if isinstance(v, int) and not isinstance(v, bool):
                        found[k] = v
            m = _response_model(doc)
            if m is not None:
                model = m
        model = model or self.request.model
        inp = found.get("input_tokens", found.get("prompt_tokens", 0))
        out = found.get("output_tokens", found.get("completion_tokens", 0))
        return Usage(
            model=model, input_tokens=inp, output_tokens=out, usd=price_of(model, inp, out)
        )

    def _documents(self) -> Iterator[Any]:
        if self.response.events is not None:
            for e in self.response.events:
                yield e.data
        else:
            yield self.response.body


def _usages(doc: Any, depth: int = 0) -> Iterator[Mapping[str, Any]]:
    """Every ``usage`` object in a response document (top level and one envelope down)."""
    if not isinstance(doc, dict) or depth > 2:
        return
    usage = doc.get("usage")
    if isinstance(usage, dict):
        yield usage
    for key in ("message", "response"):  # anthropic message_start, openai response.completed
        yield from _usages(doc.get(key), depth + 1)


def _response_model(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return None
    for candidate in (doc, doc.get("message"), doc.get("response")):
        if isinstance(candidate, dict) and isinstance(candidate.get("model"), str):
            return str(candidate["model"])
    return None


def price_of(model: str | None, input_tokens: int, output_tokens: int) -> Decimal | None:
    """The cost at agentrig's default prices: the exact model name, else the longest priced
    name it starts with (``gpt-4o-mini-2024-07-18`` -> ``gpt-4o-mini``); None when unpriced."""
    if not model:
        return None
    from agentrig.fake import DEFAULT_PRICES

    price = DEFAULT_PRICES.get(model)
    if price is None:
        prefixes = [name for name in DEFAULT_PRICES if model.startswith(name)]
        if not prefixes:
            return None
        price = DEFAULT_PRICES[max(prefixes, key=len)]
    return price.cost(input_tokens, output_tokens)


@dataclass(frozen=True)
class RecordedReply:
    """What a recorded response answered: its text (a stream's deltas joined), its tool calls
    in order, and the finish reason the provider gave (None if it gave none)."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None


def recorded_reply(response: Response) -> RecordedReply:
    """The reply a recorded response carries, in any of the recorded shapes (OpenAI chat and
    responses, Anthropic messages; plain or streamed)."""
    collected = _Collected()
    docs = [e.data for e in response.events] if response.events is not None else [response.body]
    for doc in docs:
        if isinstance(doc, dict):
            _collect_reply(doc, collected)
    return RecordedReply(
        text="".join(collected.texts),
        tool_calls=tuple(_tool_call(*t) for t in collected.tools),
        finish_reason=collected.finish_reasons[-1] if collected.finish_reasons else None,
    )


def reply_text(response: Response) -> str:
    """The text a response carries (a stream's deltas joined), then its tool calls, one
    ``[tool call] name(arguments)`` line each: what a reader of the cassette wants to see."""
    reply = recorded_reply(response)
    return reply.text + "".join(
        f"\n[tool call] {c.name}({c.arguments_json})" for c in reply.tool_calls
    )


@dataclass
class _Collected:
    texts: list[str] = field(default_factory=list)
    tools: list[list[str]] = field(default_factory=list)  # [id, name, arguments so far]
    finish_reasons: list[str] = field(default_factory=list)


def _tool_call(call_id: str, name: str, arguments: str) -> ToolCall:
    """A recorded tool call; arguments that are not a JSON object are kept as text."""
    try:
        parsed = orjson.loads(arguments) if arguments else {}
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        parsed = {"<unparsed arguments>": arguments}
    return ToolCall(name or "<unnamed>", parsed, id=call_id or None)


def _collect_reply(doc: dict[str, Any], got: _Collected) -> None:
    kind = doc.get("type")
    texts, tools = got.texts, got.tools
    for choice in _dicts(doc.get("choices")):  # openai chat: message, or a chunk's delta
        if isinstance(choice.get("finish_reason"), str):
            got.finish_reasons.append(choice["finish_reason"])
        part = choice.get("message") or choice.get("delta") or {}
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("content"), str):
            texts.append(part["content"])
        for call in _dicts(part.get("tool_calls")):
            fn: dict[str, Any] = call["function"] if isinstance(call.get("function"), dict) else {}
            args = str(fn["arguments"]) if isinstance(fn.get("arguments"), str) else ""
            if fn.get("name"):
                tools.append([str(call.get("id") or ""), str(fn["name"]), args])
            elif tools:
                tools[-1][2] += args
    for holder in (doc, doc.get("message"), doc.get("delta")):  # anthropic stop_reason
        if isinstance(holder, dict) and isinstance(holder.get("stop_reason"), str):
            got.finish_reasons.append(holder["stop_reason"])
    delta = doc.get("delta")
    if kind == "content_block_delta" and isinstance(delta, dict):  # anthropic stream
        if isinstance(delta.get("text"), str):
            texts.append(delta["text"])
        elif isinstance(delta.get("partial_json"), str) and tools:
            tools[-1][2] += delta["partial_json"]
    block = doc.get("content_block")
    if (
        kind == "content_block_start"
        and isinstance(block, dict)
        and block.get("type") == "tool_use"
    ):
        tools.append([str(block.get("id") or ""), str(block.get("name")), ""])
    for block in _dicts(doc.get("content")):  # anthropic message
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            args = orjson.dumps(block.get("input"), option=orjson.OPT_SORT_KEYS).decode()
            tools.append([str(block.get("id") or ""), str(block.get("name")), args])
    if kind == "response.output_text.delta" and isinstance(delta, str):  # openai responses
        texts.append(delta)
    if kind is None or kind == "response":
        items = _dicts(doc.get("output"))
    elif kind == "response.output_item.done":  # a streamed responses item, complete
        items = _dicts([doc.get("item")])
    else:
        items = []
    for item in items:
        if item.get("type") == "message" and kind != "response.output_item.done":
            for c in _dicts(item.get("content")):  # (streamed text came as deltas)
                if isinstance(c.get("text"), str):
                    texts.append(c["text"])
        elif item.get("type") == "function_call":
            call_id = str(item.get("call_id") or item.get("id") or "")
            name = str(item.get("name"))
            tools.append([call_id, name, str(item.get("arguments") or "")])


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def parse_sse(data: bytes) -> tuple[SseEvent, ...]:
    """The events of a server-sent-event stream (comments and ``id:``/``retry:`` dropped)."""
    events: list[SseEvent] = []
    text = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    for block in text.split("\n\n"):
        name: str | None = None
        lines: list[str] = []
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "event":
                name = value
            elif key == "data":
                lines.append(value)
        if not lines and name is None:
            continue
        raw = "\n".join(lines)
        try:
            parsed: Any = orjson.loads(raw) if raw and raw[0] in "{[" else raw
        except orjson.JSONDecodeError:
            parsed = raw
        events.append(SseEvent(data=parsed, event=name))
    return tuple(events)


# -- files ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cassette:
    """A cassette as read from disk: the test it belongs to and its interactions."""

    name: str
    interactions: tuple[Interaction, ...]
    path: Path | None = None


def dumps_cassette(name: str, interactions: Iterable[Interaction]) -> bytes:
    """The cassette file's bytes: byte-stable JSON (sorted keys, 2-space indent, newline)."""
    doc = {
        "agentrig": {"cassette": CASSETTE_FORMAT},
        "name": name,
        "interactions": [i.to_json() for i in interactions],
    }
    try:
        return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
    except (orjson.JSONEncodeError, TypeError) as exc:  # pragma: no cover - JSON in, JSON out
        raise CassetteError(f"cannot write the cassette of {name} ({exc})") from None


def write_cassette(path: Path, name: str, interactions: Iterable[Interaction]) -> None:
    """Write a cassette atomically (the old file or the new one, never half of one)."""
    atomic_write(path, dumps_cassette(name, interactions))


def read_cassette(
    path: Path, *, rules: CassetteRules | None = None, shown: str | None = None
) -> Cassette:
    """Read and check the cassette at ``path``.

    Raises:
        FileNotFoundError: there is none.
        CassetteError: not JSON, wrong shape, or holding something that looks like a secret;
            the message names the file, the interaction and the field.
        CassetteFormatError: written by another cassette format version.
    """
    data = read_regular_file(path)
    return load_cassette(data, rules=rules, source=shown or str(path), path=path)


def load_cassette(
    data: bytes,
    *,
    rules: CassetteRules | None = None,
    source: str = "the cassette",
    path: Path | None = None,
) -> Cassette:
    """A cassette from its file's bytes; see :func:`read_cassette` for the errors."""
    rules = rules if rules is not None else CassetteRules()
    fix = "fix it, or delete it and re-record with `pytest --agentrig-record`"
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CassetteError(f"{source} is not valid JSON ({exc}); {fix}") from None
    header = doc.get("agentrig") if isinstance(doc, dict) else None
    version = header.get("cassette") if isinstance(header, dict) else None
    if not isinstance(version, int) or isinstance(version, bool):
        raise CassetteError(
            f'{source} is not an agentrig cassette (no "agentrig": {{"cassette": N}} header); {fix}'
        )
    if version != CASSETTE_FORMAT:
        newer = version > CASSETTE_FORMAT
        raise CassetteFormatError(
            f"{source} is cassette format {version}, this agentrig reads format"
            f" {CASSETTE_FORMAT}; "
            + (
                "it was written by a newer agentrig: upgrade agentrig"
                if newer
                else "re-record it with `pytest --agentrig-record=all`"
            )
        )
    name = doc.get("name")
    raw = doc.get("interactions")
    if not isinstance(name, str) or not isinstance(raw, list):
        raise CassetteError(f'{source}: needs a "name" string and an "interactions" list; {fix}')
    interactions = []
    for n, item in enumerate(raw):
        where = f"{source}: interaction #{n}"
        interaction = _interaction(item, where, fix)
        hit = rules.find_secret(item, "")
        if hit is not None:
            raise CassetteError(
                f"{where}: {hit} holds what looks like a secret (an API key, token or"
                " password); cassettes never store secrets: remove it (or re-record), and"
                " rotate the key if it is real"
            )
        if interaction.request.body is not None and rules.ignore:
            # A field ignored since recording leaves the stored key as it leaves the live one.
            request = replace(
                interaction.request, body=rules.canonical_body(interaction.request.body)
            )
            interaction = replace(interaction, request=request)
        interactions.append(interaction)
    return Cassette(name=name, interactions=tuple(interactions), path=path)


def _need(cond: bool, where: str, what: str, fix: str) -> None:
    if not cond:
        raise CassetteError(f"{where}: {what}; {fix}")


def _interaction(item: Any, where: str, fix: str) -> Interaction:
    _need(isinstance(item, dict), where, "must be an object", fix)
    req, resp, latency = item.get("request"), item.get("response"), item.get("latency", 0.0)
    _need(isinstance(req, dict), where, "request must be an object", fix)
    _need(isinstance(resp, dict), where, "response must be an object", fix)
    _need(
        isinstance(latency, (int, float))
        and not isinstance(latency, bool)
        and math.isfinite(latency)
        and latency >= 0,
        where,
        f"latency must be a non-negative number of seconds, got {latency!r}",
        fix,
    )
    provider = req.get("provider")
    _need(
        provider is None or isinstance(provider, str),
        where,
        "request.provider must be a string",
        fix,
    )
    method, endpoint, stream = req.get("method"), req.get("endpoint"), req.get("stream")
    _need(isinstance(method, str), where, "request.method must be a string", fix)
    _need(isinstance(endpoint, str), where, "request.endpoint must be a string", fix)
    _need(isinstance(stream, bool), where, "request.stream must be true or false", fix)
    text = req.get("text")
    _need(text is None or isinstance(text, str), where, "request.text must be a string", fix)
    request = Request(
        provider=provider,
        method=method,
        endpoint=endpoint,
        stream=stream,
        body=req.get("body"),
        text=text,
    )
    status, headers = resp.get("status"), resp.get("headers", {})
    _need(
        isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599,
        where,
        f"response.status must be an HTTP status code, got {status!r}",
        fix,
    )
    _need(
        isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values()),
        where,
        "response.headers must map names to strings",
        fix,
    )
    events: tuple[SseEvent, ...] | None = None
    raw_events = resp.get("events")
    if raw_events is not None:
        _need(isinstance(raw_events, list), where, "response.events must be a list", fix)
        parsed = []
        for i, e in enumerate(raw_events):
            _need(
                isinstance(e, dict) and "data" in e,
                where,
                f'response.events[{i}] must be an object with "data"',
                fix,
            )
            name = e.get("event")
            _need(
                name is None or isinstance(name, str),
                where,
                f"response.events[{i}].event must be a string",
                fix,
            )
            parsed.append(SseEvent(data=e["data"], event=name))
        events = tuple(parsed)
    rtext = resp.get("text")
    _need(rtext is None or isinstance(rtext, str), where, "response.text must be a string", fix)
    response = Response(
        status=status,
        headers={str(k).lower(): v for k, v in headers.items()},
        body=resp.get("body"),
        text=rtext,
        events=events,
    )
    return Interaction(request=request, response=response, latency=float(latency))


def response_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The headers a cassette keeps (:data:`KEPT_RESPONSE_HEADERS`), lower-cased."""
    return {k.lower(): v for k, v in headers if k.lower() in KEPT_RESPONSE_HEADERS}


# -- replay ---------------------------------------------------------------------------------------


class Player:
    """Answers requests from recorded interactions: FIFO per key, misses explained.

    Thread-safe (sync SDK clients call from worker threads).

    Args:
        interactions: the cassette's interactions, in recorded order.
        source: the cassette's path as shown in messages.
        rerecord: the command that re-records the test (shown on a miss).
        missing: there is no cassette file yet (a miss says so).
    """

    def __init__(
        self,
        interactions: Sequence[Interaction],
        *,
        source: str,
        rerecord: str,
        missing: bool = False,
    ) -> None:
        self.interactions = tuple(interactions)
        self.source = source
        self.rerecord = rerecord
        self.missing = missing
        self._queues: dict[bytes, list[int]] = {}
        for i, interaction in enumerate(self.interactions):
            self._queues.setdefault(interaction.request.key(), []).append(i)
        self._used: list[int] = []
        self._lock = threading.Lock()

    def answer(
        self, request: Request, *, check: Callable[[Interaction], object] | None = None
    ) -> tuple[int, Interaction] | None:
        """The next recorded answer to ``request`` (its index and interaction), or None.

        ``check`` sees the answer before it is taken and may refuse it by raising (a stage
        budget that cannot afford the recorded usage): the answer then stays for the retry.
        """
        with self._lock:
            queue = self._queues.get(request.key())
            if not queue:
                return None
            if check is not None:
                check(self.interactions[queue[0]])
            index = queue.pop(0)
            self._used.append(index)
            return index, self.interactions[index]

    @property
    def used(self) -> tuple[int, ...]:
        """The indices answered so far, in the order they were used."""
        with self._lock:
            return tuple(self._used)

    def unused(self) -> tuple[int, ...]:
        """The indices of interactions nothing asked for (yet), in recorded order."""
        used = set(self.used)
        return tuple(i for i in range(len(self.interactions)) if i not in used)

    def miss(self, request: Request, *, call: int) -> CassetteMiss:
        """The error for a request with no answer left: the nearest recording and the diff."""
        key = request.key()
        same = [i for i, x in enumerate(self.interactions) if x.request.key() == key]
        head = f"{self.source}: model call #{call} ({_describe(request)}) has no recorded answer"
        if same:
            lines = [
                f"{head}: the cassette answers this exact request {len(same)} time"
                f"{'s' if len(same) != 1 else ''}, and every answer is used up (identical"
                " requests are answered in recorded order, once each)."
            ]
        elif self.missing:
            lines = [f"{head}: there is no cassette yet."]
        elif not self.interactions:
            lines = [f"{head}: the cassette has no interactions."]
        else:
            nearest, diff = self._nearest(request)
            lines = [
                f"{head}.",
                f"nearest recorded request: interaction #{nearest}"
                f" ({_describe(self.interactions[nearest].request)}); what changed:",
            ]
            shown = diff[:_MAX_DIFF_LINES]
            lines.extend(f"  {d}" for d in shown)
            if len(diff) > len(shown):
                lines.append(f"  ... and {len(diff) - len(shown)} more")
        lines.append(
            "Replay never calls the real model. If the change is intended, re-record with a real"
            f" key: {self.rerecord}"
        )
        return CassetteMiss("\n".join(lines))

    def _nearest(self, request: Request) -> tuple[int, list[str]]:
        best: tuple[tuple[int, int, int], int, list[str]] | None = None
        for i, x in enumerate(self.interactions):
            diff = request_diff(x.request, request)
            same_place = (x.request.provider, x.request.endpoint) == (
                request.provider,
                request.endpoint,
            )
            score = (0 if same_place else 1, len(diff), i)
            if best is None or score < best[0]:
                best = (score, i, diff)
        assert best is not None
        return best[1], best[2]


def _describe(request: Request) -> str:
    model = request.model
    bits = [request.provider or "unknown provider", f"{request.method} {request.endpoint}"]
    if model:
        bits.append(model)
    if request.stream:
        bits.append("stream")
    return ", ".join(bits)


def request_diff(recorded: Request, live: Request) -> list[str]:
    """Field-level differences from a recorded request to a live one, e.g.
    ``messages[1].content: 'a' -> 'b'``, ``+ tools[1]: {...}``, ``- temperature: 0.2``."""
    out: list[str] = []
    for name in ("provider", "method", "endpoint", "stream"):
        a, b = getattr(recorded, name), getattr(live, name)
        if a != b:
            out.append(f"{name}: {_short(a)} -> {_short(b)}")
    if recorded.text is not None or live.text is not None:
        if recorded.text != live.text:
            out.append(f"body: {_short(recorded.text)} -> {_short(live.text)}")
        return out
    _diff_values(recorded.body, live.body, "", out)
    return out


def _diff_values(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{k}" if path else str(k)
            if k not in b:
                out.append(f"- {sub}: {_short(a[k])}")
            elif k not in a:
                out.append(f"+ {sub}: {_short(b[k])}")
            else:
                _diff_values(a[k], b[k], sub, out)
        return
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            sub = f"{path}[{i}]"
            if i >= len(b):
                out.append(f"- {sub}: {_short(a[i])}")
            elif i >= len(a):
                out.append(f"+ {sub}: {_short(b[i])}")
            else:
                _diff_values(a[i], b[i], sub, out)
        return
    if a != b or type(a) is not type(b):
        out.append(f"{path or 'body'}: {_short(a)} -> {_short(b)}")


def _short(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_VALUE:
        text = text[: _MAX_VALUE - 1] + "…"
    return text


def summarize(cassette: Cassette) -> dict[str, Any]:
    """Totals for listing: interactions, models, tokens, cost (None if any call is unpriced)."""
    models: dict[str, int] = {}
    inp = out = 0
    usd: Decimal | None = ZERO
    for x in cassette.interactions:
        u = x.usage()
        if u.model:
            models[u.model] = models.get(u.model, 0) + 1
        inp += u.input_tokens
        out += u.output_tokens
        usd = None if usd is None or u.usd is None else CONTEXT.add(usd, u.usd)
    return {
        "name": cassette.name,
        "interactions": len(cassette.interactions),
        "models": dict(sorted(models.items())),
        "input_tokens": inp,
        "output_tokens": out,
        "usd": usd,
    }
