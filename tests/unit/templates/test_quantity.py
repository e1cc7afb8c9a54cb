"""Quantities parse as apimachinery's ParseQuantity parses them: the same accepted set, the same values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from webhook.templates.quantity import QuantityError, is_whole, parse_quantity, whole_multiple


@pytest.mark.parametrize(
    ("text", "value", "fmt"),
    [
        (".", "0", "DecimalSI"),
        ("Gi", "0", "BinarySI"),  # no digits at all: zero, as in Go
        ("500m", "0.5", "DecimalSI"),
        ("1.5", "1.5", "DecimalSI"),
        ("128Mi", str(128 * 2**20), "BinarySI"),
        ("1Ki", "1024", "BinarySI"),
        ("2e3", "2000", "DecimalExponent"),
        ("1E3", "1000", "DecimalExponent"),
        ("1e-3", "0.001", "DecimalExponent"),
        ("1E", "1e18", "DecimalSI"),  # exa, not an exponent
        ("5n", "5e-9", "DecimalSI"),
        ("0.1n", "1e-9", "DecimalSI"),  # rounded up to whole nano units
        ("1.G", "1e9", "DecimalSI"),  # apimachinery allows an empty fraction
        (".5", "0.5", "DecimalSI"),
        (".", "0", "DecimalSI"),
        (
            "Gi",
            "0",
            "BinarySI",
        ),  # no digits at all: zero, as in Go  # quirks kept: a lone sign or dot is zero
        (".", "0", "DecimalSI"),
        ("Gi", "0", "BinarySI"),  # no digits at all: zero, as in Go
        ("-1", "-1", "DecimalSI"),
        (" 100Mi ", str(100 * 2**20), "BinarySI"),  # UnmarshalJSON trims spaces
        ("20Ei", str(2**63 - 1), "BinarySI"),  # capped
        ("1e999999999", "1e999999999", "DecimalExponent"),  # exact, never expanded into digits
    ],
)
def test_accepted_quantities_and_their_values(text: str, value: str, fmt: str) -> None:
    quantity = parse_quantity(text)
    assert quantity.value == Decimal(value)
    assert quantity.format == fmt


@pytest.mark.parametrize(
    "text", ["", "lots", "1e", "1ki", "1Kib", "1.5.5", "0x10", "1_000", "1 Gi", "--1", "1e+-3"]
)
def test_refused_quantities(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_json_numbers_are_quantities_and_other_types_are_not() -> None:
    assert parse_quantity(5).value == 5
    assert parse_quantity(0.25).value == Decimal("0.25")
    assert parse_quantity(1e20).value == Decimal("1e20")
    for raw in (True, None, [1], {"a": 1}):
        with pytest.raises(QuantityError):
            parse_quantity(raw)


def test_wholeness_and_multiples_never_expand_huge_values() -> None:
    assert is_whole(Decimal(3)) and not is_whole(Decimal("1.0001"))
    assert not is_whole(Decimal("1.0000001"))  # milli units, rounded up: 1001m
    assert is_whole(Decimal("1e999999999"))
    assert whole_multiple(Decimal(4 * 2**20), Decimal(2 * 2**20))
    assert not whole_multiple(Decimal(3 * 2**20), Decimal(2 * 2**20))
    assert not whole_multiple(Decimal("1e999999999"), Decimal(2**21))
