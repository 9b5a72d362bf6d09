"""Argument checks: one validator per kind of argument, so one mistake reads one way everywhere.

A latency, a deadline, a stall timeout and a backoff are all "seconds"; a token cap and a retry
count are whole numbers; agent, stage and pool names are names. Each kind is checked here, once,
with the same words whichever constructor the value was given to: the message names the
argument (and its owner, ``Deadline `seconds```), quotes the value, and says what is wanted.
Money has its own module (:mod:`agentrig.money`).
"""

from __future__ import annotations

import math
import operator

from agentrig._errors import ArgumentTypeError, ConfigurationError

__all__ = ["check_count", "check_name", "check_number", "check_seconds"]


def _label(param: str, owner: str | None) -> str:
    return f"{owner} `{param}`" if owner else f"`{param}`"


def check_seconds(
    value: object,
    param: str,
    *,
    owner: str | None = None,
    finite: bool = True,
    most: float | None = None,
) -> float:
    """``value`` as a float number of seconds (a duration), or a ConfigurationError.

    Args:
        value: what the user passed (an int or float; a bool is refused).
        param: the argument's name, quoted in the message.
        owner: what the argument belongs to (``"Deadline"``), when the name alone is ambiguous.
        finite: whether infinity is refused (``False``: it means "never"). NaN always is.
        most: the largest value accepted, if any.
    """
    cls = type(value)
    if cls is float or cls is int:  # the common case, checked without building the label
        seconds = float(value)  # type: ignore[arg-type]
        if 0 <= seconds < math.inf and (most is None or seconds <= most):
            return seconds
    label = _label(param, owner)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(f"{label} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if math.isnan(seconds) or (finite and math.isinf(seconds)):
        kind = "a finite number" if finite else "a number (inf: never)"
        raise ConfigurationError(f"{label} must be {kind} of seconds, got {value!r}")
    if seconds < 0:
        raise ConfigurationError(f"{label} must be non-negative, got {value!r}")
    if most is not None and seconds > most:
        raise ConfigurationError(f"{label} must be at most {most:g} seconds, got {value!r}")
    return seconds


def check_number(
    value: object, param: str, *, owner: str | None = None, minimum: float = 0.0
) -> float:
    """``value`` as a finite float of at least ``minimum`` (a factor, a fraction), or an error."""
    label = _label(param, owner)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ArgumentTypeError(f"{label} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < minimum:
        raise ConfigurationError(f"{label} must be finite and >= {minimum:g}, got {value!r}")
    return number


def check_count(
    value: object,
    param: str,
    *,
    owner: str | None = None,
    minimum: int = 0,
    unit: str = "",
) -> int:
    """``value`` as an int of at least ``minimum`` (tokens, attempts), or a ConfigurationError.

    Anything with ``__index__`` (a numpy integer) is an int; a bool and a float are not.
    """
    if type(value) is int and value >= minimum:  # the common case
        return value
    label = _label(param, owner)
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        what = f"a whole number of {unit} (an int)" if unit else "an int"
        raise ArgumentTypeError(f"{label} must be {what}, got {value!r}")
    count = operator.index(value)
    if count < minimum:
        rule = "non-negative" if minimum == 0 else f"at least {minimum}"
        raise ConfigurationError(f"{label} must be {rule}, got {value!r}")
    return count


def check_name(
    value: object, param: str = "name", *, owner: str | None = None, optional: bool = False
) -> str | None:
    """``value`` as a non-empty name (``None`` too when ``optional``), or a ConfigurationError."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        wanted = "a non-empty string or None" if optional else "a non-empty string"
        raise ConfigurationError(f"{_label(param, owner)} must be {wanted}, got {value!r}")
    return value
