from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce.money import minor_units, quantize_money, to_decimal


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("10.005", "USD", "10.01"),
        ("10.004", "USD", "10.00"),
        ("-10.005", "USD", "-10.01"),
        ("1234.5", "JPY", "1235"),
        ("1234.49", "JPY", "1234"),
        ("1.0005", "BHD", "1.001"),
        ("0.125", "EUR", "0.13"),
    ],
)
def test_quantize_money_rounds_half_up_to_minor_unit(amount, currency, expected):
    result = quantize_money(Decimal(amount), currency)

    assert result == Decimal(expected)
    assert result.as_tuple().exponent == -minor_units(currency)


def test_float_is_refused():
    with pytest.raises(TypeError):
        to_decimal(0.1)


def test_garbage_is_refused():
    with pytest.raises(ValueError, match="not an amount"):
        to_decimal("ten")


@given(
    st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, allow_infinity=False, places=5),
    st.sampled_from(["USD", "JPY", "BHD", "EUR"]),
)
def test_quantize_is_within_half_a_minor_unit(amount, currency):
    rounded = quantize_money(amount, currency)
    unit = Decimal(1).scaleb(-minor_units(currency))

    assert abs(rounded - amount) <= unit / 2
    assert quantize_money(rounded, currency) == rounded
