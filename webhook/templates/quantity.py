"""Kubernetes resource quantities (``500m``, ``1.5Gi``, ``1e3``) parsed exactly as the API server does.

A port of apimachinery's ``ParseQuantity`` (resource/quantity.go, suffix.go), including its quirks:
``Quantity.UnmarshalJSON`` trims spaces, ``+`` and ``.`` parse as zero, ``1.G`` is allowed, a value is
rounded up to whole nano units and a binary-suffixed one is capped at 2^63-1. Values are Decimals,
exact at any exponent (``1e999999999`` is a valid quantity and must not be expanded into digits).
"""

from __future__ import annotations

import decimal
import math
import re
from dataclasses import dataclass
from decimal import Decimal

DECIMAL_SI = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
BINARY_SI = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_SUFFIX_LETTERS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")
_MAX_INT64 = Decimal(2**63 - 1)
_NANO = Decimal("1e-9")
_EXPONENT = re.compile(r"[+-]?[0-9]+")
SYNTAX = "a quantity such as 500m, 128Mi, 1.5 or 2e3"


class QuantityError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Quantity:
    value: Decimal
    format: str  # "DecimalSI", "BinarySI" or "DecimalExponent", as apimachinery names them


def parse_quantity(raw: object) -> Quantity:
    """A quantity from a template value (a string, or a JSON number); raises QuantityError."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise QuantityError(f"expected {SYNTAX}")
    text = raw.strip() if isinstance(raw, str) else repr(raw)
    if text == "":
        raise QuantityError(f"expected {SYNTAX}")
    if text == "0":
        return Quantity(Decimal(0), "DecimalSI")
    negative, number, suffix = _split(text)
    base, exponent, fmt = _interpret(suffix)
    with decimal.localcontext() as context:
        context.prec = max(40, len(number) + 30)
        context.Emax, context.Emin = decimal.MAX_EMAX, decimal.MIN_EMIN
        value = Decimal(number).scaleb(exponent) if base == 10 else Decimal(number) * (2**exponent)
        if value.as_tuple().exponent < -9:  # type: ignore[operator]  # an int for finite values
            value = value.quantize(_NANO, rounding=decimal.ROUND_UP)
        if fmt == "BinarySI" and value > _MAX_INT64:
            value = _MAX_INT64
        if fmt == "BinarySI" and 0 < value < 1:
            fmt = "DecimalSI"
    return Quantity(-value if negative else value, fmt)


def _split(text: str) -> tuple[bool, str, str]:
    """(negative, number, suffix): apimachinery's parseQuantityString."""
    end, pos = len(text), 0
    negative = text[0] == "-"
    if text[0] in "+-":
        pos = 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return negative, "0", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end and text[pos] == ".":
        pos += 1
        while pos < end and text[pos] in _DIGITS:
            pos += 1
    number = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_LETTERS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(f"expected {SYNTAX}")
    return negative, number if number not in ("", ".") else "0", text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, str]:
    if suffix in DECIMAL_SI:
        return 10, DECIMAL_SI[suffix], "DecimalSI"
    if suffix in BINARY_SI:
        return 2, BINARY_SI[suffix], "BinarySI"
    if len(suffix) > 1 and suffix[0] in "eE" and _EXPONENT.fullmatch(suffix[1:]):
        exponent = int(suffix[1:])
        if -(2**63) <= exponent < 2**63:  # strconv.ParseInt(…, 10, 64)
            # Go keeps int32(parsed): the exponent wraps around.
            return 10, (exponent + 2**31) % 2**32 - 2**31, "DecimalExponent"
    raise QuantityError(f"unknown suffix {suffix!r}; expected {SYNTAX}")


def is_whole(value: Decimal) -> bool:
    """Whether apimachinery's ``MilliValue() % 1000 == 0`` holds (milli units, rounded up).

    Values past int64 range are whole in any sense that matters, and turning ``1e999999999`` into
    an int would never finish.
    """
    if value.adjusted() >= 19:
        return True
    return math.ceil(value * 1000) % 1000 == 0


def whole_multiple(value: Decimal, unit: Decimal) -> bool:
    """Whether ``Value() % unit.Value() == 0`` (values rounded up to integers), for page sizes."""
    if value.adjusted() >= 19 or unit.adjusted() >= 19:
        return False
    return math.ceil(value) % math.ceil(unit) == 0
