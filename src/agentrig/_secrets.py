"""The built-in secret patterns: API keys, bearer tokens, credential fields, URL passwords.

One place for them, at the bottom layer, so that snapshot documents (:mod:`agentrig.normalize`),
snapshot file names (:mod:`agentrig.snapshot`) and every error message
(:class:`agentrig.AgentRigError`) redact the same things the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

__all__ = [
    "MEMORY_ADDRESS_RE",
    "REDACTED",
    "TOKEN_MARKER_RE",
    "redact_secrets",
    "user_patterns",
    "user_patterns_active",
]

REDACTED: Final = "<redacted>"

#: The memory address of an object's default repr (``<Doc object at 0x7f3a…>``): different on
#: every run and meaningless to a reader, so snapshots and error messages drop it. Only inside
#: a repr: user text such as "paid the wallet at 0x5290…" is data and stays.
MEMORY_ADDRESS_RE: Final = re.compile(r" at 0x[0-9A-Fa-f]+(?=>)")

# Provider tokens, found by their shape anywhere in a string. The shapes follow gitleaks'
# rules (``cmd/generate/config/rules/*.go``: private-key, jwt, stripe-access-token,
# huggingface-access-token, gitlab-*, npm-access-token, slack-*, pypi-upload-token, ...) and
# detect-secrets' plugins (PrivateKeyDetector, JwtTokenDetector, StripeDetector,
# SlackDetector, ...), widened where a cut would leave part of a token behind: every pattern
# runs to the token's end.
SECRET_RE: Final = re.compile(
    r"""
      -----BEGIN[ A-Z0-9_-]{0,100}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----       # PEM / PGP private key
        (?:.*?-----END[ A-Z0-9_-]{0,100}PRIVATE[ ]KEY(?:[ ]BLOCK)?-----|.*)  # (to its end)
    | \bsk-[A-Za-z0-9_\-]{8,}                     # OpenAI / Anthropic (sk-ant-..., sk-proj-...)
    | \b(?:sk|rk|pk)_(?:live|test|prod)_[A-Za-z0-9]{8,}   # Stripe
    | \bwhsec_[A-Za-z0-9]{16,}                    # Stripe webhook signing secret
    | \b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|A3T[A-Z0-9])[0-9A-Z]{16}\b   # AWS key ids
    | \bgh[pousr]_[A-Za-z0-9]{16,}                # GitHub tokens
    | \bgithub_pat_[A-Za-z0-9_]{16,}
    | \bgl(?:pat|dt|rt|ptt|cbt|ft|imt|oas|soat|agent)-[A-Za-z0-9_\-]{16,}   # GitLab
    | \bGR1348941[A-Za-z0-9_\-]{16,}              # GitLab runner registration token
    | \bhf_[A-Za-z0-9]{20,}                       # Hugging Face
    | \bapi_org_[A-Za-z0-9]{20,}
    | \bnpm_[A-Za-z0-9]{30,}                      # npm
    | \bpypi-[A-Za-z0-9_\-]{40,}                  # PyPI upload token
    | \bxox[abceoprs]-[A-Za-z0-9\-]{8,}           # Slack bot / user / app-config tokens
    | \bxapp-[0-9]-[A-Za-z0-9\-]{8,}              # Slack app-level token
    | \bhooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_\-]{8,}   # webhooks
    | \bdiscord(?:app)?\.com/api/webhooks/[0-9]+/[A-Za-z0-9_\-]{16,}
    | \bAIza[0-9A-Za-z_\-]{20,}                   # Google API key
    | \bya29\.[0-9A-Za-z_\-]{20,}                 # Google OAuth access token
    | \bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}   # SendGrid
    | \bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}        # Shopify
    | \bdo[opr]_v1_[a-f0-9]{64}                   # DigitalOcean
    | \bdapi[a-f0-9]{32}(?:-[0-9])?\b             # Databricks
    | \bgsk_[A-Za-z0-9]{20,}                      # Groq
    | \br8_[A-Za-z0-9]{20,}                       # Replicate
    | \bxai-[A-Za-z0-9]{20,}                      # xAI
    | \bpplx-[A-Za-z0-9]{20,}                     # Perplexity
    | \bsq0(?:atp|csp)-[0-9A-Za-z_\-]{20,}        # Square
    | \bey[A-Za-z0-9_\-]{10,}\.ey[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]*=*   # JWT, no "Bearer"
    | (?P<bearer>\b(?:[Bb]earer|BEARER)\s+)[A-Za-z0-9\-._~+/]+=*
    """,
    re.VERBOSE | re.DOTALL,
)
# The literal text each SECRET_RE alternative needs: the expression runs only on a hit.
_TOKEN_MARKERS: Final = (
    "PRIVATE KEY",
    "sk-",
    "k_live_",
    "k_test_",
    "k_prod_",
    "whsec_",
    "AKIA",
    "ASIA",
    "AGPA",
    "AIDA",
    "AROA",
    "AIPA",
    "ANPA",
    "ANVA",
    "A3T",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "gldt-",
    "glrt-",
    "glptt-",
    "glcbt-",
    "glft-",
    "glimt-",
    "gloas-",
    "glsoat-",
    "glagent-",
    "GR1348941",
    "hf_",
    "api_org_",
    "npm_",
    "pypi-",
    "xox",
    "xapp-",
    "hooks.slack.com",
    "/api/webhooks/",
    "AIza",
    "ya29.",
    "SG.",
    "shpat_",
    "shpca_",
    "shppa_",
    "shpss_",
    "_v1_",
    "dapi",
    "gsk_",
    "r8_",
    "xai-",
    "pplx-",
    "sq0",
    "eyJ",
    "earer",
    "EARER",
)

# Credentials written as a field inside a longer string: a header ("Authorization: Basic
# dXNl..." keeps its scheme word; "Cookie: a=b; c=d"), up to the end of the line or a quote;
# a key=value pair whose key names a secret ("password=hunter2", "api_key: 'abc'",
# '"client_secret": "x"', "DB_PASSWORD_PROD=x", "SECRET_KEY=x", "STRIPE_KEY=x"; "max_tokens=100"
# and "author: Jane" stay); a URL's password ("postgres://app:s3/cr@t@db/app"). Only the value
# is redacted (a quoted one keeps its quotes, so normalizing twice changes nothing), and always
# to its end: a quoted value to its closing quote (escaped quotes skipped, an unterminated one
# to the end of the line), a password-like value to the end of the line (a passphrase has
# spaces) or a ``&``, a value on the lines below a YAML key (indented, or a ``|`` block) whole.
# A value in escaped quotes (JSON inside a JSON string: \\"x\\"), or in quotes with escapes inside
# skipped, or an unterminated quote (to the end of the line).
_QUOTED: Final = (
    r"""(?:\\"[^"\\\r\n]*\\"|\\'[^'\\\r\n]*\\'"""
    r"""|"(?:[^"\\\r\n]|\\.)*(?:"|(?=[\r\n]|\Z))|'(?:[^'\\\r\n]|\\.)*(?:'|(?=[\r\n]|\Z)))"""
)
_FIELD_VALUE: Final = rf"""(?:{_QUOTED}|[^\r\n'"]+)"""
_STRONG_WORDS: Final = r"passw(?:or)?d|passphrase|pwd|secret|private[-_]?key|credentials?"
_WEAK_WORDS: Final = r"api[-_]?key|apikey|access[-_]?key|token|auth"
# A YAML key with nothing after its colon, then the indented value lines (or a ``|``/``>``
# block scalar): the whole block is the value.
_NEXT_LINES: Final = r"(?:[ \t]*[|>][-+0-9]*)?[ \t]*\r?\n(?:[ \t]+[^\r\n]*(?:\r?\n|$))+"
SECRET_FIELD_RE: Final = re.compile(
    rf"""
      \b(?:proxy-)?authorization\\?["']?[ \t]*:[ \t]*(?:[a-z][\w-]*[ \t]+)?(?P<h1>{_FIELD_VALUE})
    | \b(?:set-)?cookie\\?["']?[ \t]*:[ \t]*(?P<h2>{_FIELD_VALUE})
    | \b[\w.-]*?(?:{_STRONG_WORDS})(?:[_.-][A-Za-z0-9]+)*\\?["']?[ \t]*
        (?::(?P<yaml>{_NEXT_LINES})|[:=][ \t]*
          (?P<pw>(?:{_QUOTED}|[^\s"'&][^\r\n&]*)(?:(?<=:){_NEXT_LINES})?))
    | \b[\w.-]*?(?:{_WEAK_WORDS})\\?["']?[ \t]*(?::(?P<yaml2>{_NEXT_LINES})|[:=][ \t]*
        (?P<kv>{_QUOTED}|[^\s"'&,;)}}\]]+))
    | (?-i:\b[A-Z][A-Z0-9_]*?(?:KEY|TOKEN|PASS|AUTH)(?:_[A-Z0-9]+)*)[ \t]*[:=][ \t]*
        (?P<env>{_QUOTED}|[^\s"'&,;)}}\]]+)
    | \b[a-z][a-z0-9+.-]*://[^\s/:@]*:(?P<url>[^\s]+?)(?=@[^\s@]*(?:[\s"'<>]|\Z))
    """,
    re.VERBOSE | re.IGNORECASE,
)

# The words SECRET_FIELD_RE's keys end in (or hold, before a suffix): a field can only be where
# one of them stands shortly before a ``:`` or ``=``, or in a URL.
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
    "pass",
)


def _literal_trie(words: tuple[str, ...]) -> str:
    """One regular expression matching any of ``words``, factored by common prefix.

    ``re`` tries the alternatives of ``a|b|c`` one by one at every position; factored into a
    trie (``A(?:KIA|SIA)``) it compares each character once, which makes the marker test of
    :func:`redact_secrets` several times faster than 57 substring checks.
    """
    trie: dict[str, dict[str, Any]] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        if "" in node:  # a whole word ends here: any longer one is already covered by it
            return ""
        alts = [re.escape(ch) + pattern(child) for ch, child in sorted(node.items())]
        return alts[0] if len(alts) == 1 else f"(?:{'|'.join(alts)})"

    return pattern(trie)


#: Matches where any of :data:`_TOKEN_MARKERS` occurs (``SECRET_RE`` needs one of them).
TOKEN_MARKER_RE: Final = re.compile(_literal_trie(_TOKEN_MARKERS))

# How far before a separator a field word may start (``DB_PASSWORD_PROD_EU_WEST=``).
_FIELD_REACH: Final = 40

_user_patterns: list[tuple[re.Pattern[str], ...]] = []


@contextmanager
def user_patterns(patterns: tuple[re.Pattern[str], ...]) -> Iterator[None]:
    """Redact ``patterns`` (a session's ``agentrig_secret_patterns``) everywhere for the block.

    Every output channel calls :func:`redact_secrets`: snapshot contents and file names,
    error messages, reprs, the terminal summary, the JSON report and annotations. The plugin
    activates the session's patterns here once, so none of them can forget to (sessions nest
    under ``pytester``: the patterns of every active session apply).
    """
    _user_patterns.append(patterns)
    try:
        yield
    finally:
        for i in range(len(_user_patterns) - 1, -1, -1):
            if _user_patterns[i] is patterns:
                del _user_patterns[i]
                break


def user_patterns_active() -> bool:
    """Whether some session's ``agentrig_secret_patterns`` apply now (see :func:`user_patterns`).

    A session without patterns activates an empty tuple: that is not active.
    """
    return any(_user_patterns)


def _may_hold_field(s: str) -> bool:
    """A cheap superset test of SECRET_FIELD_RE: prose ("key points: ...") stays cheap."""
    low = s.lower()
    if "://" in low:
        return True
    for sep in (":", "="):
        i = low.find(sep)
        while i >= 0:
            j = i
            while j > 0 and low[j - 1] in " \t\"'\\":
                j -= 1
            before = low[max(0, j - _FIELD_REACH) : j]
            if any(word in before for word in _FIELD_WORDS):
                return True
            i = low.find(sep, i + 1)
    return False


def redact_secrets(s: str) -> str:
    """The built-in secret patterns, then the active user patterns, applied to one string.

    >>> redact_secrets("call with sk-abcdefgh12345678, then password=hunter2")
    'call with <redacted>, then password=<redacted>'
    """
    # Cheap substring checks first: a regular expression runs only when one of them hits.
    if len(s) >= 11 and TOKEN_MARKER_RE.search(s):
        s = SECRET_RE.sub(_redact_secret, s)
    if len(s) >= 5 and ("=" in s or ":" in s) and _may_hold_field(s):
        s = SECRET_FIELD_RE.sub(_redact_field, s)
    for patterns in _user_patterns:
        for rx in patterns:
            s = rx.sub(REDACTED, s)
    return s


def _redact_field(match: re.Match[str]) -> str:
    for group in ("h1", "h2", "pw", "yaml", "kv", "yaml2", "env", "url"):
        start = match.start(group)
        if start >= 0:
            value = match.group(group)
            # A value that took the lines below its key keeps the line break after it (what
            # follows stays on its own line, and normalizing again changes nothing).
            end = "\n" if value.endswith("\n") else ""
            if group in ("yaml", "yaml2"):  # the indented lines below the key: one value
                return f"{match.string[match.start() : start]} {REDACTED}{end}"
            quote = ""
            for q in ('\\"', "\\'", '"', "'"):  # escaped quotes first
                if len(value) >= 2 * len(q) and value.startswith(q) and value.endswith(q):
                    quote = q
                    break
            # A quoted value keeps its quotes, so that normalizing again changes nothing.
            return f"{match.string[match.start() : start]}{quote}{REDACTED}{quote}{end}"
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
