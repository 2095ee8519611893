"""Kubernetes quantities and resource arithmetic.

`parse_quantity`, `parse_millis` and `parse_units` mirror the host's parser
(host/src/k8s/quantity.rs: the apimachinery grammar, rounded up like `MilliValue`/`Value`,
saturating at u64::MAX); `format_cpu`, `format_bytes`, `add_resources` and `extended` mirror
policies/sdk/src/quantity.rs.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .model import ExtendedResource, Resources

U64_MAX = 2**64 - 1
_DIGITS = "0123456789"
_DECIMAL = {"": 0, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_WHITESPACE = " \t\n\r\x0b\x0c"


class QuantityError(ValueError):
    def __init__(self, text: str, reason: str):
        super().__init__(f"invalid quantity {text!r}: {reason}")
        self.text = text
        self.reason = reason


def parse_quantity(text: str) -> Fraction:
    """The exact value of a quantity: `"1900m"` -> 19/10, `"2607596Ki"` -> 2670178304.

    Suffixes: n u m (none) k M G T P E, Ki Mi Gi Ti Pi Ei, or a decimal exponent `e3`/`E-3`
    (-40..40). Negative quantities are refused."""
    s = text.strip(_WHITESPACE)
    if s.startswith("+"):
        s = s[1:]
    if s.startswith("-"):
        raise QuantityError(text, "negative quantities are not allowed here")
    end = 0
    while end < len(s) and (s[end] in _DIGITS or s[end] == "."):
        end += 1
    number, suffix = s[:end], s[end:]
    if number in ("", "."):
        raise QuantityError(text, "no number")
    int_part, _, frac_part = number.partition(".")
    if "." in frac_part:
        raise QuantityError(text, "more than one decimal point")
    digits = int_part + frac_part
    if len(digits) > 38:  # a u128 mantissa in the host
        raise QuantityError(text, "too many digits")
    mantissa = int(digits)
    exp10 = -len(frac_part)
    exp2 = 0
    if suffix in _DECIMAL:
        exp10 += _DECIMAL[suffix]
    elif suffix in _BINARY:
        exp2 = _BINARY[suffix]
    else:
        exp = suffix[1:] if suffix[:1] in ("e", "E") else ""
        body = exp[1:] if exp[:1] in ("+", "-") else exp
        if not body or not all(c in _DIGITS for c in body) or not -(2**31) <= int(exp) < 2**31:
            raise QuantityError(text, "unknown suffix")
        if not -40 <= int(exp) <= 40:
            raise QuantityError(text, "exponent out of range")
        exp10 += int(exp)
    return Fraction(mantissa * 2**exp2) * Fraction(10) ** exp10


def _ceil_u64(value: Fraction) -> int:
    whole = -((-value.numerator) // value.denominator)
    return min(whole, U64_MAX)


def parse_millis(text: str) -> int:
    """Thousandths of the unit, rounded up: CPU in millicores (`"1900m"` -> 1900, `"2"` -> 2000)."""
    return _ceil_u64(parse_quantity(text) * 1000)


def parse_units(text: str) -> int:
    """Whole units, rounded up: bytes, pods, extended resources (`"1.5Gi"` -> 1610612736)."""
    return _ceil_u64(parse_quantity(text))


def format_cpu(millis: int) -> str:
    """`1900` -> `"1900m"`, `2000` -> `"2"`."""
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_bytes(num: int) -> str:
    """`536870912` -> `"512Mi"`, `2684354560` -> `"2.5Gi"`, `12` -> `"12"`."""
    for unit, size in (("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if num >= size:
            if num % size == 0:
                return f"{num // size}{unit}"
            return f"{num / size:.1f}{unit}"
    return str(num)


def add_resources(a: Resources, b: Resources) -> None:
    """`a += b`, saturating at u64::MAX; extended resources are added by name."""
    a.cpu_millis = min(a.cpu_millis + b.cpu_millis, U64_MAX)
    a.memory_bytes = min(a.memory_bytes + b.memory_bytes, U64_MAX)
    a.pods = min(a.pods + b.pods, U64_MAX)
    a.ephemeral_storage_bytes = min(a.ephemeral_storage_bytes + b.ephemeral_storage_bytes, U64_MAX)
    for ext in b.extended:
        for mine in a.extended:
            if mine.name == ext.name:
                mine.amount = min(mine.amount + ext.amount, U64_MAX)
                break
        else:
            a.extended.append(ExtendedResource(name=ext.name, amount=ext.amount))


def extended(resources: Any, name: str) -> int:
    """The amount of one extended resource, 0 when absent."""
    return next((e.amount for e in resources.extended if e.name == name), 0)
