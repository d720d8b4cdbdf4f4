"""Check order-payment status at the gateway before reauthorizing (DESIGN section 16).

A backorder that is filled, or an order that comes back from a failed remote fulfillment, keeps
the authorization it has while that authorization still holds: the gateway is asked for its status
(one ``status`` transaction in the payment's log), and only an authorization the gateway reports
expired, voided or for another amount is replaced by a new one. Everything else (a pending, held,
declined or captured payment) is answered as ``payment_check_order_status`` answers it.
"""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from payments import services
from payments.gateways.base import GatewayResult, Outcome, ensure_no_transaction
from payments.models import Payment, PaymentStatus, TransactionKind
from payments.policies import PaymentDecision
from payments.services import common

STATUS_CHECK_NOTE = "Status check before reauthorizing."


def _still_holds(result: GatewayResult, wanted: Decimal, payment: Payment) -> bool:
    if result.outcome not in (Outcome.SUCCESS, Outcome.REVIEW):
        return False
    if result.expires_at is not None and result.expires_at <= timezone.now():
        return False
    approved = result.amount if result.amount is not None else payment.approved_amount
    return common._money(approved, payment.currency, field="amount") == wanted


def _note_lapsed(payment: Payment, error: str) -> None:
    """Record on the payment what the gateway says it no longer holds, so it is not voided again."""
    if "expired" in error.lower():
        payment.expires_at = min(payment.expires_at or timezone.now(), timezone.now())
        payment.expire()
        common._event(payment, f"Payment {payment.pk}: the gateway reports the authorization expired.")
    else:
        payment.void(reason=f"At the gateway: {error or 'no longer authorized'}")
        common._event(payment, f"Payment {payment.pk}: the gateway no longer holds the authorization.", reason=error)
    payment.save()


def payment_check_authorization(*, payment: Payment, amount: Decimal) -> PaymentDecision:
    """YES when the gateway confirms the current authorization still holds ``amount``; else reauthorize.

    Works on the order's current payment, which may be a later one than ``payment``.
    """
    ensure_no_transaction("payment_check_authorization")
    current = common._current_of(payment)
    wanted = common._money(amount, current.currency, field="amount")
    locally_valid = (
        current.status == PaymentStatus.AUTHORIZED
        and not current.pending_operation
        and not current.is_expired
        and current.approved_amount == wanted
    )
    if not locally_valid:
        return services.payment_check_order_status(payment=current, amount=wanted)
    result, latency_ms = common._send(current, TransactionKind.STATUS, current.authorize_key)
    with transaction.atomic(durable=True):
        locked = common._lock(current.pk)
        common._log(
            locked,
            kind=TransactionKind.STATUS,
            key=current.authorize_key,
            amount=wanted,
            result=result,
            latency_ms=latency_ms,
            note=STATUS_CHECK_NOTE,
        )
        if result.outcome == Outcome.DECLINED and locked.status == PaymentStatus.AUTHORIZED:
            _note_lapsed(locked, result.error)
    if result.outcome in (Outcome.TIMEOUT, Outcome.ERROR, Outcome.PENDING):
        return PaymentDecision.WORKING  # no answer yet: the next run asks again
    if _still_holds(result, wanted, current):
        return PaymentDecision.YES
    return services.payment_reauthorize(payment=current, amount=wanted)
