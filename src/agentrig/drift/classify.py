"""Which class and which role a changed field has (text, usage-cost, timing, error ...)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import orjson

from agentrig.drift.config import DriftClass, is_number
from agentrig.drift.values import short

__all__ = [
    "ERROR_EVENT_RE",
    "ROLE_RANK",
    "R_CONFIG",
    "R_DURATION",
    "R_ERROR",
    "R_ITEM",
    "R_MOVED",
    "R_PROMPT",
    "R_REPLY",
    "R_STATUS",
    "R_TEXT",
    "R_TIME",
    "R_USAGE",
    "USAGE_RE",
    "class_of",
    "entry_class",
    "event_name",
    "leaf_name",
    "masked",
    "same",
    "status_text",
    "text_role",
    "value_role",
    "vtime",
]


USAGE_RE: Final = re.compile(
    r"token|usd|cost|price|spen[dt]|dollar|money|granted|returned|budget", re.IGNORECASE
)
_ERROR_RE: Final = re.compile(
    r"error|exception|fail|status|^ok$|^accepted$|refus|traceback", re.IGNORECASE
)
_TIMING_RE: Final = re.compile(
    r"^(?:t|at|start|end|duration|latency|elapsed|seconds|secs|timeout|deadline|remaining"
    r"|waited|wait|delay|ttl)$|_(?:s|ms|seconds|at|time|latency|duration|timeout)$|^time|time$",
    re.IGNORECASE,
)
ERROR_EVENT_RE: Final = re.compile(r"exception|fail|error", re.IGNORECASE)
#: Fields that are what a step was *given* (its input) or what it *answered*.
_PROMPT_RE: Final = re.compile(
    r"prompt|input|quer(?:y|ies)|question|instruction|request\.(?:body|messages)", re.IGNORECASE
)
_REPLY_RE: Final = re.compile(r"reply|output|completion|response|answer|result", re.IGNORECASE)
#: Configured numbers: a change in them is a root, never a ripple.
_CONFIG_RE: Final = re.compile(r"^max_|\.max_|^gen_ai\.request\.|limit|^cap$|_cap$", re.IGNORECASE)
#: Figures inside a message: ``$0.04``, ``1,234.5``, ``3``; masked to compare the words.
_FIGURE_RE: Final = re.compile(r"(?<![A-Za-z_\d])\d+(?:[.,]\d+)*(?:e[+-]?\d+)?(?![A-Za-z_])")


def leaf_name(field_name: str) -> str:
    leaf = field_name.rsplit(".", 1)[-1]
    return leaf.split("[", 1)[0] if "[" in leaf and not leaf.startswith("[") else leaf


def text_role(field_name: str) -> str:
    if _PROMPT_RE.search(field_name):
        return "prompt"
    if _REPLY_RE.search(field_name):
        return "reply"
    return "text"


def masked(value: str) -> str:
    return _FIGURE_RE.sub("#", value)


def class_of(context: str, field_name: str, a: Any, b: Any) -> DriftClass:
    """The class of a changed value, from the entry kind, the field's name and its values.

    Numbers are never ``text``: a count or an amount is ``usage-cost`` unless the field is a
    time (``timing``) or names a failure (``error``). Two messages that differ only in their
    figures (a decision quoting the money left) are ``usage-cost`` too.
    """
    leaf = leaf_name(field_name)
    if (
        isinstance(a, str)
        and isinstance(b, str)
        and text_role(field_name) == "text"
        and masked(a) == masked(b)
    ):
        return "usage-cost"  # a message quoting figures (what a model wrote is text)
    both_numbers = (is_number(a) or a is None) and (is_number(b) or b is None)
    numeric = both_numbers and (is_number(a) or is_number(b))
    if context == "error" or _ERROR_RE.search(leaf) or (numeric is False and "error" in field_name):
        if numeric and USAGE_RE.search(field_name):
            return "usage-cost"
        return "error"
    if numeric:
        if _TIMING_RE.search(leaf) or context == "deadline.expired":
            return "timing"
        return "usage-cost"
    if context == "decision" or isinstance(a, bool) or isinstance(b, bool):
        return "decision" if context == "decision" else "structure"
    return "text"


def entry_class(item: Any) -> DriftClass:
    if not isinstance(item, Mapping):
        return "structure"
    kind = str(item.get("entry", ""))
    data = item.get("data")
    if kind == "decision":
        return "decision"
    if kind == "budget.refused" or (
        kind == "bus.handler" and isinstance(data, Mapping) and data.get("ok") is False
    ):
        return "error"
    if kind == "deadline.expired":
        return "timing"
    if kind.startswith("budget."):
        return "usage-cost"
    return "structure"


def event_name(event: Any) -> str:
    return str(event.get("name", "")) if isinstance(event, Mapping) else short(event)


def same(a: Any, b: Any) -> bool:
    """Equal and of the same JSON types throughout: ``True`` is not ``1``, ``1`` not ``1.0``
    (Python's ``==`` says they are, and a changed type is a changed behaviour)."""
    if a != b:
        return False
    if type(a) is str or a is None:
        return True
    try:
        return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
            b, option=orjson.OPT_SORT_KEYS
        )
    except (TypeError, orjson.JSONEncodeError):
        return True


def status_text(span: Mapping[str, Any]) -> str:
    text = str(span.get("status", "unset"))
    message = span.get("status_message")
    error = span.get("error")
    if isinstance(error, Mapping):
        etype, emsg = error.get("type"), error.get("message")
        text += f": {etype}: {emsg}" if emsg not in (None, "") else f": {etype}"
    elif error is not None:
        text += f": {error}"
    elif message not in (None, ""):
        text += f" ({message})"
    return text


def vtime(value: Any) -> float | None:
    return float(value) if is_number(value) else None


# Roles: how a change can follow from an earlier one (see ``fold``).
R_TIME: Final = "time"  # a start / t: shifts after anything earlier
R_DURATION: Final = "duration"  # follows from changes inside the span
R_USAGE: Final = "usage"  # tokens, money, counts: ripple after anything earlier
R_CONFIG: Final = "config"  # a configured number: always a root
R_STATUS: Final = "status"  # a span's status: propagates up from a failed child
R_ERROR: Final = "error"
R_PROMPT: Final = "prompt"
R_REPLY: Final = "reply"
R_TEXT: Final = "text"
R_ITEM: Final = "item"  # a span, entry or event added or removed
R_MOVED: Final = "moved"

#: Inside one span, the order its own changes are considered in: what can be a root first
#: (a status, a reply), what ripples from it after (tokens, money).
ROLE_RANK: Final = {
    R_STATUS: 0,
    R_CONFIG: 1,
    R_ERROR: 2,
    R_PROMPT: 3,
    R_REPLY: 4,
    R_TEXT: 5,
    R_ITEM: 6,
    R_USAGE: 7,
    R_TIME: 8,
    R_DURATION: 9,
}


def value_role(drift_class: DriftClass, field_name: str) -> str:
    if drift_class == "timing":
        return R_DURATION if leaf_name(field_name) == "duration" else R_TIME
    if drift_class == "usage-cost":
        return R_CONFIG if _CONFIG_RE.search(field_name) else R_USAGE
    if drift_class == "error":
        return R_ERROR
    return text_role(field_name)
