"""Moving the money: capture, void, refund, and undoing an order's payments for a cancellation."""

from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django_fsm import can_proceed

from commerce.errors import InvalidTransition
from payments.errors import PaymentError
from payments.gateways.base import ensure_no_transaction
from payments.models import CAPTURED_STATUSES, OPEN_STATUSES, Operation, Payment
from payments.services.common import (
    K,
    S,
    _capturable,
    _check_resumable,
    _event,
    _fmt,
    _fresh,
    _invalid,
    _lock,
    _money,
    _raise_unless_done,
    _str,
)
from payments.services.gateway_calls import _cancel_one, _operation_call

# Moving the money.


def payment_capture(*, payment: Payment, amount: Decimal | None = None, idempotency_key: str | None = None) -> Payment:
    """Capture the authorization (default: all of it), at most once per idempotency key.

    Without a key, a capture in flight is sent again with its own key, and a captured payment
    is left as it is. Raises ``PaymentError`` when the capture is refused or fails.
    """
    ensure_no_transaction("payment_capture")
    send = True
    with transaction.atomic(durable=True):
        locked = _lock(payment.pk)
        wanted = None if amount is None else _money(amount, locked.currency, field="amount")
        if locked.status in CAPTURED_STATUSES and idempotency_key in (None, locked.capture_key):
            send = False
        elif locked.pending_operation:
            _check_resumable(locked, Operation.CAPTURE, key=idempotency_key, amount=wanted)
        else:
            wanted = _capturable(locked, wanted)
            key = idempotency_key or locked.next_key(K.CAPTURE)
            locked.start_operation(Operation.CAPTURE, idempotency_key=key, amount=wanted)
            locked.save()
    if send:
        _raise_unless_done(_operation_call(locked), "capture")
    return _fresh(payment.pk)


def payment_void(*, payment: Payment) -> Payment:
    """Void the authorization at the gateway; an authorization that already lapsed is marked expired.

    Raises ``PaymentError`` when the gateway refuses or fails; a void in flight is sent again.
    """
    ensure_no_transaction("payment_void")
    send = False
    with transaction.atomic(durable=True):
        locked = _lock(payment.pk)
        if locked.pending_operation:
            _check_resumable(locked, Operation.VOID)
            send = True
        elif locked.status in (S.AUTHORIZED, S.REVIEW) and locked.is_expired:
            locked.expire()
            locked.save()
            _event(locked, f"Payment {locked.pk}: authorization expired.")
        elif locked.status in (S.AUTHORIZED, S.REVIEW):
            locked.start_operation(Operation.VOID, idempotency_key=locked.next_key(K.VOID))
            locked.save()
            send = True
        elif locked.status != S.VOIDED:
            raise InvalidTransition(
                f"A {locked.get_status_display().lower()} payment has no authorization to void.",
                details={"status": locked.status},
            )
    if send:
        _raise_unless_done(_operation_call(locked), "void")
    return _fresh(payment.pk)


def payment_refund(*, payment: Payment, amount: Decimal, reason: str = "") -> Payment:
    """Give back part or all of what was captured, never more.

    While a refund is in flight, asking again for the same amount sends it again with its key
    (so a retry never refunds twice); another refund waits until it is answered.
    """
    ensure_no_transaction("payment_refund")
    with transaction.atomic(durable=True):
        locked = _lock(payment.pk)
        wanted = _money(amount, locked.currency, field="amount")
        if wanted <= 0:
            _invalid("amount", "A refund must be positive.")
        if locked.pending_operation:
            _check_resumable(locked, Operation.REFUND, amount=wanted)
        else:
            if not can_proceed(locked.refund):
                raise InvalidTransition(
                    f"A {locked.get_status_display().lower()} payment has nothing to refund.",
                    details={"status": locked.status},
                )
            if wanted > locked.refundable_amount:
                raise PaymentError(
                    f"Cannot refund {_fmt(wanted, locked)}: {_fmt(locked.refundable_amount, locked)} "
                    f"of the {_fmt(locked.captured_amount, locked)} captured is left to refund.",
                    details={"amount": str(wanted), "refundable_amount": _str(locked.refundable_amount, locked)},
                )
            locked.start_operation(Operation.REFUND, idempotency_key=locked.next_key(K.REFUND), amount=wanted)
            locked.save()
    _raise_unless_done(_operation_call(locked, reason=reason), "refund")
    return _fresh(payment.pk)


def payment_cancel(*, payment: Payment, reason: str = "") -> Payment:
    """Undo the order's payments for a cancellation: void authorizations, refund captures.

    Earlier payments of the same order that still hold money (a reauthorization not yet voided)
    are cancelled too. Idempotent. A void the gateway does not answer stays in flight for
    ``payment_sync``; a refund that fails raises ``PaymentError``.
    """
    ensure_no_transaction("payment_cancel")
    reason = reason or "Order cancelled."
    others = (
        Payment.objects.filter(order_id=payment.order_id)
        .filter(Q(status__in=OPEN_STATUSES) | ~Q(pending_operation=Operation.NONE))
        .exclude(pk=payment.pk)
        .order_by("pk")
    )
    for target in [payment, *others]:
        _cancel_one(target.pk, reason=reason)
    return _fresh(payment.pk)
