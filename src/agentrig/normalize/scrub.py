"""Value scrubbing: one walk over a recorded value gives its JSON-safe, run-independent form.

:class:`Scrubber` is the hot loop of normalization (secrets, UUIDs, timestamps, temp paths,
addresses, floats, values JSON cannot hold, cycles and depth), memoized per run; the notes in
:mod:`agentrig.normalize` say what it does and why. UUIDs are replaced by *marks*
(``\\x00U<k>\\x00``, ``k`` in arrival order) that sort keys and digests mask, and that
:meth:`Scrubber.renumber` turns into ``<uuid:N>`` in reading order at the end.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any, Final
from uuid import UUID

import orjson

from agentrig._errors import AgentRigError, RecordingError
from agentrig._secrets import MEMORY_ADDRESS_RE, TOKEN_MARKER_RE, user_patterns_active
from agentrig._secrets import REDACTED as _REDACTED
from agentrig._secrets import redact_secrets as _redact_secrets
from agentrig.normalize.rules import (
    EPOCH_SECONDS,
    K_CREDENTIAL,
    K_DROP,
    K_EPOCH_SECONDS,
    K_MASK,
    K_RENAME,
    K_SECRET,
    K_VALUE_RULES,
    K_WALL,
    KEEP_EPOCH,
    KEEP_TIMESTAMPS,
    KEEP_UUIDS,
    NormalizeRules,
    compiled,
)

__all__ = [
    "FAST_PATH",
    "Scrubber",
    "content_bytes",
    "mask_uuid_marks",
    "vtime",
]

_MASKED: Final = "<masked>"
_TIMESTAMP: Final = "<timestamp>"
_CYCLE: Final = "<cycle>"
_TOO_DEEP: Final = "<max depth>"
_TRUNCATED: Final = "<truncated>"

# Nesting limit of a value inside an attributes/data dict (spans have their own, in timeline).
_MAX_VALUE_DEPTH: Final = 32
# Containers one top-level value may expand to (a DAG of shared references grows exponentially).
_MAX_CONTAINERS: Final = 100_000

_I64_MIN: Final = -(2**63)
_U64_END: Final = 2**64
_INF: Final = float("inf")
_CENT: Final = Decimal("0.01")

# Wall-clock epoch ranges (2000-01-01 .. 2100-01-01) in s, ms, us and ns.
_EPOCH_RANGES: Final = tuple(
    (lo * m, hi * m) for m in (1, 1_000, 1_000_000, 10**9) for lo, hi in [EPOCH_SECONDS]
)
_EPOCH_SUBSECOND_RANGES: Final = _EPOCH_RANGES[1:]

_KEY_CACHE_MAX: Final = 8192
_MEMO_MAX: Final = 65536

#: Whether :class:`Scrubber` takes its fast paths (the scalar-dict memo and the text scan). The
#: plain walk gives byte-identical results, only slower: tests switch this off to prove it.
FAST_PATH = True

# -- the fast path -----------------------------------------------------------------------------
# Most attribute dicts hold a few scalars under plain keys: :meth:`Scrubber.flat` walks those in
# one tight loop, without the cycle, depth, budget and path bookkeeping a dict of scalars cannot
# need, and gives up, for the full walk, at the first key or value that needs more. Most text
# needs nothing: one C search for every trigger of :func:`_normalize_text` (below) returns it as
# it is. Measured and dropped: reusing the walked result of a dict whose orjson bytes (plus the
# check that every value is an exact scalar: an ``Enum`` or ``UUID`` serializes like its text)
# were seen before. On the 10,000-span broadcast, where 16,000 of 18,000 dicts repeat, building
# that key in C cost more than the tight loop it saves (read phase 60.8 ms vs 54.9 ms).

# Text that :func:`_normalize_text` may change has a ``:`` (``<uuid:``, timestamps, URLs,
# header and YAML fields) or ``=`` (``key=value`` fields), ``pytest-of-``, `` at 0x`` or a
# secret marker in it, or is 36 characters or more with a ``-`` (a UUID), or is not ASCII (a
# surrogate): :meth:`Scrubber.text` checks exactly that superset of its triggers first.
# (Substring tests and the marker trie, not one combined expression: measured, ``re`` runs an
# alternation of a class and the trie ~15x slower than the trie alone.)


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
_SURROGATE_RE: Final = re.compile(f"[{chr(0xD800)}-{chr(0xDFFF)}]")  # (no surrogate literal: mypyc)
_UUID_MARK_RE: Final = re.compile("\x00U(\\d+)\x00")


def vtime(value: object) -> float | None:
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


def mask_uuid_marks(text: str) -> str:
    return _UUID_MARK_RE.sub("<uuid>", text) if "\x00" in text else text


def content_bytes(body: Mapping[str, Any]) -> bytes:
    data = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    if b"\\u0000U" in data:
        data = _masked_bytes(body)
    return data


def _masked_bytes(v: Any) -> bytes:
    """``v`` serialized with UUID marks masked, independently of the marks' numbers.

    Masking the serialized bytes is not enough where a mark is a *key*: keys are sorted by
    their mark text (``\\x00U2\\x00`` before ``\\x00U3\\x00``), that is by arrival order. Here
    keys are masked first and entries ordered by masked key, then masked content.
    """

    def masked(x: Any) -> Any:
        t = type(x)
        if t is str:
            return mask_uuid_marks(x)
        if t is list:
            return [masked(i) for i in x]
        if t is dict:
            pairs = [
                (mask_uuid_marks(k) if type(k) is str else str(k), masked(i)) for k, i in x.items()
            ]
            pairs.sort(key=lambda p: (p[0], orjson.dumps(p[1], option=orjson.OPT_SORT_KEYS)))
            return pairs
        return x

    return orjson.dumps(masked(v), option=orjson.OPT_SORT_KEYS)


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


class Scrubber:
    """The value walker of one normalization run (UUID marks and memos are per run)."""

    __slots__ = (
        "_active",
        "_budget",
        "_c",
        "_floats",
        "_kc",
        "_redact",
        "_scan",
        "_texts",
        "_uuids",
        "flat",
        "paths",
    )

    def __init__(self, rules: NormalizeRules) -> None:
        c = compiled(rules)
        self._c = c
        self._kc = c.key_cache
        #: Whether path rules exist (only then are path strings built).
        self.paths = bool(c.path_rules)
        self._redact = c.redact
        self._uuids: dict[str, int] = {}
        self._active: set[int] = set()
        self._budget = _MAX_CONTAINERS
        # Per-run memo of results: recordings repeat model names, prompts and prices a lot, and
        # formatting a float or scanning a string costs ~20x a dict lookup. Per run, because
        # UUID marks are numbered per run.
        self._texts: dict[str, str] = {}
        self._floats: dict[float, float | str] = {}
        #: The tight loop for dicts of scalars (the fast path), or None: off, or path rules
        #: exist (they need the paths the full walk builds).
        self.flat = self._make_flat() if FAST_PATH and not self.paths else None
        # Whether text without any pattern's trigger is returned as it is (no user patterns:
        # those may match anything).
        self._scan = FAST_PATH and not c.redact and not user_patterns_active()

    def key_flags(self, key: str) -> int:
        """A key's ``K_*`` flags, :data:`K_RENAME` included, cached across runs."""
        c = self._c
        flags = c.key_flags(key)
        if _normalize_text(key, c.redact, _probe_uuid, c.keep) != key:
            flags |= K_RENAME
        if len(c.key_cache) < _KEY_CACHE_MAX:
            c.key_cache[key] = flags
        return flags

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
            if (
                self._scan
                and ":" not in s
                and "=" not in s
                and s.isascii()
                and (len(s) < 36 or "-" not in s)
                and "pytest-of-" not in s
                and " at 0x" not in s
                and not TOKEN_MARKER_RE.search(s)
            ):
                done = s
            else:
                done = _normalize_text(s, self._redact, self._uuid_mark, self._c.keep)
            if len(self._texts) < _MEMO_MAX:
                self._texts[s] = done
        return done

    def _uuid_mark(self, match: re.Match[str]) -> str:
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
        if c.keep & KEEP_EPOCH:
            return rounded
        # Either side may be in an epoch range (rounding can carry a value into one): checking
        # both keeps normalization a fixed point.
        if v >= 9e8 or rounded >= 9e8:
            for lo, hi in _EPOCH_RANGES:
                if lo <= v <= hi or lo <= rounded <= hi:
                    return _TIMESTAMP
        return rounded

    def integer(self, v: int) -> int | str:
        if v >= 946_684_800_000 and not self._c.keep & KEEP_EPOCH:
            if v >= _U64_END:
                return str(v)
            for lo, hi in _EPOCH_SUBSECOND_RANGES:
                if lo <= v <= hi:
                    return _TIMESTAMP
        elif v < _I64_MIN or v >= _U64_END:
            return str(v)
        return v

    # -- containers -------------------------------------------------------------------------

    def top(self, value: object, path: str | None, where: str = "a value", *args: object) -> Any:
        """Normalize one top-level value (an attributes or data dict, an error, ...).

        ``where % args`` names it for an error (``span 'checkout' attributes``; formatted only
        then): a user object that raises while being read is a :class:`RecordingError` naming
        the place and the attribute, redacted like every message.
        """
        if self.flat is not None and type(value) is dict:
            done = self.flat(value)
            if done is not None:
                return done
        self._budget = _MAX_CONTAINERS
        try:
            if type(value) is dict:
                return self.mapping(value, 0, path if self.paths else None)
            return self.value(value, 0, path if self.paths else None)
        except _ValueProblem as problem:
            raise problem.error(where % args if args else where) from None
        except AgentRigError:
            raise
        except Exception as exc:
            raise _ValueProblem([], exc).error(where % args if args else where) from None

    def _make_flat(self) -> Callable[[dict[Any, Any]], dict[str, Any] | None]:
        """:meth:`mapping` of a dict of scalars under plain keys, or None for anything else.

        The same result as the full walk, in one loop without its bookkeeping: a key that
        classifies (but a token counter), a key that is not a ``str``, or a value that is not a
        plain scalar stops it, and the caller walks the dict in full. A closure, so that the
        memos and constants are cells, not attribute or global lookups.
        """
        kc = self._kc
        texts = self._texts
        floats = self._floats
        text = self.text
        number = self.number
        integer = self.integer
        key_flags = self.key_flags
        plain = not self._redact
        credential, int_lo, int_hi = K_CREDENTIAL, _I64_MIN, _EPOCH_RANGES[1][0]
        memo_max = _MEMO_MAX

        def flat(d: dict[Any, Any]) -> dict[str, Any] | None:
            out: dict[str, Any] = {}
            for k, v in d.items():
                if type(k) is not str:
                    return None
                flags = kc.get(k)
                if flags is None:
                    flags = key_flags(k)
                t = type(v)
                if t is str:
                    if flags:
                        return None
                    nv = texts.get(v)
                    if nv is None:
                        # The short-plain-text test, inlined (a call per value is what this
                        # loop saves); its twin is in mapping() below: change both together.
                        if (
                            len(v) < 11
                            and plain
                            and v.isascii()
                            and "<uuid:" not in v
                            and ":" not in v
                            and "=" not in v
                        ):
                            nv = v  # (what string() returns at once; memoized from here on)
                            if len(texts) < memo_max:
                                texts[v] = v
                        else:
                            nv = text(v)
                    out[k] = nv
                elif t is int:
                    if int_lo <= v < int_hi:
                        if flags and flags != credential:
                            return None
                        out[k] = v
                    elif flags:  # an epoch reading or a big int under a key that classifies
                        return None
                    else:
                        out[k] = integer(v)
                elif t is float:
                    if flags and flags != credential:
                        return None
                    fv = floats.get(v)
                    out[k] = fv if fv is not None else number(v)
                elif v is None or t is bool:
                    if flags and flags != credential:
                        return None
                    out[k] = v
                else:
                    return None
            return out

        return flat

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
        drop, rename, value_rules, credential = K_DROP, K_RENAME, K_VALUE_RULES, K_CREDENTIAL
        int_lo, int_hi = _I64_MIN, _EPOCH_RANGES[1][0]
        child_path = None
        k: Any = "?"
        try:
            for k, v in d.items():
                if type(k) is not str:
                    k = self.key_str(k)
                    renamed = True  # 1 and "1" both become "1": keep both (see below)
                flags = kc.get(k)
                if flags is None:
                    flags = self.key_flags(k)
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
                    # (A credential key only matters for a string: skip the call for counters.)
                    if flags & value_rules and (
                        flags & value_rules != credential
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
                    # The short-plain-text test, inlined as in flat() above: keep them in step.
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
            problem.path.insert(0, k if type(k) is str else self.key_str(k))
            raise
        except AgentRigError:
            raise
        except Exception as exc:  # the user's object raised while being read
            raise _ValueProblem([k if type(k) is str else self.key_str(k)], exc) from None
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
                if action & K_DROP:
                    continue
                out.append(_MASKED if action else self.value(x, child_depth, child_path))
            return out
        finally:
            self._active.discard(ident)

    def key_str(self, k: object) -> str:
        if isinstance(k, enum.Enum):
            return f"{type(k).__name__}.{k.name}"
        if isinstance(k, str):
            return str.__str__(k)
        if isinstance(k, (frozenset, tuple)):
            # str() of a frozenset follows the hash seed: sort the members' own key texts.
            parts = [repr(x) if isinstance(x, str) else self.key_str(x) for x in k]
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
        if isinstance(v, (_dt.datetime, _dt.date)) and self._c.keep & KEEP_TIMESTAMPS:
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

    def renumber(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Replace UUID marks by ``<uuid:N>`` numbered in reading order (keys sorted)."""
        if not self._uuids:
            return doc
        numbers: dict[str, int] = {}
        # What each mark stood for, to break the last ties (below) by content, not arrival.
        sources: dict[str, tuple[int, int, str]] = {}
        for text, k in self._uuids.items():
            placeholder = _UUID_PLACEHOLDER_RE.fullmatch(text)
            sources[str(k)] = (0, int(text[6:-1]), "") if placeholder else (1, 0, text)

        def sub(match: re.Match[str]) -> str:
            mark = match.group(1)
            n = numbers.get(mark)
            if n is None:
                n = numbers[mark] = len(numbers) + 1
            return f"<uuid:{n}>"

        def rank(match: re.Match[str]) -> tuple[int, int, int, str]:
            n = numbers.get(match.group(1))
            return (0, n, 0, "") if n is not None else (1, *sources[match.group(1)])

        def order(key: str, d: Mapping[str, Any]) -> tuple[str, bytes, list[Any]]:
            # Keys that read the same with their marks masked (two UUID keys) are visited
            # known UUIDs first, by number, then by what they stood for: never by arrival
            # (the mark numbers), nor by the input's key order. Sorting by what a ``<uuid:N>``
            # stood for makes a second pass visit them as the first did (idempotence).
            masked, content = _reading_key(key, d)
            if "\x00" not in key:
                return masked, content, []
            return masked, content, [rank(m) for m in _UUID_MARK_RE.finditer(key)]

        def walk(v: Any) -> Any:
            t = type(v)
            if t is str:
                return _UUID_MARK_RE.sub(sub, v) if "\x00" in v else v
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
    uuid_mark: Callable[[re.Match[str]], str],
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
        s = MEMORY_ADDRESS_RE.sub("", s)
    if len(s) >= 16 and "-" in s:
        if ":" in s and not keep & KEEP_TIMESTAMPS:
            s = _TIMESTAMP_RE.sub(_TIMESTAMP, s)
        if len(s) >= 36 and not keep & KEEP_UUIDS:
            s = _UUID_RE.sub(uuid_mark, s)
    if "<uuid:" in s and not keep & KEEP_UUIDS:
        s = _UUID_PLACEHOLDER_RE.sub(uuid_mark, s)
    return s


_KEEP: Final = object()
_SKIP: Final = object()

# Strings normalization itself puts where a number or a redaction was: a second pass must
# keep them (idempotence), so a secret or credential key does not redact them.
_PLACEHOLDERS: Final = frozenset(
    {"<nan>", "<inf>", "<-inf>", _TIMESTAMP, _REDACTED, _MASKED, _CYCLE, _TOO_DEEP, _TRUNCATED}
)


def _special_value(flags: int, v: object) -> object:
    """What a key's classification does to its value: a replacement, _SKIP or _KEEP."""
    if flags & K_MASK:
        return _MASKED
    t = type(v)
    # An int beyond 64 bits would be written as a string, which a second pass would redact:
    # under a secret or credential key it is redacted at once.
    big = t is int and not _I64_MIN <= v < _U64_END  # type: ignore[operator]
    scalar = v is None or t is bool or (t is int and not big) or t is float
    if flags & K_SECRET and not (scalar or (t is str and (not v or v in _PLACEHOLDERS))):
        return _REDACTED
    if flags & K_CREDENTIAL and (
        big or (t is bytes and v) or (t is str and v and v not in _PLACEHOLDERS)
    ):
        return _REDACTED
    if flags & K_WALL and (t is int or t is float):
        return _SKIP
    if flags & K_EPOCH_SECONDS and t is int and EPOCH_SECONDS[0] <= v <= EPOCH_SECONDS[1]:  # type: ignore[operator]
        return _TIMESTAMP
    return _KEEP


def _probe_uuid(match: re.Match[str]) -> str:
    return "\x00"


def _reading_key(key: str, d: Mapping[str, Any]) -> tuple[str, bytes]:
    # Keys in the order they are written, with UUID marks masked so that arrival order (the
    # mark numbers) cannot decide which UUID is met first.
    if "\x00" not in key:
        return key, b""
    return mask_uuid_marks(key), _content_bytes_of_value(d[key])


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
