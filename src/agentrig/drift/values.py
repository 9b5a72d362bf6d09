"""How values are shown in a report line: shortened, quoted, times formatted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

__all__ = ["VALUE_WIDTH", "describe_item", "fmt_signed", "fmt_time", "short", "shorten_pair"]


#: The widest a value is shown in a report line (the JSON report keeps values whole).
VALUE_WIDTH: Final = 120


def fmt_time(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.1f}"


def short(value: Any, width: int = VALUE_WIDTH) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= width else value[:width] + "…")
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= width else text[:width] + "…"


def shorten_pair(a: str, b: str, width: int = VALUE_WIDTH) -> tuple[str, str]:
    """Both strings cut to a window around their first difference."""
    if len(a) <= width and len(b) <= width:
        return a, b
    limit = min(len(a), len(b))
    first = 0
    while first < limit and a[first] == b[first]:
        first += 1
    start = max(0, first - width // 3)

    def cut(s: str) -> str:
        piece = s[start : start + width]
        return ("…" if start else "") + piece + ("…" if start + width < len(s) else "")

    return cut(a), cut(b)


def describe_item(value: Any) -> str:
    if isinstance(value, Mapping):
        if "span" in value:
            status = value.get("status")
            extra = f" (status {status})" if status not in (None, "unset") else ""
            return f"span {value['span']!r}{extra}"
        if "entry" in value:
            data = value.get("data")
            return f"{value['entry']} {short(data)}" if data else str(value["entry"])
        if "name" in value and len(value) <= 3 and ("t" in value or "attributes" in value):
            attrs = value.get("attributes")
            return f"event {value['name']!r}" + (f" {short(attrs)}" if attrs else "")
    return short(value)


def fmt_signed(value: float) -> str:
    return ("+" if value >= 0 else "-") + fmt_time(abs(value))
