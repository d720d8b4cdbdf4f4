"""Money given back for returns: a partial refund of what was captured, or a smaller deposit.

Both are keyed by the caller (a return's number), so crediting the same return twice moves money
once. A refund follows the gateway shape of ``payments.services``: lock and mark, commit, call,
record. A deposit reduction is a write only: the caller makes it in its own transaction, beside the
rest of its credit, so it is applied exactly when the credit is.
"""

from decimal import Decimal

from django.db import transaction
from django_fsm import can_proceed

from commerce.errors import InvalidTransition
from commerce.money import ZERO
from payments.errors import PaymentError
from payments.gateways.base import ensure_no_transaction
from payments.models import Operation, Payment, PaymentStatus, PaymentTransaction, TransactionKind
from payments.services.common import _event, _fmt, _lock, _money, _raise_unless_done
from payments.services.gateway_calls import _operation_call

S = PaymentStatus
# Payments whose money was captured: a credit refunds it.
REFUNDABLE_STATUSES = (S.DEPOSITED, S.PARTIALLY_REFUNDED, S.REFUNDED)
# Payments still only authorized: a credit lowers what the deposit will capture.
DEPOSITABLE_STATUSES = (S.AUTHORIZED, S.REVIEW)


def payment_refunded_for_key(*, payment: Payment, idempotency_key: str) -> Decimal | None:
    """What a refund sent with ``idempotency_key`` gave back, or None when none was applied."""
    row = (
        PaymentTransaction.objects.filter(
            payment_id=payment.pk, kind=TransactionKind.REFUND, idempotency_key=idempotency_key, applied=True
        )
        .values_list("amount", flat=True)
        .first()
    )
    return row


def payment_refund_partial(*, payment: Payment, amount: Decimal, idempotency_key: str, reason: str = "") -> Decimal:
    """Refund up to ``amount`` of the captured money, once per ``idempotency_key``; return what it refunded.

    Never more than captured - refunded: a larger ``amount`` refunds what is left. A refund with this
    key already applied returns its amount and sends nothing; one in flight (a timeout) is sent again
    with the same key, so the gateway answers it once. Raises ``PaymentGatewayError`` while the gateway
    does not answer and ``PaymentError`` when it refuses.
    """
    ensure_no_transaction("payment_refund_partial")
    with transaction.atomic(durable=True):
        locked = _lock(payment.pk)
        done = payment_refunded_for_key(payment=locked, idempotency_key=idempotency_key)
        if done is not None:
            return done
        if locked.pending_operation:
            if locked.pending_operation != Operation.REFUND or locked.pending_key != idempotency_key:
                raise PaymentError(
                    f"A {locked.pending_operation} is in flight for payment {locked.pk}; sync the payment first.",
                    details={"pending_operation": locked.pending_operation},
                )
        else:
            wanted = min(_money(amount, locked.currency, field="amount"), locked.refundable_amount)
            if wanted <= 0:
                return ZERO
            if not can_proceed(locked.refund):
                raise InvalidTransition(
                    f"A {locked.get_status_display().lower()} payment has nothing to refund.",
                    details={"status": locked.status},
                )
            locked.start_operation(Operation.REFUND, idempotency_key=idempotency_key, amount=wanted)
            locked.save()
    sent = locked.pending_amount
    _raise_unless_done(_operation_call(locked, reason=reason), "refund")
    return sent


def payment_reduce_deposit(*, payment: Payment, amount: Decimal, reason: str = "") -> Decimal:
    """Lower what the deposit of an authorized payment captures by ``amount``; return the reduction made.

    Runs in the caller's transaction (it locks the payment row). Never below nothing left to capture.
    Refused once a capture is in flight or done: the caller refunds instead.
    """
    with transaction.atomic():
        locked = _lock(payment.pk)
        if locked.status not in DEPOSITABLE_STATUSES or locked.pending_operation == Operation.CAPTURE:
            raise PaymentError(
                f"Payment {locked.pk} is {locked.get_status_display().lower()}; its deposit can no longer be "
                "reduced. Credit again to refund instead.",
                details={"status": locked.status, "pending_operation": locked.pending_operation},
            )
        left = locked.amount - locked.deposit_reduction
        reduction = min(_money(amount, locked.currency, field="amount"), left)
        if reduction <= 0:
            return ZERO
        locked.deposit_reduction += reduction
        locked.save(update_fields=["deposit_reduction", "updated_at"])
        _event(locked, f"Payment {locked.pk}: the deposit captures {_fmt(reduction, locked)} less.", reason=reason)
    return reduction


def payment_amount_to_deposit(*, payment: Payment, order_amount: Decimal) -> Decimal:
    """What the deposit of an order of ``order_amount`` captures: the amount less credited returns."""
    return max(order_amount - payment.deposit_reduction, ZERO)
