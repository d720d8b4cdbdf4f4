"""Currency conversion through the ExchangeRate table."""

from dataclasses import dataclass
from decimal import Decimal

from commerce.errors import NoExchangeRate
from commerce.models import ExchangeRate
from commerce.money import quantize_money, to_decimal

ONE = Decimal("1")


@dataclass(frozen=True)
class Conversion:
    amount: Decimal
    rate: Decimal
    from_currency: str
    to_currency: str


def exchange_rate(*, from_currency: str, to_currency: str) -> Decimal:
    """The rate from one currency to another: the direct rate, else the inverse of the reverse one."""
    from_code, to_code = str(from_currency), str(to_currency)
    if from_code == to_code:
        return ONE
    rates = dict(
        ExchangeRate.objects.filter(
            from_currency__in=[from_code, to_code], to_currency__in=[from_code, to_code]
        ).values_list("from_currency_id", "rate")
    )
    if from_code in rates:
        return rates[from_code]
    if to_code in rates:
        return ONE / rates[to_code]
    raise NoExchangeRate(
        f"No exchange rate from {from_code} to {to_code}.",
        details={"from_currency": from_code, "to_currency": to_code},
    )


def convert(amount, *, from_currency, to_currency) -> Conversion:
    """Convert an amount, rounded half-up to the target currency's minor unit."""
    rate = exchange_rate(from_currency=from_currency, to_currency=to_currency)
    converted = quantize_money(to_decimal(amount) * rate, to_currency)
    return Conversion(amount=converted, rate=rate, from_currency=str(from_currency), to_currency=str(to_currency))
