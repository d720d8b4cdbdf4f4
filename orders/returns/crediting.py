"""Crediting a return: the refund (or a smaller deposit), the spending-limit rows, then CLO.

Three steps, each safe to repeat: (1) under the order's and the return's locks, fix the credit of
each item (once: later runs reuse it) and its refund key; (2) outside any lock, refund the captured
payment with that key, which the gateway carries out once however often it is sent; (3) under the
locks again, with the payment row and the limit holders locked, reduce the deposit of an order not
yet deposited, write the ledger rows and close the return. A gateway timeout in (2) leaves the
return approved; the next run sends the same key and finishes. Two runs at once credit once: the
second finds the refund applied and the return closed.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from commerce.errors import InvalidTransition
from commerce.jobs import JobOutcome
from commerce.money import ZERO, quantize_money
from orders.models import OrderStatus
from orders.returns import rules
from orders.returns.events import return_event_record, return_notify
from orders.returns.models import ReturnItem, ReturnRequest, ReturnStatus
from orders.returns.services import _items, _locked, _transition
from payments import services as payments
from payments.models import Payment
from payments.refunds import DEPOSITABLE_STATUSES, REFUNDABLE_STATUSES
from spending_limits import services as limits

logger = logging.getLogger(__name__)

R = ReturnStatus
REFUND = "refund"
REDUCE_DEPOSIT = "reduce_deposit"
NO_PAYMENT = "none"


@dataclass(frozen=True)
class _Plan:
    return_id: int
    key: str
    credit_total: Decimal
    route: str
    payment_id: int | None


def return_request_credit(
    *, return_request: ReturnRequest, acting_user=None, actor_name: str = "", partial: bool = True
) -> ReturnRequest:
    """Credit what came back of an approved return and close it; a closed return is left as it is.

    ``partial`` (staff: "credit now what is received"): credit the goods received so far and the
    items needing no receipt. Without it (the job) a return still waiting for goods is refused.
    """
    plan = _plan(return_request, acting_user=acting_user, actor_name=actor_name, partial=partial)
    if plan is None:
        return ReturnRequest.objects.get(pk=return_request.pk)
    refunded = ZERO
    if plan.route == REFUND:
        payment = Payment.objects.get(pk=plan.payment_id)
        refunded = payments.payment_refund_partial(
            payment=payment,
            amount=plan.credit_total,
            idempotency_key=plan.key,
            reason=f"Return {return_request.number}",
        )
    _close(plan, refunded=refunded, acting_user=acting_user, actor_name=actor_name)
    return ReturnRequest.objects.get(pk=return_request.pk)


def _plan(return_request: ReturnRequest, *, acting_user, actor_name: str, partial: bool) -> _Plan | None:
    with transaction.atomic():
        rma = _locked(return_request)
        if rma.status == R.CLOSED:
            return None
        if rma.status != R.APPROVED:
            raise InvalidTransition(
                f"Return {rma.number} is {rma.get_status_display().lower()}; only an approved return is credited.",
                details={"return": rma.number, "status": rma.status},
            )
        items = [item for item in _items(rma) if item.is_approved]
        waiting = [item.order_item.sku for item in items if item.quantity_to_credit < item.quantity]
        if waiting and not partial:
            raise InvalidTransition(
                f"Return {rma.number} waits for {', '.join(waiting)} to come back.",
                details={"return": rma.number, "waiting_for": waiting},
            )
        if not rma.credit_key:
            _fix_credits(rma, items, acting_user=acting_user, actor_name=actor_name)
        payment = Payment.objects.filter(order_id=rma.order_id, is_current=True).first()
        route = NO_PAYMENT
        if payment is not None and payment.status in REFUNDABLE_STATUSES:
            route = REFUND
        elif payment is not None and payment.status in DEPOSITABLE_STATUSES and rma.order.status == OrderStatus.SHIPPED:
            route = REDUCE_DEPOSIT
        return _Plan(rma.pk, rma.credit_key, rma.credit_total, route, payment.pk if payment else None)


def _fix_credits(rma: ReturnRequest, items: list[ReturnItem], *, acting_user, actor_name: str) -> None:
    """Compute each item's credit once; later runs of the same credit reuse it."""
    credited = rules.credited_quantities(order=rma.order, exclude_return_id=rma.pk)
    total = ZERO
    for item in items:
        item.credit_amount = rules.item_credit(
            order_item=item.order_item,
            quantity=item.quantity_to_credit,
            already=credited.get(item.order_item_id, 0),
            refund_shipping=rma.order.store.refund_shipping,
        )
        total += item.credit_amount
    if not any(item.quantity_to_credit for item in items):
        raise InvalidTransition(
            f"Nothing of return {rma.number} came back yet; there is nothing to credit.",
            details={"return": rma.number},
        )
    ReturnItem.objects.bulk_update(items, ["credit_amount"])
    rma.credit_total = total
    rma.credit_key = f"return-{rma.number}"
    rma.save(update_fields=["credit_total", "credit_key", "updated_at"])
    return_event_record(
        return_request=rma,
        message=f"Credit of {total} {rma.order.currency_id} computed",
        acting_user=acting_user,
        actor_name=actor_name,
        extra={"items": {item.order_item.sku: str(item.credit_amount) for item in items}},
    )


def _close(plan: _Plan, *, refunded: Decimal, acting_user, actor_name: str) -> None:
    with transaction.atomic():
        rma = _locked(ReturnRequest.objects.get(pk=plan.return_id))
        if rma.status != R.APPROVED:
            return  # another run closed it meanwhile
        if plan.payment_id is not None:
            payment = Payment.objects.select_for_update(of=("self",), no_key=True).get(pk=plan.payment_id)
            if plan.route == REFUND:
                refunded = payments.payment_refunded_for_key(payment=payment, idempotency_key=plan.key) or refunded
            elif plan.route == REDUCE_DEPOSIT:
                rma.deposit_reduction = payments.payment_reduce_deposit(
                    payment=payment, amount=plan.credit_total, reason=f"Return {rma.number}"
                )
        rma.refunded_amount = min(refunded, rma.credit_total)
        items = [item for item in _items(rma) if item.is_approved]
        limits.spending_limits_credit_return(
            order=rma.order,
            return_request=rma,
            credits=[(item.order_item, item.credit_amount) for item in items],
            reason=f"Return {rma.number}",
        )
        rma.save(update_fields=["refunded_amount", "deposit_reduction", "updated_at"])
        currency = rma.order.currency

        def shown(amount: Decimal) -> str:
            return f"{quantize_money(amount, currency)} {currency.code}"

        _transition(
            rma,
            "close",
            acting_user=acting_user,
            actor_name=actor_name,
            message="Credited and closed",
            reason=f"Credit {shown(rma.credit_total)}: refunded {shown(rma.refunded_amount)}, "
            f"deposit reduced by {shown(rma.deposit_reduction)}",
        )
        return_notify("return_credited", rma)


# The job's step: one order, every return of it ready to credit.


def return_credit_order(*, order_id: int, actor_name: str = "return_credit_and_close"):
    """Credit and close the order's approved returns whose goods all came back."""
    closed = 0
    for rma in ReturnRequest.objects.ready_to_credit().filter(order_id=order_id).order_by("pk"):
        before = rma.status
        after = return_request_credit(return_request=rma, actor_name=actor_name, partial=False).status
        closed += before != after
    return JobOutcome.SUCCEEDED if closed else JobOutcome.SKIPPED
