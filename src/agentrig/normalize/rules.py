"""The scrubbing rules: the user's :class:`NormalizeRules` and the key classification they feed.

Rules are validated once, when constructed, and compiled (:class:`CompiledRules`) into what
the value walker of :mod:`agentrig.normalize.scrub` asks per key: a set of ``K_*`` flags.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from agentrig._errors import ConfigurationError

__all__ = [
    "DEFAULT_RULES",
    "EPOCH_SECONDS",
    "KEEP_EPOCH",
    "KEEP_TIMESTAMPS",
    "KEEP_UUIDS",
    "K_CREDENTIAL",
    "K_DROP",
    "K_EPOCH_SECONDS",
    "K_MASK",
    "K_RENAME",
    "K_SECRET",
    "K_VALUE_RULES",
    "K_WALL",
    "SCRUB_RULES",
    "CompiledRules",
    "NormalizeRules",
    "compiled",
]

#: The built-in scrubbing rules :class:`NormalizeRules` ``keep=`` can turn off.
SCRUB_RULES: Final = ("uuids", "timestamps", "epoch_numbers")
KEEP_UUIDS: Final = 1
KEEP_TIMESTAMPS: Final = 2
KEEP_EPOCH: Final = 4

#: Wall-clock epoch readings in seconds (2000-01-01 .. 2100-01-01).
EPOCH_SECONDS: Final = (946_684_800, 4_102_444_800)

# --- key classification -----------------------------------------------------------------------

K_DROP: Final = 1
K_MASK: Final = 2
K_SECRET: Final = 4  # redact strings and containers (numbers, bools and None stay)
K_CREDENTIAL: Final = 8  # a key naming a token (``access_token``): redact strings only
K_WALL: Final = 16  # drop numbers
K_EPOCH_SECONDS: Final = 32  # ints in the epoch-seconds range become <timestamp>
K_RENAME: Final = 64  # the key's text itself changes (a UUID, a secret, a surrogate in it)
K_VALUE_RULES: Final = K_MASK | K_SECRET | K_CREDENTIAL | K_WALL | K_EPOCH_SECONDS

_SECRET_KEY_RE: Final = re.compile(
    r"passw(?:or)?d|passphrase|secret|api[-_]?key|authori[sz]ation|cookie|credential"
    r"|private[-_]?key|access[-_]?key|^pwd$|^auth$"
)
_TIME_KEY_RE: Final = re.compile(
    r"(?:^|[._-])(?:ts|time|timestamp|date|datetime|created|updated|modified|expires?)$|_at$"
)
_WALL_KEYS: Final = frozenset({"wall", "wall_start", "wall_end", "wall_time", "wall_clock"})
_DEFAULT_DROP_KEYS: Final = frozenset({"exception.stacktrace"})

_PATH_SCOPES: Final = ("spans.", "entries.")


def _classify_builtin_key(key: str) -> int:
    low = key.lower()
    flags = 0
    if key in _DEFAULT_DROP_KEYS:
        flags |= K_DROP
    if _SECRET_KEY_RE.search(low):
        flags |= K_SECRET
    elif "token" in low and "tokeniz" not in low:
        flags |= K_CREDENTIAL
    if low in _WALL_KEYS:
        flags |= K_WALL
    if _TIME_KEY_RE.search(low):
        flags |= K_EPOCH_SECONDS
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
    _compiled: CompiledRules = field(init=False, repr=False, compare=False, hash=False)

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
            self, "_compiled", CompiledRules(drop, mask, tuple(compiled_redact), digits, keep)
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


class CompiledRules:
    """NormalizeRules made fast: key globs folded into flags, path globs compiled.

    ``key_cache`` is filled by the value walker (``Scrubber.key_flags``, which adds
    :data:`K_RENAME`); it lives here so that it outlives one run.
    """

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
            (KEEP_UUIDS if "uuids" in keep else 0)
            | (KEEP_TIMESTAMPS if "timestamps" in keep else 0)
            | (KEEP_EPOCH if "epoch_numbers" in keep else 0)
        )
        # From here up, `digits` significant digits would round away cents: round to cents.
        self.cents_from = 10.0 ** max(digits - 2, 0)
        self.key_rules: list[tuple[re.Pattern[str], int]] = []
        self.path_rules: list[tuple[re.Pattern[str], int]] = []
        for rules, flag in ((drop, K_DROP), (mask, K_MASK)):
            for rule in rules:
                target = self.path_rules if rule.startswith(_PATH_SCOPES) else self.key_rules
                target.append((_glob(rule), flag))
        self.redact = redact
        self.float_format = f"%.{digits}g"
        self.key_cache: dict[str, int] = {}

    def key_flags(self, key: str) -> int:
        """The built-in and user flags of a key (not :data:`K_RENAME`, not cached)."""
        flags = _classify_builtin_key(key)
        if self.keep & KEEP_EPOCH:
            flags &= ~K_EPOCH_SECONDS
        for rx, flag in self.key_rules:
            if rx.match(key):
                flags |= flag
        return flags

    def path_action(self, path: str) -> int:
        for rx, flag in self.path_rules:
            if rx.match(path):
                return flag
        return 0


def compiled(rules: NormalizeRules) -> CompiledRules:
    """The compiled form of ``rules`` (built once, in their constructor)."""
    return rules._compiled


#: The rules ``normalize`` applies when given none (built once).
DEFAULT_RULES: Final = NormalizeRules()
