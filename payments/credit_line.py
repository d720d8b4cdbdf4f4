"""The built-in external-account check: an organization's credit line (DESIGN section 16).

``bill_me`` and ``purchase_order`` payments (``settings.PAYMENT_EXTERNAL_ACCOUNT_METHODS``) ask the
hook named by ``settings.PAYMENT_EXTERNAL_ACCOUNT_HOOK`` whether the buyer's account may be charged.
The default hook, ``credit_line_check``, answers from the buyer organization:

- on hold → NO (declined);
- no credit line (a consumer, or an organization without ``credit_limit``) → YES;
- open balance + this amount within ``credit_limit`` → YES, above it → REVIEW (a person decides).

The open balance is what the organization's bill-me and purchase-order payments hold and no deposit
has settled yet (authorized or in review), other than this order's, converted to the line's currency.
A hook may answer a ``PaymentDecision`` (or its value) or, as before, True / False.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum

from commerce.currency import convert
from commerce.errors import NoExchangeRate
from commerce.money import ZERO, quantize_money
from payments.models import Payment, PaymentStatus
from payments.policies import PaymentDecision

D = PaymentDecision
OPEN_STATUSES = (PaymentStatus.AUTHORIZED, PaymentStatus.REVIEW, PaymentStatus.PENDING)


@dataclass(frozen=True)
class CreditLine:
    limit: Decimal | None
    currency: str
    used: Decimal
    on_hold: bool

    @property
    def left(self) -> Decimal | None:
        return None if self.limit is None else self.limit - self.used


def external_account_methods() -> tuple[str, ...]:
    return tuple(getattr(settings, "PAYMENT_EXTERNAL_ACCOUNT_METHODS", ("bill_me", "purchase_order")))


def _open_balance(organization, currency: str, *, exclude_order_id: int | None = None) -> Decimal:
    rows = (
        Payment.objects.filter(
            order__organization=organization,
            is_current=True,
            method__in=external_account_methods(),
            status__in=OPEN_STATUSES,
        )
        .exclude(order_id=exclude_order_id)
        .values("currency_id")
        .annotate(total=Sum("amount"))
        .values_list("currency_id", "total")
    )
    total = ZERO
    for row_currency, amount in rows:
        if row_currency != currency:
            amount = convert(amount, from_currency=row_currency, to_currency=currency).amount
        total += amount
    return quantize_money(total, currency)


def organization_credit_line(*, organization, exclude_order_id: int | None = None) -> CreditLine:
    """The organization's credit line, what its open bill-me and purchase-order payments use, and its hold."""
    currency = organization.credit_currency_id or ""
    used = _open_balance(organization, currency, exclude_order_id=exclude_order_id) if currency else ZERO
    return CreditLine(limit=organization.credit_limit, currency=currency, used=used, on_hold=organization.credit_hold)


def credit_line_check(*, customer, order, amount: Decimal, currency: str) -> PaymentDecision:
    """YES within the organization's credit line, REVIEW above it, NO while its account is on hold."""
    organization = order.organization if order.organization_id else customer.organization
    if organization is None:
        return D.YES
    if organization.credit_hold:
        return D.NO
    if organization.credit_limit is None:
        return D.YES
    line = organization_credit_line(organization=organization, exclude_order_id=order.pk)
    try:
        charge = convert(amount, from_currency=currency, to_currency=line.currency).amount
    except NoExchangeRate:
        return D.REVIEW
    return D.YES if line.used + charge <= line.limit else D.REVIEW


def decision_of(answer) -> PaymentDecision:
    """Read a hook's answer: a decision (or its value), or True / False as hooks answered before."""
    if isinstance(answer, bool):
        return D.YES if answer else D.NO
    return PaymentDecision(str(answer).lower())
