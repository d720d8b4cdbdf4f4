"""Credits of returns to the spending limits: TRDREFAMT rows and the limited purchase order's refunds.

A return (RMA) gives back, to each trading agreement its items were charged to, the returned
share of the purchase at the rate of the original purchase row; a limited purchase order gets the
same. One row per (holder, return, order), so crediting a return twice writes nothing the second
time (the database refuses a duplicate). The orders app passes the return and its per-item credits
in the order's currency; nothing here imports it.
"""

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction

from commerce.money import ZERO, quantize_money
from spending_limits.models import PurchaseOrder
from spending_limits.services import AGREEMENTS, PURCHASE_ORDERS, Purchase, Refund, _bulk_create, _Ledger, _lock_holders
from spending_limits.services import _record as _record_event


def spending_limits_credit_return(
    *, order, return_request, credits: Iterable[tuple[object, Decimal]], reason: str
) -> list[Refund]:
    """Write the refund rows of one return: ``credits`` are (order item, credit in the order's currency).

    Runs in the caller's transaction, under the limit holders' row locks (agreements by pk, then
    purchase orders, as charging takes them). Rows already written for this return stay as they are.
    """
    credits = [(item, amount) for item, amount in credits if amount > 0]
    if not credits:
        return []
    with transaction.atomic():
        purchases = {
            ledger: list(
                ledger.purchase.objects.filter(order_id=order.pk)
                .select_related("currency", ledger.holder_field)
                .order_by("pk")
            )
            for ledger in (AGREEMENTS, PURCHASE_ORDERS)
        }
        purchases[PURCHASE_ORDERS] = [
            row for row in purchases[PURCHASE_ORDERS] if row.purchase_order.type == PurchaseOrder.Type.LIMITED
        ]
        if not any(purchases.values()):
            return []
        _lock_holders(purchases)
        rows = []
        for ledger, ledger_purchases in purchases.items():
            by_holder: dict[int, list[Purchase]] = defaultdict(list)
            for purchase in ledger_purchases:
                by_holder[ledger.holder_id(purchase)].append(purchase)
            for holder_purchases in by_holder.values():
                row = _return_row(ledger, order, return_request, holder_purchases, credits, reason=reason[:255])
                if row is not None:
                    rows.append(row)
        written = _bulk_create(rows)
        if written:
            _record_event(order, f"Spending limits credited for return {return_request.number}", written, reason=reason)
    return written


def _return_row(
    ledger: _Ledger, order, return_request, purchases: list[Purchase], credits: list, *, reason: str
) -> Refund | None:
    first = purchases[0]
    holder_id = ledger.holder_id(first)
    if ledger.refund.objects.filter(
        **{f"{ledger.holder_field}_id": holder_id}, order_id=order.pk, return_request=return_request
    ).exists():
        return None
    if ledger is AGREEMENTS:
        order_amount = sum((amount for item, amount in credits if item.trading_agreement_id == holder_id), ZERO)
    else:
        order_amount = sum((amount for _, amount in credits), ZERO)
    if order_amount <= 0:
        return None
    # What this holder's purchase rows of the order still hold, after earlier credits.
    refunded = ledger.refund.objects.filter(**{f"{ledger.holder_field}_id": holder_id}, order_id=order.pk)
    held = sum((row.amount for row in purchases), ZERO) - sum((row.amount for row in refunded), ZERO)
    held_order = sum((row.order_amount for row in purchases), ZERO) - sum((row.order_amount for row in refunded), ZERO)
    amount = min(quantize_money(order_amount * first.exchange_rate, first.currency), max(held, ZERO))
    order_amount = min(order_amount, max(held_order, ZERO))
    if amount <= 0 and order_amount <= 0:
        return None
    return ledger.refund(
        **{ledger.holder_field: ledger.holder(first)},
        purchase=first,
        order=order,
        order_item=None,
        return_request=return_request,
        amount=amount,
        currency_id=first.currency_id,
        order_amount=order_amount,
        order_currency_id=first.order_currency_id,
        exchange_rate=first.exchange_rate,
        reason=reason,
    )
