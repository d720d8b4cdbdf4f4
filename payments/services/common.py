"""What the payment services share: the statuses they test, the gateway call table, locking, amounts, events."""

import logging
import time
from decimal import Decimal
from typing import NoReturn

from django_fsm import can_proceed

from commerce.errors import InvalidTransition, ValidationFailed
from commerce.money import quantize_money
from commerce.reports import Note
from payments.errors import PaymentError, PaymentGatewayError
from payments.gateways.base import GatewayResult, Outcome, ensure_no_transaction
from payments.methods import get_method
from payments.models import Payment, PaymentStatus, PaymentTransaction, TransactionKind
from payments.policies import PaymentDecision
from payments.signals import order_noted

logger = logging.getLogger("payments.services")

ACTOR = "payments"
S = PaymentStatus
D = PaymentDecision
K = TransactionKind
# A new payment for an order is refused while the current one holds (or may hold) the buyer's money.
HOLDING_STATUSES = (S.PENDING, S.AUTHORIZED, S.REVIEW, S.DEPOSITED, S.PARTIALLY_REFUNDED)
REAUTHORIZABLE_STATUSES = (S.NEW, S.AUTHORIZED, S.DECLINED, S.VOIDED, S.EXPIRED)
# Answers that leave a capture, void or refund in flight, to be sent again with the same key.
UNANSWERED = (Outcome.TIMEOUT, Outcome.PENDING)

CALLS = {
    K.AUTHORIZE: lambda method, payment, key, amount: method.authorize(payment=payment, idempotency_key=key),
    K.STATUS: lambda method, payment, key, amount: method.status(payment=payment, idempotency_key=key),
    K.CAPTURE: lambda method, payment, key, amount: method.capture(payment=payment, amount=amount, idempotency_key=key),
    K.VOID: lambda method, payment, key, amount: method.void(payment=payment, idempotency_key=key),
    K.REFUND: lambda method, payment, key, amount: method.refund(payment=payment, amount=amount, idempotency_key=key),
}


def _send(payment: Payment, kind: str, key: str, amount: Decimal | None = None) -> tuple[GatewayResult, int]:
    """Make one call through the payment's method; return the answer and how long it took (ms)."""
    ensure_no_transaction(f"Payment {payment.pk} {kind}")
    method = get_method(payment.method)
    started = time.monotonic()
    result = CALLS[kind](method, payment, key, amount)
    return result, int((time.monotonic() - started) * 1000)


def _log(
    payment: Payment,
    *,
    kind: str,
    key: str,
    amount: Decimal | None,
    result: GatewayResult,
    latency_ms: int,
    applied: bool = False,
    note: str = "",
) -> PaymentTransaction:
    entry = _log_entry(
        payment, kind=kind, key=key, amount=amount, result=result, latency_ms=latency_ms, applied=applied, note=note
    )
    entry.save(force_insert=True)
    return entry


def _log_entry(
    payment: Payment,
    *,
    kind: str,
    key: str,
    amount: Decimal | None,
    result: GatewayResult,
    latency_ms: int,
    applied: bool = False,
    note: str = "",
) -> PaymentTransaction:
    """The transaction log row of one gateway call, not yet written (``_log`` writes it; batches bulk-insert)."""
    return PaymentTransaction(
        payment=payment,
        kind=kind,
        gateway=payment.gateway,
        amount=amount,
        currency_id=payment.currency_id,
        outcome=result.outcome,
        reference=result.reference,
        idempotency_key=key,
        applied=applied,
        replayed=result.replayed,
        latency_ms=latency_ms,
        error=result.error,
        note=note,
        raw_response=result.raw,
    )


def _raise_unless_done(result: GatewayResult, what: str) -> None:
    details = {"outcome": str(result.outcome), "error": result.error}
    if result.outcome == Outcome.SUCCESS:
        return
    if result.outcome in UNANSWERED:
        raise PaymentGatewayError(
            f"The gateway did not answer the {what}; a retry or payment_sync finishes it.", details=details
        )
    if result.outcome == Outcome.ERROR:
        raise PaymentGatewayError(f"The gateway failed the {what}: {result.error}", details=details)
    raise PaymentError(f"The gateway refused the {what}: {result.error or result.outcome}", details=details)


def _capturable(payment: Payment, wanted: Decimal | None) -> Decimal:
    """Return the amount to capture, or raise why the payment cannot be captured."""
    if not can_proceed(payment.capture):
        raise InvalidTransition(
            f"A {payment.get_status_display().lower()} payment cannot be captured.", details={"status": payment.status}
        )
    if payment.is_expired:
        raise PaymentError(
            f"Payment {payment.pk}'s authorization expired; reauthorize it before capturing.",
            details={"expires_at": payment.expires_at.isoformat()},
        )
    # Returns credited before the deposit lower what may be captured (payments.refunds).
    available = payment.approved_amount - payment.captured_amount - payment.deposit_reduction
    if wanted is None:
        return available
    if wanted <= 0:
        _invalid("amount", "A capture must be positive.")
    if wanted > available:
        raise PaymentError(
            f"Cannot capture {_fmt(wanted, payment)}: the authorization is for {_fmt(available, payment)}.",
            details={"amount": str(wanted), "approved_amount": _str(available, payment)},
        )
    return wanted


def _check_resumable(
    payment: Payment, operation: str, *, key: str | None = None, amount: Decimal | None = None
) -> None:
    """Allow sending the operation in flight again only when this call repeats it."""
    if payment.pending_operation != operation:
        _refuse_if_in_flight(payment)
    if key is not None and key != payment.pending_key:
        raise PaymentError(
            f"A {operation} with another idempotency key is in flight for payment {payment.pk}.",
            details={"pending_operation": payment.pending_operation},
        )
    if amount is not None and amount != payment.pending_amount:
        raise PaymentError(
            f"A {operation} of {_fmt(payment.pending_amount, payment)} is in flight for payment {payment.pk}; "
            "wait for its answer.",
            details={
                "pending_operation": payment.pending_operation,
                "pending_amount": _str(payment.pending_amount, payment),
            },
        )


def _refuse_if_in_flight(payment: Payment) -> None:
    if payment.pending_operation:
        raise PaymentError(
            f"A {payment.pending_operation} is in flight for payment {payment.pk}; sync the payment first.",
            details={"pending_operation": payment.pending_operation},
        )


def _lock(pk: int) -> Payment:
    return Payment.objects.select_for_update(of=("self",)).select_related("currency").get(pk=pk)


def _fresh(pk: int) -> Payment:
    return Payment.objects.select_related("currency").get(pk=pk)


def _current_of(payment: Payment) -> Payment:
    current = Payment.objects.select_related("currency").filter(order_id=payment.order_id, is_current=True).first()
    return current or _fresh(payment.pk)


def _money(value, currency, *, field: str) -> Decimal:
    try:
        amount = quantize_money(value, currency)
    except (TypeError, ValueError, ArithmeticError) as exc:
        _invalid(field, f"Not an amount: {value!r}.", cause=exc)
    if not amount.is_finite():
        _invalid(field, f"Not an amount: {value!r}.")
    return amount


def _invalid(field: str, message: str, *, cause: Exception | None = None) -> NoReturn:
    """Raise a validation error naming ``field`` (a dotted path into the details)."""
    *parents, name = field.split(".")
    details: dict = {name: [message]}
    for parent in reversed(parents):
        details = {parent: details}
    raise ValidationFailed(f"{field}: {message}", details=details) from cause


def _fmt(amount: Decimal | None, payment: Payment) -> str:
    return f"{_str(amount, payment)} {payment.currency_id}"


def _str(amount: Decimal | None, payment: Payment) -> str:
    """Show an amount with its currency's decimals (the database keeps five)."""
    return "" if amount is None else str(quantize_money(amount, payment.currency))


def _user(acting_user):
    return acting_user if getattr(acting_user, "is_authenticated", False) else None


def _event_note(payment: Payment, message: str, *, reason: str = "") -> Note:
    """The note ``_event`` reports (actor ``ACTOR`` unless a user acted), for a caller to record."""
    return Note(
        subject_id=payment.order_id,
        message=message,
        reason=reason,
        extra={"payment": payment.pk, "payment_status": payment.status},
    )


def _event(payment: Payment, message: str, *, acting_user=None, reason: str = "") -> None:
    order_noted.send(
        sender=Payment,
        notes=[_event_note(payment, message, reason=reason)],
        acting_user=acting_user,
        actor_name="" if _user(acting_user) else ACTOR,
    )
