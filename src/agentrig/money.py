"""Money: one parser, one formatter, one Decimal context for every US-dollar amount.

A budget cap, a marker's ``max_usd``, a price per 1k tokens and a figure in the CLI are the same
kind of value, so they are read the same way (:func:`parse_usd`), added in the same context
(:data:`CONTEXT`) and printed the same way (:func:`format_usd`): ``0.0000575`` is
``$0.0000575`` in a budget error, in the cost gate and in ``agentrig show``.

What a user may pass as an amount (decided once, here):

* ``Decimal``, ``int`` (and anything with ``__index__``: numpy integers) — exact as given;
* ``float`` (numpy's ``float64`` is one) — read through its shortest ``repr``, so ``0.1`` means
  exactly one tenth, not ``0.1000000000000000055...``;
* a ``Fraction`` (any ``numbers.Rational``) with a finite decimal expansion (``Fraction(1, 8)``;
  ``Fraction(1, 3)`` is refused: it has no exact decimal value);
* another real number type (numpy's ``float32``) — read through its ``str``, its own shortest
  form in its own precision (``np.float32(0.1)`` is ``0.1``), else through ``float``;
* a numeric string (``"0.04"``), surrounding blanks ignored.

Refused, with a :class:`~agentrig.ConfigurationError` naming the argument: booleans, NaN and
infinities, negative amounts, other strings and types, amounts from 10**15 USD up, and more than
60 decimal places. Within that range every sum of up to 10**20 amounts is exact in
:data:`CONTEXT`, whatever the caller's own decimal context says.
"""

from __future__ import annotations

import decimal
import numbers
import operator
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from typing import Final

from agentrig._errors import ArgumentTypeError, ConfigurationError

__all__ = [
    "CONTEXT",
    "MAX_PLACES",
    "MAX_USD",
    "ZERO",
    "format_usd",
    "parse_usd",
    "read_usd",
    "sum_usd",
]

#: The one context money is computed in: 100 digits keep every accepted sum exact, and the
#: caller's context (which may have ``prec=3``) never rounds one.
CONTEXT: Final = decimal.Context(
    prec=100,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=999_999,
    Emin=-999_999,
    traps=[decimal.InvalidOperation, decimal.Overflow, decimal.DivisionByZero],
)
ZERO: Final = Decimal(0)
#: Amounts must stay below this (a typo in the unit, not a budget).
MAX_USD: Final = Decimal(10) ** 15
#: Amounts are exact to ``1e-60`` USD.
MAX_PLACES: Final = 60

_CENT: Final = Decimal("0.01")
# Raises decimal.Inexact where a division has no exact result (Fraction(1, 3)).
_EXACT: Final = decimal.Context(prec=100, traps=[decimal.Inexact, decimal.InvalidOperation])


def parse_usd(value: object, param: str) -> Decimal:
    """``value`` as an exact, finite, non-negative Decimal number of US dollars.

    Args:
        value: the amount as the user passed it (see the module docstring for the types).
        param: the argument's name, quoted in the error (``"max_usd"``).

    Returns:
        The amount; every zero (``-0``, ``0E-7``) is the one :data:`ZERO`.

    Raises:
        ConfigurationError: naming ``param`` and the value, and what to write instead.
    """
    # The common types first, by exact type: this runs on every charge.
    cls = type(value)
    if cls is Decimal:
        amount: Decimal = value  # type: ignore[assignment]
    elif cls is float:
        amount = Decimal(repr(value))
    elif cls is int:
        amount = Decimal(value)  # type: ignore[arg-type]
    else:
        amount = _convert(value, param)
    if not amount.is_finite():
        raise ConfigurationError(
            f"`{param}` must be a finite amount of US dollars, got {value!r};"
            " NaN and infinity would poison every sum"
        )
    if amount <= ZERO:
        if amount == ZERO:
            return ZERO  # also folds -0 and 0E-7 into one zero
        raise ConfigurationError(f"`{param}` must be non-negative, got {value!r}")
    if amount >= MAX_USD:
        raise ConfigurationError(
            f"`{param}` must be below 10**15 US dollars, got {value!r}; is it in the right unit?"
        )
    text = str(amount)  # a plain "0.0000575" of at most 61 characters has few enough places
    if len(text) > MAX_PLACES + 1 or "E" in text:  # (as_tuple() costs 5x more: every charge)
        exponent = amount.normalize(CONTEXT).as_tuple().exponent  # 0.100000 has 1 place, not 6
        if isinstance(exponent, int) and exponent < -MAX_PLACES:
            raise ConfigurationError(
                f"`{param}` has more than {MAX_PLACES} decimal places ({value!r}); agentrig"
                f" keeps money exact to 1e-{MAX_PLACES} USD, round the amount first"
            )
    return amount


def _convert(value: object, param: str) -> Decimal:
    """The less common types of :func:`parse_usd` (subclasses, numpy, Fraction, str)."""
    if isinstance(value, bool):
        raise ArgumentTypeError(
            f"`{param}` must be an amount of US dollars, got the boolean {value!r}"
        )
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # float.__repr__, not repr(): numpy's float64 reprs as "np.float64(0.1)".
        return Decimal(float.__repr__(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except decimal.InvalidOperation:
            raise ConfigurationError(
                f"`{param}` must be an amount of US dollars, got the string {value!r};"
                " write it like '0.04'"
            ) from None
    if hasattr(value, "__index__"):  # int subclasses, numpy integers, other exact integers
        return Decimal(operator.index(value))
    if isinstance(value, numbers.Rational):
        fraction = Fraction(int(value.numerator), int(value.denominator))
        try:
            return _EXACT.divide(Decimal(fraction.numerator), Decimal(fraction.denominator))
        except decimal.Inexact:
            raise ConfigurationError(
                f"`{param}` has no exact decimal value ({value!r}); give the amount as a"
                " Decimal or a str, rounded to the cent fractions you mean"
            ) from None
    if isinstance(value, numbers.Real):
        try:
            return Decimal(str(value).strip())  # numpy float32: its own shortest form
        except decimal.InvalidOperation:
            return Decimal(float.__repr__(float(value)))
    raise ArgumentTypeError(
        f"`{param}` must be an amount of US dollars (Decimal, int, float or str),"
        f" got {value!r} of type {type(value).__name__}"
    )


def read_usd(value: object) -> Decimal | None:
    """An amount read back from a recording or a document (a float there), or None.

    Lenient where :func:`parse_usd` is strict: a value that is not a number (a hand-edited
    file, a missing field) is None, for the reader to skip or print as ``-``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    if isinstance(value, float):
        return Decimal(float.__repr__(value))
    return Decimal(value)


def sum_usd(amounts: Iterable[Decimal]) -> Decimal:
    """The exact sum of ``amounts`` in :data:`CONTEXT` (``sum()`` would use the caller's)."""
    total = ZERO
    for amount in amounts:
        total = CONTEXT.add(total, amount)
    return total


def format_usd(amount: Decimal | float | int) -> str:
    """The one way agentrig prints money: ``$0.10``, ``$0.035``, ``$0.0000575``, ``$1.00``.

    At least cents, and every significant digit kept: a figure is never rounded away (a
    failing cost gate that printed "$0.00 spent" would say nothing). A float is read through
    its shortest ``repr``; NaN or an infinity (only a hand-edited file holds one) prints as is.
    """
    if not isinstance(amount, Decimal):
        amount = Decimal(float.__repr__(amount)) if isinstance(amount, float) else Decimal(amount)
    if not amount.is_finite():
        return f"${amount}"
    if amount == 0:
        return "$0.00"
    amount = amount.normalize(CONTEXT)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        amount = amount.quantize(_CENT, context=CONTEXT)
    return f"${amount:f}"
