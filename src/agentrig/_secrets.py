"""The built-in secret patterns: API keys, bearer tokens, credential fields, URL passwords.

One place for them, at the bottom layer, so that snapshot documents (:mod:`agentrig.normalize`),
snapshot file names (:mod:`agentrig.snapshot`) and every error message
(:class:`agentrig.AgentRigError`) redact the same things the same way.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["REDACTED", "redact_secrets"]

REDACTED: Final = "<redacted>"

SECRET_RE: Final = re.compile(
    r"""
      \bsk-[A-Za-z0-9_\-]{8,}                     # OpenAI / Anthropic (sk-ant-..., sk-proj-...)
    | \b(?:AKIA|ASIA)[0-9A-Z]{16}\b               # AWS access key id
    | \bgh[pousr]_[A-Za-z0-9]{16,}                # GitHub tokens
    | \bgithub_pat_[A-Za-z0-9_]{16,}
    | \bxox[abprs]-[A-Za-z0-9\-]{8,}              # Slack
    | \bAIza[0-9A-Za-z_\-]{20,}                   # Google API key
    | (?P<bearer>\b(?:[Bb]earer|BEARER)\s+)[A-Za-z0-9\-._~+/]+=*
    """,
    re.VERBOSE,
)
# Credentials written as a field inside a longer string: a header ("Authorization: Basic
# dXNl..." keeps its scheme word; "Cookie: a=b; c=d"), up to the end of the line or a quote;
# a key=value pair whose key names a secret ("password=hunter2", "api_key: 'abc'",
# '"client_secret": "x"'; the key must end in the secret word, so "max_tokens=100" and
# "author: Jane" stay); a URL's password ("postgres://app:s3cret@db/app"). Only the value
# is redacted (a quoted one keeps its quotes, so normalizing twice changes nothing).
_FIELD_VALUE: Final = r"""(?:"[^"\r\n]*"|'[^'\r\n]*'|[^\r\n'"]+)"""
SECRET_FIELD_RE: Final = re.compile(
    r"""
      \b(?:proxy-)?authorization["']?[ \t]*:[ \t]*(?:[a-z][\w-]*[ \t]+)?(?P<h1>VALUE)
    | \b(?:set-)?cookie["']?[ \t]*:[ \t]*(?P<h2>VALUE)
    | \b[\w.-]*?(?:passw(?:or)?d|passphrase|pwd|secret|api[-_]?key|apikey|access[-_]?key
        |private[-_]?key|token|credentials?|auth)["']?[ \t]*[:=][ \t]*
        (?P<kv>"[^"\r\n]*"|'[^'\r\n]*'|[^\s"'&,;)}\]]+)
    | \b[a-z][a-z0-9+.-]*://[^\s/:@]*:(?P<url>[^\s/@]+)(?=@)
    """.replace("VALUE", _FIELD_VALUE),
    re.VERBOSE | re.IGNORECASE,
)

# The words SECRET_FIELD_RE's keys end in: a field can only be where one of them stands right
# before a ``:`` or ``=`` (quotes and blanks between allowed), or in a URL.
_FIELD_WORDS: Final = (
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "key",
    "token",
    "credential",
    "credentials",
    "auth",
    "authorization",
    "cookie",
)


def _may_hold_field(s: str) -> bool:
    """A cheap superset test of SECRET_FIELD_RE: prose ("key points: ...") stays cheap."""
    low = s.lower()
    if "://" in low:
        return True
    for sep in (":", "="):
        i = low.find(sep)
        while i >= 0:
            j = i
            while j > 0 and low[j - 1] in " \t\"'":
                j -= 1
            if low[max(0, j - 14) : j].endswith(_FIELD_WORDS):
                return True
            i = low.find(sep, i + 1)
    return False


def redact_secrets(s: str) -> str:
    """The built-in secret patterns applied to one string (API keys, bearer tokens, credential
    fields and headers, URL passwords); user patterns are applied by the caller.

    >>> redact_secrets("call with sk-abcdefgh12345678, then password=hunter2")
    'call with <redacted>, then password=<redacted>'
    """
    # Cheap substring checks first: a regular expression runs only when one of them hits.
    if len(s) >= 11 and (
        "sk-" in s
        or "AKIA" in s
        or "ASIA" in s
        or ("_" in s and "gh" in s)
        or "xox" in s
        or "AIza" in s
        or "earer" in s
        or "EARER" in s
    ):
        s = SECRET_RE.sub(_redact_secret, s)
    if len(s) >= 5 and ("=" in s or ":" in s) and _may_hold_field(s):
        s = SECRET_FIELD_RE.sub(_redact_field, s)
    return s


def _redact_field(match: re.Match[str]) -> str:
    for group in ("h1", "h2", "kv", "url"):
        start = match.start(group)
        if start >= 0:
            value = match.group(group)
            quoted = len(value) > 1 and value[0] in "'\"" and value[-1] == value[0]
            quote = value[0] if quoted else ""
            # A quoted value keeps its quotes, so that normalizing again changes nothing.
            return f"{match.string[match.start() : start]}{quote}{REDACTED}{quote}"
    return REDACTED  # pragma: no cover - every alternative has a value group


def _redact_secret(match: re.Match[str]) -> str:
    bearer = match.group("bearer")
    if not bearer:
        return REDACTED
    token = match.group(0)[len(bearer) :]
    # "the bearer of bad news" is prose: a lowercase "bearer" followed by a short plain word.
    if bearer[0] == "b" and token.isalpha() and len(token) < 20:
        return match.group(0)
    return f"{bearer}{REDACTED}"
