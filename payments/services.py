"""Payment services: every write of the payments app and every gateway call.

A gateway call has one shape: lock the payment and mark what is about to be sent (the ``pending``
status for an authorization, ``pending_operation`` for a capture, void or refund), commit; call
the gateway outside any transaction with an idempotency key; lock again and record the answer.
A crash or a timeout in between leaves the mark, and ``payment_sync`` or a retry with the same key
finishes the call: the gateway answers a repeated key with its first answer, so nothing is
charged twice and nothing is lost.

Services that call a gateway refuse to run inside a transaction (``GatewayCallInTransaction``);
``payment_create`` and ``payment_approve_review`` only write and may join the caller's. Services
work on the row, not on the instance passed in: those returning a payment return a fresh one, and
after the others, reload the payment to see its new state. (They never ``refresh_from_db`` it:
django-fsm toggles the protected status field class-wide while refreshing, a race between threads.)

Captures are final: one capture per authorization, of its full amount unless a smaller one is
asked for, after which the rest of the authorization is released. A partial refund leaves the
payment ``partially_refunded``; refunding what is left makes it ``refunded``.
"""

import logging
import time
from decimal import Decimal
from typing import NoReturn

from django.db import IntegrityError, transaction
from django.db.models import Q
from django_fsm import can_proceed

from commerce.errors import InvalidTransition, ValidationFailed
from commerce.money import quantize_money
from orders.events import order_event_record
from orders.models import OrderEvent
from payments.errors import PaymentError, PaymentGatewayError
from payments.gateways.base import GatewayResult, Outcome, ensure_no_transaction
from payments.methods import get_method, method_names
from payments.models import (
    CAPTURED_STATUSES,
    OPEN_STATUSES,
    Operation,
    Payment,
    PaymentStatus,
    PaymentTransaction,
    TransactionKind,
)
from payments.policies import PaymentDecision, decision_for_status, policy_for

logger = logging.getLogger(__name__)

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


# Creating and authorizing.


def payment_create(
    *,
    order,
    method: str,
    token: str = "",
    amount: Decimal | None = None,
    new_order: bool = False,
    begin_authorization: bool = False,
    events: list | None = None,
) -> Payment:
    """Make the order's current payment by ``method`` for ``amount`` (default: the order's grand total).

    ``new_order``: the order was made in the caller's transaction, so it has no payment to replace.
    ``begin_authorization``: mark the payment pending with its authorize key as it is created (the
    lock-and-mark step of an authorization, done in the caller's transaction); then call
    ``payment_send_authorization`` once that transaction has committed. ``events``: with ``new_order``,
    the payment's event is appended to this list of unsaved order events for the caller to write with
    its own (one INSERT for all of them) instead of being written here.
    """
    token = (token or "").strip()
    try:
        method_class = get_method(method)
    except LookupError:
        _invalid("payment.method", f"Unknown payment method {method!r}; use one of {', '.join(method_names())}.")
    errors = dict(method_class.validate(order=order, token=token))
    if not policy_for(store=order.store, method=method).accepted:
        errors.setdefault("method", []).append(f"{order.store} does not accept {method} payments.")
    value = _money(order.grand_total if amount is None else amount, order.currency, field="payment.amount")
    if value < 0:
        errors.setdefault("amount", []).append("The amount cannot be negative.")
    if errors:
        field, problems = next(iter(errors.items()))
        raise ValidationFailed(f"payment.{field}: {problems[0]}", details={"payment": errors})

    if new_order:
        payment = Payment(
            order=order,
            method=method,
            gateway=method_class.gateway_name(),
            token=token if method_class.requires_token else "",
            amount=value,
            currency=order.currency,
            is_current=True,
        )
        if begin_authorization:
            payment.begin_authorization(idempotency_key=payment.next_key(K.AUTHORIZE))
        with transaction.atomic(savepoint=False):
            payment.save(force_insert=True)
            message = f"Payment {payment.pk} created: {_fmt(value, payment)} by {method}."
            if events is None:
                _event(payment, message)
            else:
                events.append(_event_row(payment, message))
        return payment

    with transaction.atomic():
        for previous in Payment.objects.select_for_update().filter(order=order, is_current=True).order_by("pk"):
            if previous.status in HOLDING_STATUSES:
                raise InvalidTransition(
                    f"The order's payment {previous.pk} is {previous.get_status_display().lower()}; cancel it first.",
                    details={"payment": previous.pk, "status": previous.status},
                )
            if previous.status == S.NEW:
                previous.void(reason="Replaced by a new payment.")
            previous.is_current = False
            previous.save()
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    order=order,
                    method=method,
                    gateway=method_class.gateway_name(),
                    token=token if method_class.requires_token else "",
                    amount=value,
                    currency=order.currency,
                    is_current=True,
                )
        except IntegrityError as exc:
            # One current payment per order: a concurrent checkout of the same order made one first.
            raise InvalidTransition(
                "Another payment was made for this order at the same time.", details={"order": order.pk}
            ) from exc
        if begin_authorization:
            payment.begin_authorization(idempotency_key=payment.next_key(K.AUTHORIZE))
            payment.save()
        _event(payment, f"Payment {payment.pk} created: {_fmt(value, payment)} by {method}.")
    return payment


def payment_send_authorization(*, payment: Payment) -> PaymentDecision:
    """Send the authorization of a payment created with ``begin_authorization`` and apply the answer.

    If this never runs (a crash after the commit), the payment stays pending with its key and
    ``payment_sync`` sends it: the gateway answers a repeated key with its first answer.
    """
    ensure_no_transaction("payment_send_authorization")
    if payment.status != S.PENDING or not payment.authorize_key:
        return payment_authorize(payment=payment)
    return _authorization_call(payment, kind=K.AUTHORIZE, key=payment.authorize_key)


def payment_authorize(*, payment: Payment) -> PaymentDecision:
    """Ask for the payment's money and apply the store's accept policy to the answer.

    A payment already past ``new`` is not sent again: its status gives the answer.
    """
    ensure_no_transaction("payment_authorize")
    key = None
    with transaction.atomic(durable=True):
        locked = _lock(payment.pk)
        if locked.status == S.NEW:
            key = locked.next_key(K.AUTHORIZE)
            locked.begin_authorization(idempotency_key=key)
            locked.save()
        else:
            decision = decision_for_status(locked.status)
    if key is not None:
        decision = _authorization_call(locked, kind=K.AUTHORIZE, key=key)
    return decision


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


def payment_approve_review(*, payment: Payment, acting_user, reason: str = "") -> Payment:
    """Release a payment held for review (staff)."""
    with transaction.atomic():
        locked = _lock(payment.pk)
        if not can_proceed(locked.approve_review):
            raise InvalidTransition(
                f"Only a payment in review can be approved; this one is {locked.get_status_display().lower()}.",
                details={"status": locked.status},
            )
        locked.approve_review(reviewer=_user(acting_user), reason=reason)
        locked.save()
        _event(locked, f"Payment {locked.pk} approved after review.", acting_user=acting_user, reason=reason)
    return _fresh(payment.pk)


def payment_decline_review(*, payment: Payment, acting_user, reason: str) -> Payment:
    """Decline a payment held for review (staff) and void its authorization at the gateway.

    The decision stands whatever the gateway answers; a void that times out is finished by
    ``payment_sync``, and one that fails leaves the authorization to lapse.
    """
    if not (reason or "").strip():
        raise ValidationFailed(
            "reason: Say why the payment is declined.", details={"reason": ["This field is required."]}
        )
    ensure_no_transaction("payment_decline_review")
    with transaction.atomic(durable=True):
        locked = _lock(payment.pk)
        if not can_proceed(locked.decline_review):
            raise InvalidTransition(
                f"Only a payment in review can be declined; this one is {locked.get_status_display().lower()}.",
                details={"status": locked.status},
            )
        _refuse_if_in_flight(locked)
        locked.decline_review(reviewer=_user(acting_user), reason=reason)
        send_void = not locked.is_expired
        if send_void:
            locked.start_operation(Operation.VOID, idempotency_key=locked.next_key(K.VOID))
        locked.save()
        _event(locked, f"Payment {locked.pk} declined after review.", acting_user=acting_user, reason=reason)
    if send_void:
        _operation_call(locked)
    return _fresh(payment.pk)


# Keeping the authorization valid.


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


# The steps the services share.


def _cancel_one(pk: int, *, reason: str) -> None:
    current = _fresh(pk)
    if current.status == S.PENDING and not current.pending_operation and _may_hold_money(current):
        # The gateway may have answered meanwhile: what it approved must be voided, not forgotten.
        _resolve_authorization(current)
    with transaction.atomic(durable=True):
        locked = _lock(pk)
        if locked.pending_operation == Operation.CAPTURE:
            _refuse_if_in_flight(locked)
        send = bool(locked.pending_operation)  # a void or refund still unanswered goes again
        status = locked.status
        if status in (S.NEW, S.DECLINED):
            locked.void(reason=reason)
        elif status in (S.PENDING, S.AUTHORIZED, S.REVIEW) and can_proceed(locked.expire):
            locked.expire()
        elif status in (S.PENDING, S.AUTHORIZED, S.REVIEW):
            locked.void(reason=reason)
            if not send and (status != S.PENDING or _may_hold_money(locked)):
                locked.start_operation(Operation.VOID, idempotency_key=locked.next_key(K.VOID))
                send = True
        elif status in (S.DEPOSITED, S.PARTIALLY_REFUNDED) and not send:
            amount = locked.refundable_amount
            locked.start_operation(Operation.REFUND, idempotency_key=locked.next_key(K.REFUND), amount=amount)
            send = True
        if locked.status != status:
            _event(locked, f"Payment {locked.pk} {locked.get_status_display().lower()}.", reason=reason)
        locked.save()
    if send:
        operation = locked.pending_operation
        result = _operation_call(locked, reason=reason)
        if operation == Operation.REFUND and result.outcome not in UNANSWERED:
            _raise_unless_done(result, "refund")


def _authorization_call(payment: Payment, *, kind: str, key: str) -> PaymentDecision:
    result, latency_ms = _send(payment, kind, key)
    decision = _record_authorization(payment.pk, kind=kind, key=key, result=result, latency_ms=latency_ms)
    if decision in (D.YES, D.REVIEW) and payment.replaces_id is not None:
        _retire_replaced(payment.pk)
    return decision


def _resolve_authorization(payment: Payment) -> PaymentDecision:
    """Poll an asynchronous authorization, repeat an unanswered one with its key, retry a failed one."""
    if payment.authorization_reference:
        return _authorization_call(payment, kind=K.STATUS, key=payment.authorize_key)
    if _last_authorize_outcome(payment) == Outcome.ERROR:
        # The gateway repeats an error to the same key: a new attempt needs a new one.
        payment = _new_authorize_key(payment.pk, payment.authorize_key)
        if payment.status != S.PENDING:
            return decision_for_status(payment.status)
    return _authorization_call(payment, kind=K.AUTHORIZE, key=payment.authorize_key)


def _last_authorize_outcome(payment: Payment) -> str | None:
    return (
        payment.transactions.filter(kind=K.AUTHORIZE, idempotency_key=payment.authorize_key)
        .order_by("-pk")
        .values_list("outcome", flat=True)
        .first()
    )


def _may_hold_money(payment: Payment) -> bool:
    """Tell whether the gateway may have approved a pending payment (its last answer was no failure)."""
    return bool(payment.authorization_reference) or _last_authorize_outcome(payment) != Outcome.ERROR


def _new_authorize_key(pk: int, failed_key: str) -> Payment:
    with transaction.atomic(durable=True):
        payment = _lock(pk)
        if payment.status == S.PENDING and payment.authorize_key == failed_key:
            payment.authorize_key = payment.next_key(K.AUTHORIZE)
            payment.save()
    return payment


def _record_authorization(pk: int, *, kind: str, key: str, result: GatewayResult, latency_ms: int) -> PaymentDecision:
    with transaction.atomic(durable=True):
        payment = Payment.objects.select_for_update(of=("self",)).select_related("currency", "order__store").get(pk=pk)
        if payment.status != S.PENDING or payment.authorize_key != key:
            # Another sync got here first; this answer is only logged.
            _log(payment, kind=kind, key=key, amount=payment.amount, result=result, latency_ms=latency_ms)
            return decision_for_status(payment.status)
        policy = policy_for(store=payment.order.store, method=payment.method)
        decision, reasons = policy.decide(result=result, amount=payment.amount, currency=payment.currency_id)
        approval = {
            "approved_amount": min(result.amount, payment.amount) if result.amount is not None else payment.amount,
            "reference": result.reference,
            "expires_at": result.expires_at,
            "avs_result": result.avs_result,
            "cvv_result": result.cvv_result,
        }
        if decision == D.YES:
            payment.approve(**approval)
            _event(payment, f"Payment {payment.pk} authorized: {_fmt(payment.approved_amount, payment)}.")
        elif decision == D.REVIEW:
            payment.hold_for_review(**approval, reason=" ".join(reasons))
            _event(payment, f"Payment {payment.pk} held for review.", reason=payment.status_reason)
        elif decision == D.NO:
            payment.decline(reason=result.error or "Declined.")
            _event(payment, f"Payment {payment.pk} declined.", reason=payment.status_reason)
        elif result.outcome == Outcome.PENDING and result.reference:
            payment.authorization_reference = result.reference
        payment.save()
        _log(
            payment, kind=kind, key=key, amount=payment.amount, result=result, latency_ms=latency_ms,
            applied=decision != D.WORKING,
        )  # fmt: skip
    return decision


def _retire_replaced(pk: int) -> None:
    """Void the authorization a now-authorized reauthorization replaces."""
    replaced_pk = Payment.objects.values_list("replaces_id", flat=True).get(pk=pk)
    if replaced_pk is None:
        return
    if Payment.objects.filter(pk=replaced_pk, status__in=(S.AUTHORIZED, S.REVIEW)).exists():
        _cancel_one(replaced_pk, reason=f"Replaced by payment {pk}.")


def _operation_call(payment: Payment, *, reason: str = "") -> GatewayResult:
    """Send the payment's marked capture, void or refund and record the answer."""
    operation, key, amount = payment.pending_operation, payment.pending_key, payment.pending_amount
    kind = K(operation)
    if operation == Operation.VOID and not payment.authorization_reference and payment.authorize_key:
        learned = _learn_reference(payment)
        if not learned.reference:
            if learned.outcome not in UNANSWERED:
                _drop_operation(payment.pk, operation, key)  # the gateway holds nothing to void
            return learned
    result, latency_ms = _send(payment, kind, key, amount)
    return _finish_operation(payment.pk, operation, key, amount, result, latency_ms=latency_ms, reason=reason)


def _finish_operation(
    pk: int, operation: str, key: str, amount: Decimal | None, result: GatewayResult, *, latency_ms: int, reason: str
) -> GatewayResult:
    kind = K(operation)
    with transaction.atomic(durable=True):
        payment = _lock(pk)
        awaited = payment.pending_operation == operation and payment.pending_key == key
        applied = False
        if awaited and result.outcome == Outcome.SUCCESS:
            applied = _apply_operation(payment, operation, key=key, amount=amount, result=result, reason=reason)
        if awaited and result.outcome not in UNANSWERED:
            payment.finish_operation()
        payment.save()
        _log(
            payment, kind=kind, key=key, amount=amount, result=result, latency_ms=latency_ms, applied=applied,
            note=reason,
        )  # fmt: skip
    if result.outcome != Outcome.SUCCESS:
        logger.warning("Payment %s %s %s: %s", pk, operation, result.outcome, result.error)
    return result


def _drop_operation(pk: int, operation: str, key: str) -> None:
    with transaction.atomic(durable=True):
        payment = _lock(pk)
        if payment.pending_operation == operation and payment.pending_key == key:
            payment.finish_operation()
            payment.save()


def _apply_operation(payment: Payment, operation: str, *, key: str, amount, result: GatewayResult, reason: str) -> bool:
    """Count a confirmed capture, refund or void on the payment; tell whether it changed the payment."""
    # What was asked for: a success means exactly that amount moved.
    confirmed = amount if amount is not None else result.amount
    if operation == Operation.CAPTURE and can_proceed(payment.capture):
        payment.capture(amount=confirmed, idempotency_key=key)
        _event(payment, f"Payment {payment.pk} captured: {_fmt(confirmed, payment)}.")
        return True
    if operation == Operation.REFUND and can_proceed(payment.refund):
        payment.refund(amount=confirmed)
        _event(payment, f"Payment {payment.pk} refunded: {_fmt(confirmed, payment)}.", reason=reason)
        return True
    if operation == Operation.VOID:
        # Cancellations and declined reviews change the status first; a plain void changes it now.
        if payment.status in (S.AUTHORIZED, S.REVIEW):
            payment.void(reason=reason or "Voided.")
            _event(payment, f"Payment {payment.pk} voided.", reason=reason)
        return True
    logger.error("Payment %s: the gateway confirmed a %s the payment can no longer take.", payment.pk, operation)
    return False


def _learn_reference(payment: Payment) -> GatewayResult:
    """Repeat an unanswered authorization with its key, to learn what there is to void."""
    result, latency_ms = _send(payment, K.AUTHORIZE, payment.authorize_key)
    with transaction.atomic(durable=True):
        locked = _lock(payment.pk)
        if result.reference and not locked.authorization_reference:
            locked.authorization_reference = result.reference
            locked.save()
        _log(
            locked, kind=K.AUTHORIZE, key=payment.authorize_key, amount=payment.amount, result=result,
            latency_ms=latency_ms, note="Repeated to learn the authorization to void.",
        )  # fmt: skip
    payment.authorization_reference = result.reference
    return result


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
    return PaymentTransaction.objects.create(
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


def _event_row(payment: Payment, message: str) -> OrderEvent:
    """The unsaved event ``_event`` would write for the payments app itself."""
    return OrderEvent(
        order_id=payment.order_id,
        kind=OrderEvent.Kind.PAYMENT,
        message=message[:255],
        extra={"payment": payment.pk, "payment_status": payment.status},
        actor=None,
        actor_name=ACTOR,
    )


def _event(payment: Payment, message: str, *, acting_user=None, reason: str = "") -> None:
    order_event_record(
        order=payment.order,
        kind=OrderEvent.Kind.PAYMENT,
        message=message,
        reason=reason,
        acting_user=acting_user,
        actor_name="" if _user(acting_user) else ACTOR,
        extra={"payment": payment.pk, "payment_status": payment.status},
    )


# Credits of returns live in their own module (payments.refunds, which builds on the helpers above);
# they are services of this app like the ones above, loaded on first use so neither module imports
# the other while it loads.
RETURN_CREDIT_SERVICES = frozenset(
    {"payment_amount_to_deposit", "payment_reduce_deposit", "payment_refund_partial", "payment_refunded_for_key"}
)


def __getattr__(name: str):
    if name in RETURN_CREDIT_SERVICES:
        from payments import refunds

        return getattr(refunds, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
