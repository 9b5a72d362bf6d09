"""Normalization: a raw recording in, the canonical snapshot document out.

:func:`normalize` turns a :class:`~agentrig.recording.Recording` (or its ``to_dict()``, or an
already normalized document) into plain JSON data that is identical, byte for byte, every time
the same program runs, whatever the machine, the hash seed, the thread timing or the order in
which concurrent agents happened to finish. :func:`dumps` writes it byte-stably and
:func:`loads` reads it back, checking the format version.

The document is written for two readers, a human looking at a ``git diff`` and
:mod:`agentrig.drift`. It is a tree of spans; each span holds, in order, the timeline of
what happened inside it: its child spans and the entries (decisions, budget moves, bus
traffic, deadline expiries) attributed to it. What happened outside any span sits in the
top-level timeline::

    {
      "agentrig": {"format": 1},
      "name": "tests/test_app.py::test_pipeline",
      "timeline": [
        {
          "span": "pipeline", "id": 1, "parent": null, "status": "ok",
          "start": 0.0, "duration": 3.0,
          "timeline": [
            {"entry": "budget.acquire", "t": 0.0,
             "data": {"granted_usd": 0.04, "pool": "pool", "stage": "research", ...}},
            {"span": "model.call", "id": 2, "parent": 1, "status": "ok",
             "start": 0.0, "duration": 1.0,
             "attributes": {"gen_ai.agent.name": "research",
                            "gen_ai.usage.input_tokens": 12, ...}},
            {"entry": "decision", "t": 1.0,
             "data": {"decision": "stage_complete", "log": "decisions", "stage": "research"}}
          ]
        }
      ]
    }

Span items carry ``span`` (the name), ``id``, ``parent``, ``status`` and, when present,
``status_message``, ``error``, ``start`` and ``duration`` (virtual seconds), ``attributes``,
``events`` (``name``, ``t``, ``attributes``), ``timeline`` and ``unfinished``. Entry items
carry ``entry`` (the kind), ``t`` and ``data``. Keys are sorted when written.

What normalization does to values, at any depth:

* wall-clock fields (``wall``, ``wall_start``, ``wall_end``) are dropped; virtual times are
  kept, rounded to the microsecond; a time that is ``None`` (the run was not on a virtual
  clock) is left out;
* UUIDs become ``<uuid:N>``, numbered in the order a reader meets them in the document, so the
  same UUID seen twice gets the same placeholder; ISO-8601 date-times, ``datetime`` objects
  and numbers that look like epoch wall-clock readings (seconds as floats; milli-, micro- and
  nanoseconds as ints; seconds as ints under keys like ``created_at``) become ``<timestamp>``;
  pytest temporary directories become ``<tmp>``; the `` at 0x7f…`` memory address of an object's
  default repr (``<Doc object at 0x7f…>``) vanishes, other text with ``at 0x`` stays;
* secrets are redacted before anything else happens to a value (:mod:`agentrig._secrets`
  holds the shapes: provider tokens, private keys, JWTs, ``Bearer <token>``, and the session's
  ``agentrig_secret_patterns``) anywhere inside a string, and there too credential fields:
  header lines (``Authorization: Basic <redacted>``, ``Cookie: <redacted>``), ``key=value``
  pairs whose key names a secret (``password=``, ``api_key:``, ``"client_secret":``,
  ``token=``, ``DB_PASSWORD_PROD=``) and URL passwords (``postgres://app:<redacted>@db``);
  values under keys named like ``password``,
  ``secret``, ``api_key``, ``authorization``, ``cookie``, ``credential``, ``private_key``; and
  *string* values under keys containing ``token`` (so ``gen_ai.usage.input_tokens: 42`` stays
  42). :class:`NormalizeRules` adds patterns;
* floats are rounded to 6 significant digits, ``-0.0`` becomes ``0.0``, NaN and infinities
  become ``"<nan>"``, ``"<inf>"``, ``"<-inf>"``; integers beyond 64 bits become strings;
* values JSON cannot hold get a stable placeholder and never a memory address: ``<Doc>``,
  ``<bytes len=3>``, ``<function on_summarize>``, ``<TimeoutError: search timed out>``;
  dataclasses and pydantic models become objects, sets become sorted lists, enums
  ``Color.RED``, paths POSIX strings, non-string keys ``str(key)`` (``1`` and ``"1"`` in one
  dict become ``"1"`` and ``"1#2"``, in insertion order); lone surrogates become U+FFFD; a
  cycle becomes ``<cycle>`` and nesting deeper than 32 levels ``<max depth>``.
* ``exception.stacktrace`` is dropped: it holds absolute paths and line numbers, which differ
  between machines and move with every edit; the exception's type and message stay.

Implementation notes
--------------------
**What must be canonical.** A snapshot must not depend on anything that can change between two
runs of an unchanged program. Virtual time does not change: the virtual loop fires timers in a
fixed order, and work in threads takes no virtual time, so every ``start``, ``end`` and ``t`` is
reproducible. *Arrival order* does change: which of two concurrent agents appends its span or
entry first depends on thread timing (and, without a virtual clock, on everything). The raw
recording stores arrival order faithfully in ``seq``; the document must not.

**Happens-before from virtual time.** Siblings are ordered by virtual start time first. That
order is real: if A starts before B in virtual time it does so in every run. Siblings that
start at the *same* virtual instant are where arrival order leaks in: the children of one
``asyncio.gather`` all start at the gather's instant, and with thread work in them they open
their spans in a different order on every run. Such siblings form a *concurrency group* and
are sorted by content: span name, then the agent (``gen_ai.agent.name`` or ``agent`` or
``stage`` attribute), then, only when that still ties, a BLAKE2 digest of the member's whole
normalized subtree. Spans that merely overlap but start at different instants need no group:
their start times already order them.

The price: two *sequential* steps that take no virtual time at all (a zero-latency stage and
the next one, both at t=0) cannot be told apart from concurrent ones by time, nor by ``seq``
(a thread can delay one agent until the other is done). Only knowing *which task* opened each
span can. So a span record may carry an optional ``task`` token (any value, equal exactly for
the spans one asyncio task or thread opened, never reused within a recording; it orders and is
not written). With tokens, the spans one task opened at an instant form a *chain* that keeps
its arrival order (one task cannot run two steps at once), chains are what gets sorted, and a
sibling opened by the parent span's own task is sequential with everything around it and splits
the instant into separately arranged segments: a pipeline keeps its stage order, a gather is
still canonical. Without tokens we choose determinism: every equal-start span is its own
chain, sorted by content. Then, a zero-latency pipeline reads in name order; give the stages a
(fake) latency, or record tokens, to see them in time order.

**Entries around a group.** Entries attributed to a span are kept in arrival order (one task
records them one after another; decisions at the same instant keep their order). An entry that
arrives *inside* a concurrency group's window (after the first member opened and before the
last closed, at the group's instant) may come from one of the concurrent tasks, so it joins the
group and is sorted with it; entries before and after the window stay put. Likewise the span's
own events whose time falls in a group's window (its instant to its last member's end) are
sorted by content: failures that concurrent agents report on their parent span are the typical
case. Concurrent work should record inside its own span: that is always canonical.

**No virtual time.** When some sibling has no time (``t is None``), we fall back to ``seq``:
siblings whose ``[seq, end_seq]`` intervals overlap form a group; others keep arrival order.

**Identity survives renumbering.** Span ids are renumbered 1, 2, 3… in document order after
sorting, and ``parent`` keeps each link. UUIDs are replaced in the single value walk by an
internal token that remembers which UUID it was (``\\x00U<k>\\x00``, ``k`` in arrival order);
sort keys and digests mask the token, so arrival order cannot leak into the sort; a final pass,
only when a UUID was seen, numbers the tokens in reading order (keys sorted, as written).
Keys that read alike with their tokens masked (two UUID keys) are visited known UUIDs first,
then by what the token stood for (a ``<uuid:N>`` by N): a second pass then meets them in the
order the first did, whatever order the input listed them in.
Timestamps get no number: two events in the same microsecond on one run and not on the next
would otherwise change the document.

**Idempotence.** :func:`normalize` accepts its own output: spans are rebuilt from the tree (the
``parent`` links win where present) and keep the document's order, which is canonical already
(and could not be re-derived: task tokens are not written); ``<uuid:N>`` is treated like a UUID
and renumbered identically; rounding is a fixed point. Group membership uses the rounded times,
so the order a raw recording gets does not depend on sub-microsecond noise.

**Cost.** Values are walked once, building new containers (no ``deepcopy``); strings shorter
than 11 ASCII characters return at once, longer ones pay a few substring checks and run a
regular expression only when a check hits, and their results (like those of float rounding) are
memoized for the run; key classification is cached across runs; digests are computed only for
members that tie on name and agent; path rules build path strings only when some are
configured. One top-level value may expand to at most 100,000 containers (``<truncated>``
after that), which bounds a DAG of shared references that would otherwise grow
exponentially. Nesting is bounded (32 value levels, 64 span levels, after which a span's
descendants are listed flat, each with its ``parent``) so that no recursion runs away and
orjson's 255-level limit is never reached; a cycle is detected by the ids of the containers on
the current path.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import fnmatch
import hashlib
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

import orjson

from agentrig._errors import (
    AgentRigError,
    ConfigurationError,
    RecordingError,
    SnapshotError,
    SnapshotFormatError,
)
from agentrig._secrets import REDACTED as _REDACTED
from agentrig._secrets import redact_secrets as _redact_secrets
from agentrig.vocabulary import SEMCONV_VERSION, upgrade_attributes

if TYPE_CHECKING:
    from agentrig.recording import Recording

__all__ = ["FORMAT_VERSION", "SCRUB_RULES", "NormalizeRules", "dumps", "loads", "normalize"]

#: The snapshot document format this agentrig writes and reads.
FORMAT_VERSION: Final = 1

_MASKED: Final = "<masked>"
_TIMESTAMP: Final = "<timestamp>"
_CYCLE: Final = "<cycle>"
_TOO_DEEP: Final = "<max depth>"
_TRUNCATED: Final = "<truncated>"

# Nesting limits. A value may nest 32 containers deep inside an attributes/data dict; spans nest
# 64 deep before their descendants are listed flat. Each span level costs two JSON levels, so
# the deepest document stays far below orjson's limit of 255 nested containers.
_MAX_VALUE_DEPTH: Final = 32
_MAX_SPAN_DEPTH: Final = 64
# Containers one top-level value may expand to (a DAG of shared references grows exponentially).
_MAX_CONTAINERS: Final = 100_000

_I64_MIN: Final = -(2**63)
_CENT: Final = Decimal("0.01")

#: The built-in scrubbing rules :class:`NormalizeRules` ``keep=`` can turn off.
SCRUB_RULES: Final = ("uuids", "timestamps", "epoch_numbers")
_KEEP_UUIDS: Final = 1
_KEEP_TIMESTAMPS: Final = 2
_KEEP_EPOCH: Final = 4
_U64_END: Final = 2**64
_INF: Final = float("inf")

# Wall-clock epoch ranges (2000-01-01 .. 2100-01-01) in s, ms, us and ns.
_EPOCH_S = (946_684_800, 4_102_444_800)
_EPOCH_RANGES: Final = tuple(
    (lo * m, hi * m) for m in (1, 1_000, 1_000_000, 10**9) for lo, hi in [_EPOCH_S]
)
_EPOCH_SUBSECOND_RANGES: Final = _EPOCH_RANGES[1:]

# Identity attributes of a span, in priority order: who is acting (drift and sorting use it).
_IDENTITY_ATTRIBUTES: Final = (
    "gen_ai.agent.name",
    "agent",
    "agent.name",
    "agentrig.agent",
    "stage",
    "agentrig.stage",
)

_OPTS_DUMP: Final = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE

# --- string patterns ------------------------------------------------------------------------

_UUID_RE: Final = re.compile(
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"(?![0-9A-Fa-f])"
)
_UUID_PLACEHOLDER_RE: Final = re.compile(r"<uuid:\d+>")
_TIMESTAMP_RE: Final = re.compile(
    r"(?<!\d)\d{4}-[01]\d-[0-3]\d[T ][0-2]\d:[0-5]\d(?::[0-5]\d(?:[.,]\d+)?)?"
    r"(?:Z|[+-][0-2]\d(?::?[0-5]\d)?)?(?!\d)"
)
_TMP_RE: Final = re.compile(
    r"(?:[A-Za-z]:)?[^\s'\"<>|]*?[/\\]pytest-of-[^/\\\s]+[/\\]pytest-(?:\d+|current)"
    r"(?:[/\\]popen-gw\d+)?"
)
# Only inside an object's default repr (``<Doc object at 0x7f3a…>``): user text such as
# "paid the wallet at 0x52908400098527886E0F7030069857D2E4169EE7" is data and stays.
_ADDRESS_RE: Final = re.compile(r" at 0x[0-9A-Fa-f]+(?=>)")
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")
_TOKEN_STR_RE: Final = re.compile("\x00U(\\d+)\x00")

# --- key classification -----------------------------------------------------------------------

_K_DROP: Final = 1
_K_MASK: Final = 2
_K_SECRET: Final = 4  # redact strings and containers (numbers, bools and None stay)
_K_TOKENISH: Final = 8  # redact strings only
_K_WALL: Final = 16  # drop numbers
_K_TIMEY: Final = 32  # ints in the epoch-seconds range become <timestamp>
_K_RENAME: Final = 64  # the key's text itself changes (a UUID, a secret, a surrogate in it)
_K_VALUE_RULES: Final = _K_MASK | _K_SECRET | _K_TOKENISH | _K_WALL | _K_TIMEY

_SECRET_KEY_RE: Final = re.compile(
    r"passw(?:or)?d|passphrase|secret|api[-_]?key|authori[sz]ation|cookie|credential"
    r"|private[-_]?key|access[-_]?key|^pwd$|^auth$"
)
_TIMEY_KEY_RE: Final = re.compile(
    r"(?:^|[._-])(?:ts|time|timestamp|date|datetime|created|updated|modified|expires?)$|_at$"
)
_WALL_KEYS: Final = frozenset({"wall", "wall_start", "wall_end", "wall_time", "wall_clock"})
_DEFAULT_DROP_KEYS: Final = frozenset({"exception.stacktrace"})
_KEY_CACHE_MAX: Final = 8192
_MEMO_MAX: Final = 65536

_PATH_SCOPES: Final = ("spans.", "entries.")
_STATUSES: Final = frozenset({"unset", "ok", "error"})


def _classify_builtin_key(key: str) -> int:
    low = key.lower()
    flags = 0
    if key in _DEFAULT_DROP_KEYS:
        flags |= _K_DROP
    if _SECRET_KEY_RE.search(low):
        flags |= _K_SECRET
    elif "token" in low and "tokeniz" not in low:
        flags |= _K_TOKENISH
    if low in _WALL_KEYS:
        flags |= _K_WALL
    if _TIMEY_KEY_RE.search(low):
        flags |= _K_TIMEY
    return flags


def _rule_list(name: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Iterable):
        raise ConfigurationError(
            f"NormalizeRules `{name}` must be a list of strings, got {type(value).__name__}"
        )
    out: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise ConfigurationError(
                f"NormalizeRules `{name}` must hold strings, got {item!r} ({type(item).__name__})"
            )
        item = item.strip()
        if item:
            out.append(item)
    return tuple(out)


def _check_field_rule(kind: str, rule: str) -> None:
    where = f"normalize rule {kind}={rule!r}"
    if any(ch.isspace() for ch in rule):
        raise ConfigurationError(f"{where}: a rule may not contain whitespace")
    if rule.startswith(".") or rule.endswith(".") or ".." in rule:
        raise ConfigurationError(
            f"{where}: empty path segment; write e.g. 'request_id' or "
            "'spans.*.attributes.request_id'"
        )
    if rule.startswith(_PATH_SCOPES):
        if rule.count(".") < 2:
            raise ConfigurationError(
                f"{where}: a path needs a scope, a name and a field, e.g. "
                "'spans.*.attributes.request_id' or 'entries.decision.data.request_id'"
            )
        return
    if rule.startswith(("span.", "entry.", "attributes.", "data.", "events.")) or any(
        part in rule for part in (".attributes.", ".data.", ".events.")
    ):
        raise ConfigurationError(
            f"{where}: looks like a path but does not start with 'spans.' or 'entries.'; "
            "write 'spans.<name>.attributes.<key>', 'spans.<name>.events.<event>.attributes.<key>'"
            ", 'spans.<name>.error.<key>', 'entries.<kind>.data.<key>', or a bare key name"
        )


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


@dataclass(frozen=True, slots=True, init=False)
class NormalizeRules:
    """User rules applied on top of the built-in normalization.

    Args:
        drop: fields to remove from the document.
        mask: fields whose value becomes ``"<masked>"`` (the key stays, so presence is still
            compared).
        redact: extra regular expressions; every match inside any string becomes
            ``"<redacted>"``.
        float_digits: significant digits floats are rounded to (1..17, default 6); never
            coarser than a cent (money: ``12345.67`` stays ``12345.67``).
        keep: built-in scrubbing rules to turn off, from :data:`SCRUB_RULES`: ``"uuids"``
            (UUIDs stay as recorded), ``"timestamps"`` (ISO-8601 date-times and
            ``datetime`` / ``date`` objects stay, as ISO text), ``"epoch_numbers"`` (numbers
            in a wall-clock range, such as 13-digit ids or amounts above 9.5e8, stay).

    A field rule is one of:

    * a **key name** (``request_id``, ``gen_ai.response.id``, or a glob such as ``*_id``):
      matches that key in span attributes, event attributes, errors and entry data, at any
      depth;
    * a **path** starting with ``spans.`` or ``entries.``, matched as a glob (``*`` matches any
      characters including dots, ``?`` one character, ``[abc]`` a set) against the field's
      path, which reads like the document:

      - ``spans.<span name>.attributes.<key>[.<nested key or list index>...]``
      - ``spans.<span name>.events.<event name>.attributes.<key>``
      - ``spans.<span name>.error.<key>``
      - ``entries.<entry kind>.data.<key>[...]``

      e.g. ``spans.*.attributes.request_id``, ``spans.model.call.attributes.gen_ai.response.*``,
      ``entries.bus.emit.data.payload.session``.

    Keys are matched as recorded (before placeholders replace UUIDs in them), span, event and
    entry names as they appear in the document. Rules are validated here: a malformed rule or
    regular expression raises :class:`~agentrig.ConfigurationError` naming it. Values under a
    dropped or masked key are never walked, so a rule is also the way to keep a huge or
    volatile payload out of a snapshot.

    Usage::

        rules = NormalizeRules(drop=["spans.*.attributes.request_id"], mask=["session"],
                               redact=[r"acct-\\d{6}"])
        doc = normalize(recording, rules=rules)
    """

    drop: tuple[str, ...]
    mask: tuple[str, ...]
    redact: tuple[str, ...]
    float_digits: int
    keep: tuple[str, ...]
    _compiled: _CompiledRules = field(init=False, repr=False, compare=False, hash=False)

    def __init__(
        self,
        *,
        drop: str | Iterable[str] = (),
        mask: str | Iterable[str] = (),
        redact: str | Iterable[str] = (),
        float_digits: int = 6,
        keep: str | Iterable[str] = (),
    ) -> None:
        drop = _rule_list("drop", drop)
        keep = _rule_list("keep", keep)
        unknown = [k for k in keep if k not in SCRUB_RULES]
        if unknown:
            raise ConfigurationError(
                f"normalize rule keep={unknown[0]!r} is not a scrubbing rule; valid: "
                f"{', '.join(SCRUB_RULES)}"
            )
        mask = _rule_list("mask", mask)
        redact = _rule_list("redact", redact)
        for rule in drop:
            _check_field_rule("drop", rule)
        for rule in mask:
            _check_field_rule("mask", rule)
            if rule in drop:
                raise ConfigurationError(
                    f"normalize rule {rule!r} is in both drop and mask; keep one"
                )
        digits = float_digits
        if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 17:
            raise ConfigurationError(
                f"NormalizeRules `float_digits` must be an int from 1 to 17, got {digits!r}"
            )
        compiled_redact: list[re.Pattern[str]] = []
        for pattern in redact:
            try:
                rx = re.compile(pattern)
            except re.error as exc:
                raise ConfigurationError(
                    f"normalize rule redact={pattern!r} is not a valid regular expression: {exc}"
                ) from None
            if rx.search("") is not None:
                raise ConfigurationError(
                    f"normalize rule redact={pattern!r} matches the empty string and would "
                    "redact everywhere; make it match at least one character"
                )
            compiled_redact.append(rx)
        object.__setattr__(self, "drop", drop)
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "redact", redact)
        object.__setattr__(self, "float_digits", digits)
        object.__setattr__(self, "keep", keep)
        object.__setattr__(
            self, "_compiled", _CompiledRules(drop, mask, tuple(compiled_redact), digits, keep)
        )

    def merged(self, other: NormalizeRules | None) -> NormalizeRules:
        """These rules plus ``other``'s (e.g. ini rules plus a marker's); ``other`` wins on
        ``float_digits`` when it differs from the default."""
        if other is None:
            return self

        def union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return a + tuple(x for x in b if x not in a)

        digits = other.float_digits if other.float_digits != 6 else self.float_digits
        mask = union(self.mask, other.mask)
        drop = union(self.drop, other.drop)
        return NormalizeRules(
            drop=drop,
            mask=tuple(m for m in mask if m not in drop),
            redact=union(self.redact, other.redact),
            float_digits=digits,
            keep=union(self.keep, other.keep),
        )


class _CompiledRules:
    """NormalizeRules made fast: key globs folded into a per-key flag cache, path globs compiled."""

    __slots__ = (
        "cents_from",
        "float_format",
        "keep",
        "key_cache",
        "key_rules",
        "path_rules",
        "redact",
    )

    def __init__(
        self,
        drop: tuple[str, ...],
        mask: tuple[str, ...],
        redact: tuple[re.Pattern[str], ...],
        digits: int,
        keep: tuple[str, ...] = (),
    ) -> None:
        self.keep = (
            (_KEEP_UUIDS if "uuids" in keep else 0)
            | (_KEEP_TIMESTAMPS if "timestamps" in keep else 0)
            | (_KEEP_EPOCH if "epoch_numbers" in keep else 0)
        )
        # From here up, `digits` significant digits would round away cents: round to cents.
        self.cents_from = 10.0 ** max(digits - 2, 0)
        self.key_rules: list[tuple[re.Pattern[str], int]] = []
        self.path_rules: list[tuple[re.Pattern[str], int]] = []
        for rules, flag in ((drop, _K_DROP), (mask, _K_MASK)):
            for rule in rules:
                target = self.path_rules if rule.startswith(_PATH_SCOPES) else self.key_rules
                target.append((_glob(rule), flag))
        self.redact = redact
        self.float_format = f"%.{digits}g"
        self.key_cache: dict[str, int] = {}

    def key_flags(self, key: str) -> int:
        flags = _classify_builtin_key(key)
        if self.keep & _KEEP_EPOCH:
            flags &= ~_K_TIMEY
        for rx, flag in self.key_rules:
            if rx.match(key):
                flags |= flag
        if _normalize_text(key, self.redact, _probe_uuid, self.keep) != key:
            flags |= _K_RENAME
        if len(self.key_cache) < _KEY_CACHE_MAX:
            self.key_cache[key] = flags
        return flags

    def path_action(self, path: str) -> int:
        for rx, flag in self.path_rules:
            if rx.match(path):
                return flag
        return 0


_DEFAULT_RULES: Final = NormalizeRules()


# --- the document model during normalization ------------------------------------------------


class _Item:
    """A span or an entry on its way into the document."""

    __slots__ = (
        "body",
        "digest",
        "end",
        "end_seq",
        "flat",
        "is_span",
        "items",
        "key",
        "name",
        "parent",
        "seq",
        "task",
        "time",
        "who",
    )

    def __init__(
        self,
        is_span: bool,
        key: object,
        parent: object,
        seq: float,
        end_seq: float,
        time: float | None,
        end: float | None,
        body: dict[str, Any],
        name: str,
        who: str,
    ) -> None:
        self.is_span = is_span
        self.key = key
        self.parent = parent
        self.seq = seq
        self.end_seq = end_seq
        self.time = time
        self.end = end
        self.body = body
        self.name = name
        self.who = who
        self.items: list[_Item] = []
        self.digest: bytes | None = None
        self.flat = False
        self.task: object = None


def _vtime(value: object) -> float | None:
    """A virtual time rounded to the microsecond (the virtual clock's tick), or None.

    ``round(x * 1e6) / 1e6`` is a fixed point (applying it twice gives the same float) for
    |x| < 1e9 s, and turns -0.0 into 0.0; it is several times faster than ``round(x, 6)``.
    """
    t = type(value)
    if (t is not float and t is not int) and (
        value is None or isinstance(value, bool) or not isinstance(value, (int, float))
    ):
        return None
    if -1e9 < value < 1e9:  # type: ignore[operator]
        return round(value * 1e6) / 1e6  # type: ignore[operator]
    if value != value or value in (_INF, -_INF):
        return None
    return round(float(value), 6) + 0.0  # type: ignore[arg-type]


def _mask_tokens(text: str) -> str:
    return _TOKEN_STR_RE.sub("<uuid>", text) if "\x00" in text else text


def _content_bytes(body: Mapping[str, Any]) -> bytes:
    data = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    if b"\\u0000U" in data:
        data = _masked_bytes(body)
    return data


def _masked_bytes(v: Any) -> bytes:
    """``v`` serialized with UUID tokens masked, independently of the tokens' numbers.

    Masking the serialized bytes is not enough where a token is a *key*: keys are sorted by
    their token text (``\\x00U2\\x00`` before ``\\x00U3\\x00``), that is by arrival order. Here
    keys are masked first and entries ordered by masked key, then masked content.
    """

    def masked(x: Any) -> Any:
        t = type(x)
        if t is str:
            return _mask_tokens(x)
        if t is list:
            return [masked(i) for i in x]
        if t is dict:
            pairs = [
                (_mask_tokens(k) if type(k) is str else str(k), masked(i)) for k, i in x.items()
            ]
            pairs.sort(key=lambda p: (p[0], orjson.dumps(p[1], option=orjson.OPT_SORT_KEYS)))
            return pairs
        return x

    return orjson.dumps(masked(v), option=orjson.OPT_SORT_KEYS)


def _span_who(attributes: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """The identity attribute of a span (``("gen_ai.agent.name", "web")``), if it has one."""
    if not attributes:
        return None
    for key in _IDENTITY_ATTRIBUTES:
        value = attributes.get(key)
        if value is not None and value != "":
            return key, value if isinstance(value, str) else str(value)
    return None


def _entry_label(kind: str, data: Mapping[str, Any] | None) -> str:
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


class _ValueProblem(Exception):
    """A user object raised while being read; ``path`` grows as it unwinds (keys, fields)."""

    def __init__(self, path: list[str], cause: BaseException) -> None:
        super().__init__()
        self.path = path
        self.cause = cause

    def error(self, where: str) -> RecordingError:
        what = " › ".join(repr(p) for p in self.path) if self.path else "its value"
        message = _safe_str(self.cause)
        cause = type(self.cause).__name__ + (f": {message}" if message else "")
        return RecordingError(
            f"cannot normalize {where} {what}: reading it raised {cause}. Record plain data "
            "there (str, number, dict, list, a dataclass whose fields can be read), or drop or "
            "mask the field (@pytest.mark.agentrig(drop=[...]) or the agentrig_drop ini option)"
        )


class _Normalizer:
    """One normalization run: the value walker, the tree builder and the emitter."""

    __slots__ = (
        "_active",
        "_budget",
        "_c",
        "_floats",
        "_kc",
        "_next_id",
        "_paths",
        "_redact",
        "_texts",
        "_uuids",
    )

    def __init__(self, rules: NormalizeRules) -> None:
        c = rules._compiled
        self._c = c
        self._kc = c.key_cache
        self._paths = bool(c.path_rules)
        self._redact = c.redact
        self._uuids: dict[str, int] = {}
        self._active: set[int] = set()
        self._budget = _MAX_CONTAINERS
        self._next_id = 0
        # Per-run memo of results: recordings repeat model names, prompts and prices a lot, and
        # formatting a float or scanning a string costs ~20x a dict lookup. Per run, because
        # UUID tokens are numbered per run.
        self._texts: dict[str, str] = {}
        self._floats: dict[float, float | str] = {}

    # -- scalars ----------------------------------------------------------------------------

    def string(self, s: str) -> str:
        if (
            len(s) < 11
            and not self._redact
            and s.isascii()
            and "<uuid:" not in s
            and ":" not in s
            and "=" not in s
        ):
            return s
        return self.text(s)

    def text(self, s: str) -> str:
        """:func:`_normalize_text`, memoized for this run."""
        done = self._texts.get(s)
        if done is None:
            done = _normalize_text(s, self._redact, self._uuid_token, self._c.keep)
            if len(self._texts) < _MEMO_MAX:
                self._texts[s] = done
        return done

    def _uuid_token(self, match: re.Match[str]) -> str:
        key = match.group(0).lower()
        k = self._uuids.get(key)
        if k is None:
            k = self._uuids[key] = len(self._uuids) + 1
        return f"\x00U{k}\x00"

    def number(self, v: float) -> float | str:
        done = self._floats.get(v)  # (-0.0 == 0.0: both normalize to 0.0 anyway)
        if done is not None:
            return done
        done = self._number(v)
        if len(self._floats) < _MEMO_MAX and v == v:
            self._floats[v] = done
        return done

    def _number(self, v: float) -> float | str:
        if v != v:
            return "<nan>"
        if v == _INF:
            return "<inf>"
        if v == -_INF:
            return "<-inf>"
        if v == 0.0:
            return 0.0
        c = self._c
        if -c.cents_from < v < c.cents_from or not -1e15 < v < 1e15:
            rounded = float(c.float_format % v)
        else:  # money: significant digits would round away cents (12345.67 -> 12345.7)
            rounded = float(Decimal(repr(v)).quantize(_CENT))
        if c.keep & _KEEP_EPOCH:
            return rounded
        # Either side may be in an epoch range (rounding can carry a value into one): checking
        # both keeps normalization a fixed point.
        if v >= 9e8 or rounded >= 9e8:
            for lo, hi in _EPOCH_RANGES:
                if lo <= v <= hi or lo <= rounded <= hi:
                    return _TIMESTAMP
        return rounded

    def integer(self, v: int) -> int | str:
        if v >= 946_684_800_000 and not self._c.keep & _KEEP_EPOCH:
            if v >= _U64_END:
                return str(v)
            for lo, hi in _EPOCH_SUBSECOND_RANGES:
                if lo <= v <= hi:
                    return _TIMESTAMP
        elif v < _I64_MIN or v >= _U64_END:
            return str(v)
        return v

    # -- containers -------------------------------------------------------------------------

    def top(self, value: object, path: str | None, where: str = "a value") -> Any:
        """Normalize one top-level value (an attributes or data dict, an error, ...).

        ``where`` names it for an error (``span 'checkout' attributes``): a user object that
        raises while being read is a :class:`RecordingError` naming the place and the
        attribute, redacted like every message.
        """
        self._budget = _MAX_CONTAINERS
        try:
            if type(value) is dict:
                return self.mapping(value, 0, path if self._paths else None)
            return self.value(value, 0, path if self._paths else None)
        except _ValueProblem as problem:
            raise problem.error(where) from None
        except AgentRigError:
            raise
        except Exception as exc:
            raise _ValueProblem([], exc).error(where) from None

    def value(self, v: object, depth: int, path: str | None) -> Any:
        t = type(v)
        if t is str:
            return self.string(v)  # type: ignore[arg-type]
        if t is int:
            return self.integer(v)  # type: ignore[arg-type]
        if t is float:
            return self.number(v)  # type: ignore[arg-type]
        if v is None or t is bool:
            return v
        if t is dict:
            return self.mapping(v, depth, path)  # type: ignore[arg-type]
        if t is list or t is tuple:
            return self.sequence(v, depth, path)  # type: ignore[arg-type]
        return self._other(v, depth, path)

    def mapping(self, d: Mapping[Any, Any], depth: int, path: str | None) -> Any:
        # The hot loop: module constants are bound to locals (a global lookup per key shows
        # in profiles), and the common cases (a plain key, a short string, a small int) are
        # handled inline without a method call.
        if depth >= _MAX_VALUE_DEPTH:
            return _TOO_DEEP
        ident = id(d)
        active = self._active
        if ident in active:
            return _CYCLE
        self._budget -= 1
        if self._budget < 0:
            return _TRUNCATED
        active.add(ident)
        out: dict[str, Any] = {}
        kc = self._kc
        renamed = False
        plain = not self._redact
        text = self.text
        number = self.number
        drop, rename, value_rules, tokenish = _K_DROP, _K_RENAME, _K_VALUE_RULES, _K_TOKENISH
        int_lo, int_hi = _I64_MIN, _EPOCH_RANGES[1][0]
        child_path = None
        k: Any = "?"
        try:
            for k, v in d.items():
                if type(k) is not str:
                    k = self._key_str(k)
                    renamed = True  # 1 and "1" both become "1": keep both (see below)
                flags = kc.get(k)
                if flags is None:
                    flags = self._c.key_flags(k)
                if path is not None:
                    child_path = f"{path}.{k}"
                    flags |= self._c.path_action(child_path)
                nk = k
                t = type(v)
                if flags:
                    if flags & drop:
                        continue
                    if flags & rename:
                        nk = self.string(k)
                        renamed = True
                    # (A token-ish key only matters for a string: skip the call for counters.)
                    if flags & value_rules and (
                        flags & value_rules != tokenish
                        or t is str
                        or t is bytes
                        or (t is int and not int_lo <= v < _U64_END)
                    ):
                        special = _special_value(flags, v)
                        if special is not _KEEP:
                            if special is not _SKIP:
                                out[nk] = special
                            continue
                if t is str:
                    if (
                        len(v) < 11
                        and plain
                        and v.isascii()
                        and "<uuid:" not in v
                        and ":" not in v
                        and "=" not in v
                    ):
                        nv: Any = v
                    else:
                        nv = text(v)
                elif t is int:
                    nv = v if int_lo <= v < int_hi else self.integer(v)
                elif t is float:
                    nv = number(v)
                elif v is None or t is bool:
                    nv = v
                else:
                    nv = self.value(v, depth + 1, child_path)
                if renamed and nk in out:  # two keys with the same text (two timestamps, say)
                    n = 2
                    while f"{nk}#{n}" in out:
                        n += 1
                    nk = f"{nk}#{n}"
                out[nk] = nv
        except _ValueProblem as problem:
            problem.path.insert(0, k if type(k) is str else self._key_str(k))
            raise
        except AgentRigError:
            raise
        except Exception as exc:  # the user's object raised while being read
            raise _ValueProblem([k if type(k) is str else self._key_str(k)], exc) from None
        finally:
            active.discard(ident)
        return out

    def sequence(self, seq: Iterable[Any], depth: int, path: str | None) -> Any:
        if depth >= _MAX_VALUE_DEPTH:
            return _TOO_DEEP
        ident = id(seq)
        if ident in self._active:
            return _CYCLE
        self._budget -= 1
        if self._budget < 0:
            return _TRUNCATED
        self._active.add(ident)
        child_depth = depth + 1
        try:
            if path is None:
                return [self.value(x, child_depth, None) for x in seq]
            out: list[Any] = []
            for i, x in enumerate(seq):
                child_path = f"{path}.{i}"
                action = self._c.path_action(child_path)
                if action & _K_DROP:
                    continue
                out.append(_MASKED if action else self.value(x, child_depth, child_path))
            return out
        finally:
            self._active.discard(ident)

    def _key_str(self, k: object) -> str:
        if isinstance(k, enum.Enum):
            return f"{type(k).__name__}.{k.name}"
        if isinstance(k, str):
            return str.__str__(k)
        if isinstance(k, (frozenset, tuple)):
            # str() of a frozenset follows the hash seed: sort the members' own key texts.
            parts = [repr(x) if isinstance(x, str) else self._key_str(x) for x in k]
            if isinstance(k, tuple):
                return f"({', '.join(parts)}{',' if len(parts) == 1 else ''})"
            return f"frozenset({{{', '.join(sorted(parts))}}})" if parts else "frozenset()"
        if k is None or isinstance(k, (bool, int, float)):
            return str(k)
        try:
            return str(k)
        except Exception:
            return f"<{type(k).__name__}>"

    def _other(self, v: object, depth: int, path: str | None) -> Any:
        if isinstance(v, enum.Enum):
            return f"{type(v).__name__}.{v.name}"
        if isinstance(v, bool):
            return bool(v)
        if isinstance(v, str):
            return self.string(str.__str__(v))
        if isinstance(v, int):
            return self.integer(int(v))
        if isinstance(v, float):
            return self.number(float(v))
        if isinstance(v, Mapping):
            return self.mapping(v, depth, path)
        if isinstance(v, (list, tuple)):
            return self.sequence(v, depth, path)
        if isinstance(v, (set, frozenset)):
            items = self.sequence(list(v), depth, path)
            if not isinstance(items, list):
                return items
            return sorted(items, key=_content_bytes_of_value)
        if isinstance(v, (bytes, bytearray, memoryview)):
            return f"<{type(v).__name__} len={len(v)}>"
        if isinstance(v, Decimal):
            return self.number(float(v))
        if isinstance(v, PurePath):
            return self.string(v.as_posix())
        if isinstance(v, (_dt.datetime, _dt.date)) and self._c.keep & _KEEP_TIMESTAMPS:
            return self.string(v.isoformat())
        if isinstance(v, _dt.datetime):
            return _TIMESTAMP
        if isinstance(v, _dt.date):
            return "<date>"
        if isinstance(v, _dt.time):
            return "<time>"
        if isinstance(v, _dt.timedelta):
            return self.number(v.total_seconds())
        if isinstance(v, UUID):
            return self.string(str(v))
        if isinstance(v, BaseException):
            message = self.string(_safe_str(v))
            name = type(v).__name__
            return f"<{name}: {message}>" if message else f"<{name}>"
        if isinstance(v, type):
            return f"<class {v.__qualname__}>"
        as_dict: Any = None
        if dataclasses.is_dataclass(v):
            as_dict = {}
            for f in dataclasses.fields(v):
                try:
                    as_dict[f.name] = getattr(v, f.name, None)
                except Exception as exc:  # a property or descriptor that raises (an ORM's)
                    raise _ValueProblem([f"{type(v).__name__}.{f.name}"], exc) from None
        else:
            dump = getattr(v, "model_dump", None)  # a pydantic model
            if callable(dump):
                try:
                    as_dict = dump(mode="python")
                except Exception:
                    as_dict = None
        if isinstance(as_dict, Mapping):
            ident = id(v)  # the dict is new: guard the object itself against cycles
            if ident in self._active:
                return _CYCLE
            self._active.add(ident)
            try:
                return self.mapping(as_dict, depth, path)
            finally:
                self._active.discard(ident)
        if callable(v):
            qualname = getattr(v, "__qualname__", None)
            if isinstance(qualname, str):
                return f"<{type(v).__name__} {qualname}>"
        return f"<{type(v).__name__}>"

    # -- spans and entries ------------------------------------------------------------------

    def span(
        self,
        key: object,
        parent: object,
        name: object,
        seq: float,
        end_seq: float | None,
        start: object,
        end: object,
        attributes: object,
        events: Iterable[tuple[object, object, object]] | None,
        status: object,
        status_message: object,
        error: object,
        unfinished: bool,
    ) -> _Item:
        nm = self.string(name if type(name) is str else self._key_str(name))
        st = status if status in _STATUSES else self._status(status)
        body: dict[str, Any] = {"span": nm, "status": st}
        t0 = _vtime(start)
        t1 = _vtime(end)
        if t0 is not None:
            body["start"] = t0
            if t1 is not None:
                body["duration"] = round((t1 - t0) * 1e6) / 1e6
        if unfinished:
            body["unfinished"] = True
        if status_message is not None:
            body["status_message"] = self.top(status_message, None, f"span {nm!r} status")
        scope = f"spans.{nm}" if self._paths else None
        if error is not None:
            body["error"] = self.top(
                error, f"{scope}.error" if scope else None, f"span {nm!r} error"
            )
        attrs = None
        if attributes:
            attrs = self.top(
                attributes, f"{scope}.attributes" if scope else None, f"span {nm!r} attribute"
            )
            if type(attrs) is dict:
                attrs = upgrade_attributes(attrs)  # older GenAI names read as current ones
            if attrs:
                body["attributes"] = attrs
        evs = []
        for ev_name, ev_t, ev_attrs in events or ():
            en = self.string(ev_name if isinstance(ev_name, str) else self._key_str(ev_name))
            ev: dict[str, Any] = {"name": en}
            vt = _vtime(ev_t)
            if vt is not None:
                ev["t"] = vt
            if ev_attrs:
                a = self.top(
                    ev_attrs,
                    f"{scope}.events.{en}.attributes" if scope else None,
                    f"span {nm!r} event {en!r} attribute",
                )
                if a:
                    ev["attributes"] = a
            evs.append(ev)
        if evs:
            if len(evs) > 1 and all("t" in e for e in evs):
                evs.sort(key=_event_time)
            body["events"] = evs
        who = _span_who(attrs) if type(attrs) is dict else None
        return _Item(
            True,
            key,
            parent,
            seq,
            seq if end_seq is None else end_seq,
            t0,
            t1 if t1 is not None else t0,
            body,
            nm if "\x00" not in nm else _mask_tokens(nm),
            "" if who is None else _mask_tokens(who[1]),
        )

    def _status(self, status: object) -> str:
        return self.string(status) if isinstance(status, str) else "unset"

    def entry(self, seq: float, t: object, kind: object, span: object, data: object) -> _Item:
        kd = self.string(kind) if isinstance(kind, str) else self._key_str(kind)
        body: dict[str, Any] = {"entry": kd}
        vt = _vtime(t)
        if vt is not None:
            body["t"] = vt
        nd: Any = None
        if data:
            if kd == "decision" and isinstance(data, Mapping) and ("seq" in data or "t" in data):
                # The log's own sequence number is arrival order; its time duplicates ``t``.
                data = {
                    k: v
                    for k, v in data.items()
                    if not (k == "seq" or (k == "t" and (v is None or isinstance(v, (int, float)))))
                }
            nd = self.top(data, f"entries.{kd}.data" if self._paths else None, f"{kd} entry field")
            if nd is not None and nd != {}:
                body["data"] = nd
        label = _entry_label(kd, nd) if isinstance(nd, dict) else ""
        return _Item(False, None, span, seq, seq, vt, vt, body, kd, _mask_tokens(label))

    # -- ordering -----------------------------------------------------------------------------

    def order(
        self, items: list[_Item], parent_task: object = None
    ) -> tuple[list[_Item], list[tuple[float, float]]]:
        """Canonical order of one span's timeline, and the time windows of its groups.

        Args:
            items: the span's child spans and entries.
            parent_task: the task token of the span itself (``None`` when unknown).
        """
        n = len(items)
        if n < 2:
            return items, []
        windows: list[tuple[float, float]] = []
        out: list[_Item] = []
        if all(it.time is not None for it in items):
            items.sort(key=_TIME_SEQ)
            i = 0
            while i < n:
                t0 = items[i].time
                j = i + 1
                while j < n and items[j].time == t0:
                    j += 1
                if j - i < 2:
                    out.append(items[i])
                else:
                    assert t0 is not None
                    out.extend(self._arrange_run(items[i:j], t0, parent_task, windows))
                i = j
            return out, windows
        # No virtual time for some sibling: concurrency is what overlaps in arrival order.
        items.sort(key=_SEQ)
        component = [items[0]]
        reach = items[0].end_seq
        for it in items[1:]:
            if it.seq < reach:
                component.append(it)
                reach = max(reach, it.end_seq)
                continue
            out.extend(self._component(component))
            component = [it]
            reach = it.end_seq
        out.extend(self._component(component))
        return out, windows

    def _arrange_run(
        self,
        run: list[_Item],
        t0: float,
        parent_task: object,
        windows: list[tuple[float, float]],
    ) -> list[_Item]:
        """Siblings at one virtual instant, in arrival order, put in canonical order.

        A span opened by the parent's own task is sequential with everything around it: it
        splits the run into segments, each arranged on its own.
        """
        out: list[_Item] = []
        segment: list[_Item] = []
        for it in run:
            if it.is_span and parent_task is not None and it.task == parent_task:
                out.extend(self._arrange_segment(segment, t0, windows))
                out.append(it)
                segment = []
            else:
                segment.append(it)
        out.extend(self._arrange_segment(segment, t0, windows))
        return out

    def _arrange_segment(
        self, segment: list[_Item], t0: float, windows: list[tuple[float, float]]
    ) -> list[_Item]:
        spans = [it for it in segment if it.is_span]
        if len(spans) < 2:
            return segment
        # Spans one task opened one after the other form a chain that keeps its order; spans
        # of unknown task are chains of one.
        units: list[list[_Item]] = []
        chains: dict[object, list[_Item]] = {}
        for sp in spans:
            chain = chains.get(sp.task) if sp.task is not None else None
            if chain is not None:
                chain.append(sp)
            else:
                chain = [sp]
                units.append(chain)
                if sp.task is not None:
                    chains[sp.task] = chain
        if len(units) < 2:
            return segment  # one task did all of it: sequential
        lo = min(sp.seq for sp in spans)
        hi = max(sp.end_seq for sp in spans)
        before = [it for it in segment if not it.is_span and it.seq < lo]
        after = [it for it in segment if not it.is_span and it.seq > hi]
        units.extend([it] for it in segment if not it.is_span and lo <= it.seq <= hi)
        windows.append((t0, max(sp.end if sp.end is not None else t0 for sp in spans)))
        return [*before, *self.canonical(units), *after]

    def _component(self, component: list[_Item]) -> list[_Item]:
        if len(component) > 1 and sum(1 for it in component if it.is_span) > 1:
            return self.canonical([[it] for it in component])
        return component

    def canonical(self, units: list[list[_Item]]) -> list[_Item]:
        """Sort a concurrency group's units by content: kind, name, agent, then digest."""
        keyed = [((0 if u[0].is_span else 1), u[0].name, u[0].who) for u in units]
        if len(set(keyed)) == len(keyed):
            order = sorted(range(len(units)), key=keyed.__getitem__)
        else:
            seen: dict[tuple[int, str, str], int] = {}
            for k in keyed:
                seen[k] = seen.get(k, 0) + 1
            full = [
                (k, self._unit_digest(u) if seen[k] > 1 else b"")
                for k, u in zip(keyed, units, strict=True)
            ]
            order = sorted(range(len(units)), key=full.__getitem__)
        return [it for i in order for it in units[i]]

    def _unit_digest(self, unit: list[_Item]) -> bytes:
        if len(unit) == 1:
            return self.digest(unit[0])
        h = hashlib.blake2b(digest_size=16)
        for it in unit:
            h.update(self.digest(it))
        return h.digest()

    def digest(self, root: _Item) -> bytes:
        """BLAKE2 digest of an item's normalized content and its (ordered) subtree."""
        if root.digest is not None:
            return root.digest
        stack: list[tuple[_Item, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if node.digest is not None:
                continue
            if not expanded and node.items:
                stack.append((node, True))
                stack.extend((child, False) for child in node.items if child.digest is None)
                continue
            h = hashlib.blake2b(_content_bytes(node.body), digest_size=16)
            for child in node.items:
                assert child.digest is not None, "bug in agentrig, please report"
                h.update(child.digest)
            node.digest = h.digest()
        assert root.digest is not None
        return root.digest

    def sort_events(self, body: dict[str, Any], windows: list[tuple[float, float]]) -> None:
        events = body.get("events")
        if not windows or not events or len(events) < 2:
            return
        for lo, hi in windows:
            idx = [i for i, e in enumerate(events) if "t" in e and lo <= e["t"] <= hi]
            if len(idx) > 1:
                ordered = sorted((events[i] for i in idx), key=_event_content)
                for i, e in zip(idx, ordered, strict=True):
                    events[i] = e

    # -- emission ---------------------------------------------------------------------------

    def emit(self, items: list[_Item], parent_id: int | None, depth: int) -> list[Any]:
        out: list[Any] = []
        for it in items:
            body = it.body
            if it.is_span:
                self._next_id += 1
                sid = self._next_id
                body["id"] = sid
                body["parent"] = parent_id
                if it.items:
                    if depth + 1 < _MAX_SPAN_DEPTH:
                        body["timeline"] = self.emit(it.items, sid, depth + 1)
                    else:
                        body["timeline"] = self._emit_flat(it.items, sid)
            out.append(body)
        return out

    def _emit_flat(self, items: list[_Item], parent_id: int) -> list[Any]:
        """Past the depth limit: descendants in reading order, each naming its parent."""
        out: list[Any] = []
        stack: list[tuple[Iterator[_Item], int]] = [(iter(items), parent_id)]
        while stack:
            iterator, pid = stack[-1]
            it = next(iterator, None)
            if it is None:
                stack.pop()
                continue
            body = it.body
            body["parent"] = pid
            if it.is_span:
                self._next_id += 1
                body["id"] = self._next_id
                out.append(body)
                if it.items:
                    stack.append((iter(it.items), self._next_id))
            else:
                out.append(body)
        return out

    def renumber(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Replace UUID tokens by ``<uuid:N>`` numbered in reading order (keys sorted)."""
        if not self._uuids:
            return doc
        numbers: dict[str, int] = {}
        # What each token stood for, to break the last ties (below) by content, not arrival.
        sources: dict[str, tuple[int, int, str]] = {}
        for text, k in self._uuids.items():
            placeholder = _UUID_PLACEHOLDER_RE.fullmatch(text)
            sources[str(k)] = (0, int(text[6:-1]), "") if placeholder else (1, 0, text)

        def sub(match: re.Match[str]) -> str:
            token = match.group(1)
            n = numbers.get(token)
            if n is None:
                n = numbers[token] = len(numbers) + 1
            return f"<uuid:{n}>"

        def rank(match: re.Match[str]) -> tuple[int, int, int, str]:
            n = numbers.get(match.group(1))
            return (0, n, 0, "") if n is not None else (1, *sources[match.group(1)])

        def order(key: str, d: Mapping[str, Any]) -> tuple[str, bytes, list[Any]]:
            # Keys that read the same with their tokens masked (two UUID keys) are visited
            # known UUIDs first, by number, then by what they stood for: never by arrival
            # (the token numbers), nor by the input's key order. Sorting by what a ``<uuid:N>``
            # stood for makes a second pass visit them as the first did (idempotence).
            masked, content = _reading_key(key, d)
            if "\x00" not in key:
                return masked, content, []
            return masked, content, [rank(m) for m in _TOKEN_STR_RE.finditer(key)]

        def walk(v: Any) -> Any:
            t = type(v)
            if t is str:
                return _TOKEN_STR_RE.sub(sub, v) if "\x00" in v else v
            if t is dict:
                return {walk(k): walk(v[k]) for k in sorted(v, key=lambda k: order(k, v))}
            if t is list:
                return [walk(x) for x in v]
            return v

        result: dict[str, Any] = walk(doc)
        return result


def _normalize_text(
    s: str,
    redact: tuple[re.Pattern[str], ...],
    uuid_token: Callable[[re.Match[str]], str],
    keep: int = 0,
) -> str:
    """Secrets, temp dirs, addresses, timestamps and UUIDs of one string (see the notes)."""
    if not s.isascii():
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            s = _SURROGATE_RE.sub("\ufffd", s)
    s = _redact_secrets(s)
    for rx in redact:
        s = rx.sub(_REDACTED, s)
    if "pytest-of-" in s:
        s = _TMP_RE.sub("<tmp>", s)
    if " at 0x" in s:
        s = _ADDRESS_RE.sub("", s)
    if len(s) >= 16 and "-" in s:
        if ":" in s and not keep & _KEEP_TIMESTAMPS:
            s = _TIMESTAMP_RE.sub(_TIMESTAMP, s)
        if len(s) >= 36 and not keep & _KEEP_UUIDS:
            s = _UUID_RE.sub(uuid_token, s)
    if "<uuid:" in s and not keep & _KEEP_UUIDS:
        s = _UUID_PLACEHOLDER_RE.sub(uuid_token, s)
    return s


_KEEP: Final = object()
_SKIP: Final = object()

# Strings normalization itself puts where a number or a redaction was: a second pass must
# keep them (idempotence), so a secret or token-ish key does not redact them.
_PLACEHOLDERS: Final = frozenset(
    {"<nan>", "<inf>", "<-inf>", _TIMESTAMP, _REDACTED, _MASKED, _CYCLE, _TOO_DEEP, _TRUNCATED}
)


def _special_value(flags: int, v: object) -> object:
    """What a key's classification does to its value: a replacement, _SKIP or _KEEP."""
    if flags & _K_MASK:
        return _MASKED
    t = type(v)
    # An int beyond 64 bits would be written as a string, which a second pass would redact:
    # under a secret or token-ish key it is redacted at once.
    big = t is int and not _I64_MIN <= v < _U64_END  # type: ignore[operator]
    scalar = v is None or t is bool or (t is int and not big) or t is float
    if flags & _K_SECRET and not (scalar or (t is str and (not v or v in _PLACEHOLDERS))):
        return _REDACTED
    if flags & _K_TOKENISH and (
        big or (t is bytes and v) or (t is str and v and v not in _PLACEHOLDERS)
    ):
        return _REDACTED
    if flags & _K_WALL and (t is int or t is float):
        return _SKIP
    if flags & _K_TIMEY and t is int and _EPOCH_S[0] <= v <= _EPOCH_S[1]:  # type: ignore[operator]
        return _TIMESTAMP
    return _KEEP


def _probe_uuid(match: re.Match[str]) -> str:
    return "\x00"


def _reading_key(key: str, d: Mapping[str, Any]) -> tuple[str, bytes]:
    # Keys in the order they are written, with UUID tokens masked so that arrival order (the
    # token numbers) cannot decide which UUID is met first.
    if "\x00" not in key:
        return key, b""
    return _mask_tokens(key), _content_bytes_of_value(d[key])


def _safe_str(v: object) -> str:
    try:
        return str(v)
    except Exception:
        return ""


def _content_bytes_of_value(v: Any) -> bytes:
    try:
        data = orjson.dumps(v, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return b""
    return _masked_bytes(v) if b"\\u0000U" in data else data


def _event_time(e: dict[str, Any]) -> float:
    t: float = e["t"]
    return t


def _event_content(e: dict[str, Any]) -> tuple[float, str, bytes]:
    return (e["t"], _mask_tokens(e["name"]), _content_bytes(e))


_TIME_SEQ: Final = operator.attrgetter("time", "seq")
_SEQ: Final = operator.attrgetter("seq")


# --- reading the inputs -----------------------------------------------------------------------


def _get(obj: object, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    if not hasattr(obj, name) and isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


_SPAN_FIELDS: Final = (
    ("span_id", None),
    ("parent_id", None),
    ("name", ""),
    ("seq", None),
    ("end_seq", None),
    ("start", None),
    ("end", None),
    ("attributes", None),
    ("events", None),
    ("status", "unset"),
    ("status_message", None),
    ("error", None),
)
_ENTRY_FIELDS: Final = (
    ("seq", None),
    ("t", None),
    ("kind", ""),
    ("span_id", None),
    ("data", None),
)


_SPAN_GETTER: Final = operator.attrgetter(*(n for n, _ in _SPAN_FIELDS))
_ENTRY_GETTER: Final = operator.attrgetter(*(n for n, _ in _ENTRY_FIELDS))


def _fields(
    obj: object, names: tuple[tuple[str, Any], ...], getter: operator.attrgetter[Any]
) -> Sequence[Any]:
    if type(obj) is dict:
        get = obj.get
        return [get(n, d) for n, d in names]
    try:
        values: tuple[Any, ...] = getter(obj)  # SpanRecord / Entry: one C call
        return values
    except AttributeError:
        return [_get(obj, n, d) for n, d in names]


def _events_of(raw: object) -> Iterator[tuple[object, object, object]]:
    if not raw or not isinstance(raw, (list, tuple)):
        return
    for ev in raw:
        yield _get(ev, "name", ""), _get(ev, "t"), _get(ev, "attributes")


def _as_seq(value: object, fallback: float) -> float:
    t = type(value)
    if (t is int or t is float) and value == value:
        return value  # type: ignore[return-value]
    return fallback


def _from_raw(
    norm: _Normalizer, spans: Iterable[object], entries: Iterable[object]
) -> tuple[list[_Item], list[_Item]]:
    span_items: list[_Item] = []
    make_span = norm.span
    for i, s in enumerate(spans):
        key, parent, name, seq, end_seq, start, end, attrs, events, status, message, error = (
            _fields(s, _SPAN_FIELDS, _SPAN_GETTER)
        )
        seq = _as_seq(seq, float(i))
        item = make_span(
            f"#{i}" if key is None else key,
            parent,
            name,
            seq,
            _as_seq(end_seq, seq),
            start,
            end,
            attrs,
            _events_of(events) if events else None,
            status,
            message,
            error,
            end_seq is None and end is None,
        )
        # Optional: an opaque token of the task (or thread) that opened the span. Spans one
        # task opened are sequential, whatever their times (see the notes).
        item.task = s.get("task") if type(s) is dict else getattr(s, "task", None)
        span_items.append(item)
    make_entry = norm.entry
    entry_items = []
    for i, e in enumerate(entries):
        seq, t, kind, span_id, data = _fields(e, _ENTRY_FIELDS, _ENTRY_GETTER)
        entry_items.append(make_entry(_as_seq(seq, float(i)), t, kind, span_id, data))
    return span_items, entry_items


_NESTED: Final = object()  # "parent is the enclosing span" while reading a document


def _from_document(norm: _Normalizer, timeline: list[Any]) -> tuple[list[_Item], list[_Item]]:
    spans: list[_Item] = []
    entries: list[_Item] = []
    seq = 0
    stack: list[tuple[Iterator[Any], object, _Item | None]] = [(iter(timeline), None, None)]
    while stack:
        iterator, enclosing, owner = stack[-1]
        item = next(iterator, _NESTED)
        if item is _NESTED:
            stack.pop()
            if owner is not None:
                seq += 1
                owner.end_seq = seq
            continue
        seq += 1
        if not isinstance(item, Mapping):
            continue
        if "span" in item:
            key = item.get("id")
            if key is None:
                key = f"#doc{seq}"
            parent = item.get("parent", enclosing)
            start = item.get("start")
            duration = item.get("duration")
            end = None
            if isinstance(start, (int, float)) and isinstance(duration, (int, float)):
                end = start + duration
            span = norm.span(
                key=key,
                parent=parent,
                name=item.get("span", ""),
                seq=seq,
                end_seq=seq,
                start=start,
                end=end,
                attributes=item.get("attributes"),
                events=_events_of(item.get("events")),
                status=item.get("status", "unset"),
                status_message=item.get("status_message"),
                error=item.get("error"),
                unfinished=bool(item.get("unfinished")),
            )
            spans.append(span)
            children = item.get("timeline")
            if children and isinstance(children, list):
                stack.append((iter(children), key, span))
            else:
                seq += 1
                span.end_seq = seq
        elif "entry" in item:
            parent = item.get("parent", enclosing)
            entries.append(
                norm.entry(seq, item.get("t"), item.get("entry", ""), parent, item.get("data"))
            )
    return spans, entries


def _check_header(doc: Mapping[str, Any], where: str) -> None:
    header = doc.get("agentrig")
    if not isinstance(header, Mapping) or "format" not in header:
        raise SnapshotError(
            f'{where} is not an agentrig snapshot (no {{"agentrig": {{"format": ...}}}} '
            "header); re-record it with `agentrig update`"
        )
    version = header["format"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise SnapshotError(
            f"{where} has an unreadable format version {version!r}; "
            "re-record it with `agentrig update`"
        )
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


# --- the public functions ---------------------------------------------------------------------


def normalize(
    recording: Recording | Mapping[str, Any], *, rules: NormalizeRules | None = None
) -> dict[str, Any]:
    """The canonical snapshot document of a recording.

    Args:
        recording: a :class:`~agentrig.recording.Recording`, its ``to_dict()`` (or the parsed
            ``to_json()``), or a document this function produced (normalization is idempotent).
        rules: extra drop / mask / redact rules (see :class:`NormalizeRules`).

    Returns:
        A new dict of JSON data (the input is not modified): ``{"agentrig": {"format": 1,
        "semconv": ...},
        "name": ..., "timeline": [...]}``. Write it with :func:`dumps`.

    Raises:
        SnapshotError: ``recording`` is a mapping that is neither a raw recording nor a
            snapshot document.
        SnapshotFormatError: ``recording`` is a document of another format version.
        TypeError: ``recording`` is neither a Recording nor a mapping.
    """
    norm = _Normalizer(rules if rules is not None else _DEFAULT_RULES)
    from_document = False
    if isinstance(recording, Mapping):
        name = recording.get("name", "")
        if "timeline" in recording or "agentrig" in recording:
            _check_header(recording, "the document given to normalize()")
            timeline = recording.get("timeline")
            if not isinstance(timeline, list):
                raise SnapshotError(
                    "the document given to normalize() has no 'timeline' list; "
                    "re-record it with `agentrig update`"
                )
            spans, entries = _from_document(norm, timeline)
            from_document = True
        elif "spans" in recording or "entries" in recording:
            raw_spans = recording.get("spans") or []
            raw_entries = recording.get("entries") or []
            if not isinstance(raw_spans, (list, tuple)) or not isinstance(
                raw_entries, (list, tuple)
            ):
                raise SnapshotError(
                    "normalize() got a recording whose 'spans' and 'entries' are not lists"
                )
            spans, entries = _from_raw(norm, raw_spans, raw_entries)
        else:
            raise SnapshotError(
                "normalize() needs a Recording, a Recording.to_dict() mapping (with 'spans' and "
                "'entries') or a snapshot document (with 'timeline'); got keys "
                f"{sorted(map(str, recording))[:8]}"
            )
    elif hasattr(recording, "spans") and hasattr(recording, "entries"):
        name = getattr(recording, "name", "")
        spans, entries = _from_raw(norm, list(recording.spans), list(recording.entries))
    else:
        raise TypeError(
            f"normalize() needs a Recording or a mapping, got {type(recording).__name__}"
        )

    # Build the tree: children and entries under their span; unknown parents are roots.
    by_key: dict[object, _Item] = {}
    for s in spans:
        try:
            by_key.setdefault(s.key, s)
        except TypeError:  # an unhashable id in a hand-made dict
            s.key = f"#unhashable{id(s)}"
            by_key[s.key] = s
    roots: list[_Item] = []
    get = by_key.get
    for s in spans:
        try:
            parent = get(s.parent) if s.parent is not None else None
        except TypeError:
            parent = None
        if parent is None or parent is s:
            roots.append(s)
        else:
            parent.items.append(s)
    # Children before parents: reverse pre-order. (Items hold only spans at this point.)
    preorder = _preorder(roots)
    if len(preorder) != len(spans):
        _break_cycles(spans, roots, by_key)
        preorder = _preorder(roots)
    for e in entries:
        owner = _lookup(by_key, e.parent)
        (owner.items if owner is not None else roots).append(e)

    # Order every timeline, children first, then the roots. A document is already in
    # canonical order: it keeps it (its task tokens are gone, so it could not be re-derived).
    if from_document:
        for node in preorder:
            node.items.sort(key=_SEQ)
        roots.sort(key=_SEQ)
        ordered_roots = roots
    else:
        for node in reversed(preorder):
            if node.items:
                node.items, windows = norm.order(node.items, node.task)
                norm.sort_events(node.body, windows)
        ordered_roots, _ = norm.order(roots)

    doc: dict[str, Any] = {
        "agentrig": {"format": FORMAT_VERSION, "semconv": SEMCONV_VERSION},
        "name": norm.string(name) if isinstance(name, str) else norm.top(name, None),
        "timeline": norm.emit(ordered_roots, None, 0),
    }
    return norm.renumber(doc)


def _preorder(roots: list[_Item]) -> list[_Item]:
    out: list[_Item] = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(node.items)
    return out


def _lookup(by_key: dict[object, _Item], key: object) -> _Item | None:
    if key is None:
        return None
    try:
        return by_key.get(key)
    except TypeError:
        return None


def _break_cycles(spans: list[_Item], roots: list[_Item], by_key: dict[object, _Item]) -> None:
    """Spans unreachable from a root sit on a parent cycle: cut it at the earliest span."""
    reached: set[int] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        reached.add(id(node))
        stack.extend(c for c in node.items if c.is_span)
    if len(reached) == len(spans):
        return
    for s in sorted((s for s in spans if id(s) not in reached), key=_SEQ):
        if id(s) in reached:
            continue
        parent = _lookup(by_key, s.parent)  # detach it from the parent that holds it
        if parent is not None:
            parent.items = [c for c in parent.items if c is not s]
        roots.append(s)
        stack = [s]
        while stack:
            node = stack.pop()
            reached.add(id(node))
            stack.extend(c for c in node.items if c.is_span and id(c) not in reached)


def dumps(doc: Mapping[str, Any]) -> bytes:
    """The document as snapshot-file bytes: UTF-8 JSON, keys sorted, 2-space indent, final newline.

    Byte-stable: the same document always gives the same bytes.

    Raises:
        SnapshotError: ``doc`` holds values JSON cannot hold (pass it through
            :func:`normalize` first).
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
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(
            f"{where} is not valid JSON ({exc}); fix the file or re-record it with "
            "`agentrig update`"
        ) from None
    if not isinstance(doc, dict):
        raise SnapshotError(
            f"{where} is not an agentrig snapshot (the top level is a {type(doc).__name__}, "
            "not an object); re-record it with `agentrig update`"
        )
    _check_header(doc, where)
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

    :func:`dumps` cannot write more than 255 nested levels (orjson's limit), and
    :func:`normalize` stays far below it; the JSON reader accepts up to 1024. A document in
    between was not written by agentrig, and comparing it could exhaust Python's recursion
    limit. Serializing it again is the cheapest exact check (C speed, and only on loads).
    """
    try:
        orjson.dumps(doc)
    except orjson.JSONEncodeError:
        raise SnapshotError(
            f"{where} nests deeper than agentrig ever writes (255 levels), so it was not "
            "written by agentrig; re-record it with `agentrig update`"
        ) from None


def _check_shape(doc: dict[str, Any], where: str) -> None:
    timeline = doc.get("timeline")
    if not isinstance(timeline, list):
        raise SnapshotError(f"{where} has no 'timeline' list; re-record it with `agentrig update`")
    stack: list[tuple[list[Any], str]] = [(timeline, "timeline")]
    while stack:
        items, path = stack.pop()
        for i, item in enumerate(items):
            here = f"{path}[{i}]"
            if not isinstance(item, dict):
                raise SnapshotError(
                    f"{where}: {here} is a {type(item).__name__}, not a span or an entry; "
                    "re-record it with `agentrig update`"
                )
            if "span" in item:
                if not isinstance(item["span"], str):
                    raise SnapshotError(f"{where}: {here}.span is not a string")
                for key, kind in (("attributes", dict), ("events", list), ("timeline", list)):
                    if key in item and not isinstance(item[key], kind):
                        raise SnapshotError(
                            f"{where}: {here}.{key} is not a {kind.__name__}; "
                            "re-record it with `agentrig update`"
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
                    "'entry' key); re-record it with `agentrig update`"
                )
