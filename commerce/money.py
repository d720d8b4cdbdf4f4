"""Money: Decimal amounts with a currency, rounded in one place."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor units of the currencies that differ from two decimals, plus the common ones.
ISO_MINOR_UNITS = {
    "BHD": 3,
    "CLP": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "PYG": 0,
    "TND": 3,
    "UGX": 0,
    "VND": 0,
    "XAF": 0,
    "XOF": 0,
}
DEFAULT_MINOR_UNITS = 2
ZERO = Decimal("0")


def minor_units(currency) -> int:
    """Return the number of decimals of a currency (a Currency row or an ISO code)."""
    units = getattr(currency, "minor_units", None)
    if units is not None:
        return units
    code = getattr(currency, "code", currency)
    return ISO_MINOR_UNITS.get(str(code).upper(), DEFAULT_MINOR_UNITS)


def to_decimal(value) -> Decimal:
    """Turn a string, int or Decimal into a Decimal; floats are refused."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise TypeError("Money is never a float; pass a string or a Decimal.")
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not an amount.") from exc


def quantize_money(amount, currency) -> Decimal:
    """Round an amount half-up to the minor unit of its currency."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return to_decimal(amount).quantize(exponent, rounding=ROUND_HALF_UP)
