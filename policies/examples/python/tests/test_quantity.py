"""Quantities: the cases of host/src/k8s/quantity.rs and policies/sdk/src/quantity.rs."""

from fractions import Fraction

import pytest

from tke_recycle_sdk import QuantityError, format_bytes, format_cpu, parse_millis, parse_quantity, parse_units
from tke_recycle_sdk.model import ExtendedResource, Resources
from tke_recycle_sdk.quantity import U64_MAX, add_resources, extended


@pytest.mark.parametrize(
    "text, units",
    [
        ("0", 0),
        ("61", 61),
        ("2607596Ki", 2_607_596 * 1024),
        ("1.5Gi", 1_610_612_736),
        ("100M", 100_000_000),
        ("128Mi", 134_217_728),
        ("1k", 1000),
        ("1e3", 1000),
        ("1.5E3", 1500),
        ("1E", 1_000_000_000_000_000_000),
        ("1Ei", 1 << 60),
        ("+5", 5),
        (" 7 ", 7),
        ("0.1", 1),  # rounded up, as Quantity.Value() does
        ("100m", 1),
        ("12e-1", 2),
        ("16Ei", U64_MAX),  # saturates
    ],
)
def test_whole_units_match_kubernetes_value(text, units):
    assert parse_units(text) == units


@pytest.mark.parametrize(
    "text, millis",
    [
        ("1900m", 1900),
        ("2", 2000),
        ("0.5", 500),
        ("1.25", 1250),
        ("250m", 250),
        ("0.5m", 1),
        ("100u", 1),
        ("1500000n", 2),
        ("1k", 1_000_000),
        ("1e-3", 1),
    ],
)
def test_millis_match_kubernetes_milli_value(text, millis):
    assert parse_millis(text) == millis


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "no number"),
        ("m", "no number"),
        ("abc", "no number"),
        (".", "no number"),
        ("1.2.3", "more than one decimal point"),
        ("1Q", "unknown suffix"),
        ("1e", "unknown suffix"),
        ("1KiB", "unknown suffix"),
        ("1e99", "exponent out of range"),
        ("-1", "negative quantities are not allowed here"),
    ],
)
def test_rejects_what_the_api_server_rejects(text, reason):
    with pytest.raises(QuantityError) as err:
        parse_units(text)
    assert err.value.reason == reason
    assert str(err.value) == f"invalid quantity {text!r}: {reason}"


def test_exact_value():
    assert parse_quantity("1900m") == Fraction(19, 10)


@pytest.mark.parametrize("millis, text", [(1900, "1900m"), (2000, "2"), (0, "0")])
def test_format_cpu(millis, text):
    assert format_cpu(millis) == text


@pytest.mark.parametrize(
    "num, text", [(512 << 20, "512Mi"), (2_684_354_560, "2.5Gi"), (12, "12"), (1 << 40, "1Ti"), (1536, "1.5Ki")]
)
def test_format_bytes(num, text):
    assert format_bytes(num) == text


def test_adds_extended_by_name():
    a = Resources(cpu_millis=1, memory_bytes=1, pods=1)
    b = Resources(cpu_millis=1, memory_bytes=1, pods=1, extended=[ExtendedResource("nvidia.com/gpu", 2)])
    add_resources(a, b)
    add_resources(a, b)
    assert a.cpu_millis == 3
    assert extended(a, "nvidia.com/gpu") == 4
    assert extended(a, "example.com/fpga") == 0
