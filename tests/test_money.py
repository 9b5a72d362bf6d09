"""Money: every amount is read by one parser and printed by one formatter, the same everywhere."""

from __future__ import annotations

import decimal
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agentrig import BudgetExceeded, BudgetPool, ConfigurationError, FakeModel, Price, Recording
from agentrig.cli import main
from agentrig.money import format_usd, parse_usd
from agentrig.normalize import dumps, normalize

D = Decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, D(0)),
        (3, D(3)),
        (0.1, D("0.1")),
        (0.1 + 0.2, D("0.30000000000000004")),  # the float the user computed, exactly
        (D("0.0000575"), D("0.0000575")),
        (Fraction(1, 8), D("0.125")),
        (np.float64(0.1), D("0.1")),
        (np.float32(0.1), D("0.1")),  # its own shortest form, not 0.10000000149011612
        (np.int64(7), D(7)),
        ("0.04", D("0.04")),
        ("  0.04\n", D("0.04")),
        (D("-0"), D(0)),
        (D("0E-7"), D(0)),
        (D("5.75E-8"), D("5.75E-8")),
        ("0." + "0" * 59 + "1", D("1E-60")),  # 60 places: the most kept
        ("0.1" + "0" * 80, D("0.1" + "0" * 80)),  # trailing zeros are not places
    ],
)
def test_every_real_number_type_a_user_passes_is_read_exactly(value: Any, expected: D) -> None:
    amount = parse_usd(value, "usd")
    assert amount == expected
    assert str(amount) == str(expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, r"`max_usd` must be an amount of US dollars, got the boolean True"),
        (np.bool_(True), r"`max_usd` must be an amount of US dollars \(Decimal, int, float or str"),
        (float("nan"), r"`max_usd` must be a finite amount of US dollars, got nan"),
        (np.float64("inf"), r"`max_usd` must be a finite amount of US dollars"),
        (-0.01, r"`max_usd` must be non-negative, got -0.01"),
        (np.float32(-1), r"`max_usd` must be non-negative"),
        ("lots", r"`max_usd` must be an amount of US dollars, got the string 'lots'; write it"),
        (Fraction(1, 3), r"`max_usd` has no exact decimal value \(Fraction\(1, 3\)\)"),
        (None, r"`max_usd` must be an amount of US dollars \(Decimal, int, float or str\)"),
        (1j, r"got 1j of type complex"),
        ("0." + "0" * 60 + "1", r"`max_usd` has more than 60 decimal places"),
        (D("1E-61"), r"`max_usd` has more than 60 decimal places"),
    ],
)
def test_what_is_not_an_amount_is_refused_naming_the_argument(value: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_usd(value, "max_usd")


def test_the_callers_decimal_context_never_rounds_money() -> None:
    with decimal.localcontext(decimal.Context(prec=2)):
        pool = BudgetPool(usd="1000.0001")
        with pool.acquire_nowait(max_usd="999.0001") as stage:
            stage.charge("0.0001")
            stage.charge("998.0001")
        assert pool.spent_usd == D("998.0002")
        assert parse_usd("123.456789", "usd") == D("123.456789")


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (D(0), "$0.00"),
        (D("0.1"), "$0.10"),
        (D("0.035"), "$0.035"),
        (D("0.0000575"), "$0.0000575"),
        (D("1"), "$1.00"),
        (D("12.5000"), "$12.50"),
        (D("1E+3"), "$1000.00"),
        (0.0000575, "$0.0000575"),
        (3, "$3.00"),
    ],
)
def test_money_prints_at_least_cents_and_every_significant_digit(amount: Any, text: str) -> None:
    assert format_usd(amount) == text


def test_numpy_amounts_work_for_prices_pools_and_charges() -> None:
    fake = FakeModel(prices={"m": (np.float64(0.5), np.float32(1.5))})
    assert fake.price("m") == Price(D("0.5"), D("1.5"))
    pool = BudgetPool(usd=np.float64(0.1))
    with pool.acquire_nowait(max_usd=np.float32(0.05)) as stage:
        stage.charge(np.float64(0.01), tokens=np.int64(3))
    assert (pool.cap_usd, pool.spent_usd) == (D("0.1"), D("0.01"))


def test_a_budget_error_and_agentrig_show_print_the_same_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = Recording("test_tiny")
    with rec.activate():
        pool = BudgetPool(usd="0.0000575", name="tiny")
        with pool.acquire_nowait(name="stage") as stage, pytest.raises(BudgetExceeded) as refused:
            stage.charge("0.0001")
    assert "cap of $0.0000575" in str(refused.value)
    path = tmp_path / "test_tiny.json"
    path.write_bytes(dumps(normalize(rec)))

    assert main(["show", str(path), "--width", "200"]) == 0
    out = capsys.readouterr().out
    assert "granted $0.0000575" in out
    assert "$0.0001," in out  # the charge, exact: not $0.000100
    budget = out.split("Budget by stage")[1].splitlines()
    assert any(row.split()[:4] == ["tiny", "stage", "$0.0000575", "$0.0001"] for row in budget)
    header = next(row for row in budget if row.split()[:2] == ["pool", "stage"])
    row = next(row for row in budget if row.split()[:2] == ["tiny", "stage"])
    # Every money figure ends under its header and stands apart from its neighbour.
    for name, figure in (("granted", "$0.0000575"), ("spent", "$0.0001"), ("returned", "$0.00")):
        end = header.index(name) + len(name)
        assert row[end - len(figure) : end] == figure, (name, header, row)
        assert row[end - len(figure) - 2 : end - len(figure)] == "  ", (name, row)
