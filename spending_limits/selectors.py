"""Reads of spending limits: remaining balances and what an organization may still buy."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from commerce.models import Organization
from commerce.money import ZERO, quantize_money
from spending_limits.models import (
    PurchaseOrder,
    PurchaseOrderPurchase,
    PurchaseOrderRefund,
    TradingAgreement,
)

KIND_TRADING_AGREEMENT = "trading_agreement"
KIND_PURCHASE_ORDER = "purchase_order"
# A trading agreement has one kind of limit: its right-to-buy-by-amount term.
AGREEMENT_TYPE = "right_to_buy"


@dataclass(frozen=True)
class SpendingLimit:
    """One agreement or purchase order of an organization, with what is left of it."""

    number: str
    kind: str
    type: str
    currency: str
    limit: Decimal | None
    remaining: Decimal | None
    state: str
    usable: bool


def remaining_balance(*, limit: Decimal | None, purchased: Decimal, refunded: Decimal, currency) -> Decimal | None:
    """Limit - purchases + refunds in the limit's currency; None when there is no limit."""
    if limit is None:
        return None
    return quantize_money(limit - purchased + refunded, currency)


def _ledger_sum(rows) -> Decimal:
    return rows.aggregate(total=Coalesce(Sum("amount"), ZERO))["total"]


def order_net_charge(*, order, holder: TradingAgreement | PurchaseOrder) -> Decimal:
    """What an order still holds of an agreement or purchase order: its purchases less its refunds."""
    return _ledger_sum(holder.purchases.filter(order=order)) - _ledger_sum(holder.refunds.filter(order=order))


def trading_agreement_remaining(*, agreement: TradingAgreement) -> Decimal | None:
    """What is left of an agreement's right-to-buy limit; None when unlimited."""
    if not agreement.is_limited:
        return None
    return remaining_balance(
        limit=agreement.limit_amount,
        purchased=_ledger_sum(agreement.purchases.all()),
        refunded=_ledger_sum(agreement.refunds.all()),
        currency=agreement.currency,
    )


def purchase_order_remaining(*, purchase_order: PurchaseOrder) -> Decimal | None:
    """What is left of a limited or single-use purchase order; None for a blanket one."""
    if not purchase_order.is_limited:
        return None
    return remaining_balance(
        limit=purchase_order.limit_amount,
        purchased=_ledger_sum(purchase_order.purchases.all()),
        refunded=_ledger_sum(purchase_order.refunds.all()),
        currency=purchase_order.currency,
    )


def holder_remaining(holder: TradingAgreement | PurchaseOrder) -> Decimal | None:
    """The remaining balance of an agreement or purchase order loaded with ``with_balances()``."""
    if not holder.is_limited:
        return None
    return remaining_balance(
        limit=holder.limit_amount, purchased=holder.purchased, refunded=holder.refunded, currency=holder.currency
    )


def _open_purchases():
    """Purchase-order charges not credited in full: the order still holds the purchase order."""
    # A return's credit gives back part of a charge; only a cancellation's refund closes it.
    closed = PurchaseOrderRefund.objects.filter(
        purchase=OuterRef("pk"), order_item__isnull=True, return_request__isnull=True
    )
    return PurchaseOrderPurchase.objects.filter(~Exists(closed))


def purchase_order_used_by_other_order(*, purchase_order: PurchaseOrder, order) -> bool:
    """Whether another order holds an open charge on this (single-use) purchase order."""
    return _open_purchases().filter(purchase_order=purchase_order).exclude(order=order).exists()


def organization_trading_agreements(*, organization: Organization):
    return (
        TradingAgreement.objects.for_organization(organization)
        .select_related("currency")
        .with_balances()
        .order_by("number")
    )


def organization_purchase_orders(*, organization: Organization):
    used = _open_purchases().filter(purchase_order=OuterRef("pk"))
    return (
        PurchaseOrder.objects.for_organization(organization)
        .select_related("currency")
        .with_balances()
        .annotate(used=Exists(used))
        .order_by("number")
    )


def organization_spending_limits(*, organization: Organization | None) -> list[SpendingLimit]:
    """The organization's agreements, then its purchase orders, each with its remaining balance."""
    if organization is None:
        return []
    now = timezone.now()
    limits = [
        SpendingLimit(
            number=agreement.number,
            kind=KIND_TRADING_AGREEMENT,
            type=AGREEMENT_TYPE,
            currency=agreement.currency_id,
            limit=_shown(agreement.limit_amount, agreement.currency) if agreement.is_limited else None,
            remaining=holder_remaining(agreement),
            state=agreement.state,
            usable=agreement.is_active() and agreement.is_in_window(now),
        )
        for agreement in organization_trading_agreements(organization=organization)
    ]
    limits += [
        SpendingLimit(
            number=purchase_order.number,
            kind=KIND_PURCHASE_ORDER,
            type=purchase_order.type,
            currency=purchase_order.currency_id,
            limit=_shown(purchase_order.limit_amount, purchase_order.currency) if purchase_order.is_limited else None,
            remaining=holder_remaining(purchase_order),
            state=purchase_order.state,
            usable=purchase_order.is_active()
            and not (purchase_order.type == PurchaseOrder.Type.SINGLE_USE and purchase_order.used),
        )
        for purchase_order in organization_purchase_orders(organization=organization)
    ]
    return limits


def _shown(amount: Decimal, currency) -> Decimal:
    return quantize_money(amount, currency)
