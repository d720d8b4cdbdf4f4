"""Reconciling with the gateway: finishing what is in flight, keeping the authorization valid."""

from decimal import Decimal

from django.db import transaction
from django_fsm import can_proceed

from commerce.errors import InvalidTransition
from payments.errors import PaymentError
from payments.gateways.base import ensure_no_transaction
from payments.models import CAPTURED_STATUSES, Payment
from payments.policies import PaymentDecision, decision_for_status
from payments.services.authorization import payment_authorize
from payments.services.common import (
    REAUTHORIZABLE_STATUSES,
    D,
    S,
    _current_of,
    _event,
    _fmt,
    _fresh,
    _invalid,
    _lock,
    _money,
    _refuse_if_in_flight,
    _str,
)
from payments.services.gateway_calls import _operation_call, _resolve_authorization


def payment_sync(*, payment: Payment) -> PaymentDecision:
    """Finish what is waiting for the gateway: poll a pending authorization, repeat a timed-out call."""
    ensure_no_transaction("payment_sync")
    current = _fresh(payment.pk)
    if current.pending_operation:
        _operation_call(current)
        current = _fresh(payment.pk)
    pending = current.status == S.PENDING
    decision = _resolve_authorization(current) if pending else decision_for_status(current.status)
    return decision


def payment_check_order_status(*, payment: Payment, amount: Decimal) -> PaymentDecision:
    """Tell whether the order's authorization still covers ``amount``; reauthorize when it does not.

    Works on the order's current payment, which may be a later one than ``payment``.
    """
    ensure_no_transaction("payment_check_order_status")
    current = _current_of(payment)
    wanted = _money(amount, current.currency, field="amount")
    if current.status == S.PENDING:
        payment_sync(payment=current)
        current = _fresh(current.pk)
    status = current.status
    if status == S.NEW and current.amount == wanted:
        decision = payment_authorize(payment=current)
    elif status in (S.PENDING, S.REVIEW, S.DECLINED):
        decision = decision_for_status(status)
    elif status in CAPTURED_STATUSES:
        if current.captured_amount - current.refunded_amount != wanted:
            raise PaymentError(
                f"Payment {current.pk} has captured {_fmt(current.captured_amount, current)}; "
                f"it cannot cover {_fmt(wanted, current)}.",
                details={"captured_amount": _str(current.captured_amount, current), "amount": str(wanted)},
            )
        decision = D.YES
    elif status == S.AUTHORIZED and not current.is_expired and current.approved_amount == wanted:
        decision = D.YES
    else:
        decision = payment_reauthorize(payment=current, amount=wanted)
    return decision


def payment_reauthorize(*, payment: Payment, amount: Decimal | None = None) -> PaymentDecision:
    """Authorize the order's payment again, for ``amount`` (default: the same amount), as a new payment.

    The new payment becomes current; once it is authorized (YES or REVIEW) the old authorization
    is voided. Works on the order's current payment, which may be a later one than ``payment``.
    """
    ensure_no_transaction("payment_reauthorize")
    with transaction.atomic(durable=True):
        current = _current_of(payment)
        locked = _lock(current.pk)
        if not locked.is_current:
            raise InvalidTransition("The order's payment changed meanwhile; try again.", details={"payment": locked.pk})
        _refuse_if_in_flight(locked)
        if locked.status not in REAUTHORIZABLE_STATUSES:
            raise InvalidTransition(
                f"A {locked.get_status_display().lower()} payment cannot be reauthorized.",
                details={"status": locked.status},
            )
        wanted = _money(locked.amount if amount is None else amount, locked.currency, field="amount")
        if wanted < 0:
            _invalid("amount", "The amount cannot be negative.")
        if locked.status == S.AUTHORIZED and can_proceed(locked.expire):
            locked.expire()
            _event(locked, f"Payment {locked.pk}: authorization expired.")
        elif locked.status == S.NEW:
            locked.void(reason="Replaced before it was authorized.")
        locked.is_current = False
        locked.save()
        replacement = Payment.objects.create(
            order_id=locked.order_id,
            method=locked.method,
            gateway=locked.gateway,
            token=locked.token,
            amount=wanted,
            currency=locked.currency,
            replaces=locked,
            is_current=True,
            deposit_reduction=min(locked.deposit_reduction, wanted),
        )
        _event(
            replacement, f"Payment {replacement.pk} reauthorizes {_fmt(wanted, replacement)} for payment {locked.pk}."
        )
    decision = payment_authorize(payment=replacement)
    return decision
