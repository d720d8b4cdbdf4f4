"""External-account hooks the tests point PAYMENT_EXTERNAL_ACCOUNT_HOOK at."""

from decimal import Decimal

CALLS: list[dict] = []


def decline_all_accounts(*, customer, order, amount: Decimal, currency: str) -> bool:
    CALLS.append({"customer": customer.pk, "order": order.pk, "amount": amount, "currency": currency})
    return False


def approve_small_amounts(*, customer, order, amount: Decimal, currency: str) -> bool:
    return amount <= Decimal("100")


def unreachable_accounts(*, customer, order, amount: Decimal, currency: str) -> bool:
    raise ConnectionError("accounts system unreachable")
