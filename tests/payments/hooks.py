"""External-account hooks and a payment method the tests plug in through the settings."""

from decimal import Decimal

from payments.methods import PaymentMethod

CALLS: list[dict] = []


def decline_all_accounts(*, customer, order, amount: Decimal, currency: str) -> bool:
    CALLS.append({"customer": customer.pk, "order": order.pk, "amount": amount, "currency": currency})
    return False


def approve_small_amounts(*, customer, order, amount: Decimal, currency: str) -> bool:
    return amount <= Decimal("100")


def unreachable_accounts(*, customer, order, amount: Decimal, currency: str) -> bool:
    raise ConnectionError("accounts system unreachable")


class GiftCardMethod(PaymentMethod):
    """A store's own method, plugged in through settings: offline, but always reviewed."""

    label = "Gift card"
    needs_approval = True
