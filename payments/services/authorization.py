"""Creating a payment, authorizing it, and the staff's review of a held one."""

import copy
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_fsm import can_proceed

from commerce.errors import InvalidTransition, ValidationFailed
from payments.gateways.base import GatewayResult, ensure_no_transaction
from payments.methods import get_method, method_names
from payments.models import Operation, Payment
from payments.policies import PaymentDecision, decision_for_status, policy_for
from payments.services.common import (
    HOLDING_STATUSES,
    D,
    K,
    S,
    _event,
    _event_note,
    _fmt,
    _fresh,
    _invalid,
    _lock,
    _log,
    _money,
    _refuse_if_in_flight,
    _send,
    _user,
)
from payments.services.gateway_calls import (
    _apply_answer,
    _authorization_call,
    _authorization_recorded,
    _decide,
    _operation_call,
)

# Creating and authorizing.


def payment_create(
    *,
    order,
    method: str,
    token: str = "",
    amount: Decimal | None = None,
    new_order: bool = False,
    begin_authorization: bool = False,
    notes: list | None = None,
) -> Payment:
    """Make the order's current payment by ``method`` for ``amount`` (default: the order's grand total).

    ``new_order``: the order was made in the caller's transaction, so it has no payment to replace.
    ``begin_authorization``: mark the payment pending with its authorize key as it is created (the
    lock-and-mark step of an authorization, done in the caller's transaction); then call
    ``payment_send_authorization`` once that transaction has committed. ``notes``: with ``new_order``,
    the payment's note (actor ``payments``) is appended to this list for the caller to record with the
    order's own events (one INSERT for all of them) instead of being reported here.
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
            if notes is None:
                _event(payment, message)
            else:
                notes.append(_event_note(payment, message))
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


@dataclass(frozen=True)
class AuthorizationAnswer:
    """The gateway's answer to a payment's authorization and the store's decision on it, not yet recorded."""

    key: str
    result: GatewayResult
    latency_ms: int
    decision: PaymentDecision
    reasons: tuple[str, ...]


def payment_authorization_ask(*, payment: Payment) -> AuthorizationAnswer | None:
    """Send the authorization of a payment just created with ``begin_authorization``; record nothing yet.

    The answer is decided by the store's accept policy; the caller records it, with
    ``payment_authorization_record_first`` in its own transaction, or ``payment_authorization_record``.
    None for a payment that is not a new one pending under its key: ``payment_send_authorization`` then.
    """
    ensure_no_transaction("payment_authorization_ask")
    if payment.status != S.PENDING or not payment.authorize_key or payment.replaces_id is not None:
        return None
    result, latency_ms = _send(payment, K.AUTHORIZE, payment.authorize_key)
    decision, reasons = _decide(payment, result)
    return AuthorizationAnswer(payment.authorize_key, result, latency_ms, decision, tuple(reasons))


def payment_authorization_record(*, payment: Payment, answer: AuthorizationAnswer) -> PaymentDecision:
    """Record an asked answer in a transaction of its own, the payment locked; return the decision that holds."""
    return _authorization_recorded(
        payment, kind=K.AUTHORIZE, key=answer.key, result=answer.result, latency_ms=answer.latency_ms
    )


def payment_authorization_record_first(*, payment: Payment, answer: AuthorizationAnswer, notes: list) -> Payment | None:
    """Record an asked answer in the caller's transaction without reading the payment again.

    One UPDATE that carries the status and key the payment was created with, and the transaction
    log's INSERT; the payment's note is appended to ``notes`` for the caller to record with its own
    events. Returns the payment as recorded (``payment`` itself is left as it was, so a rerun of the
    caller's transaction starts again from it), or None, having written nothing, when the row is no
    longer pending under that key (a ``payment_sync`` got there first): then record the answer with
    ``payment_authorization_record`` once the caller's transaction is over.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("payment_authorization_record_first runs in the caller's transaction.")
    recorded = copy.copy(payment)
    message = _apply_answer(recorded, answer.decision, list(answer.reasons), answer.result)
    recorded.updated_at = timezone.now()
    changed = {
        field.attname: getattr(recorded, field.attname)
        for field in Payment._meta.concrete_fields
        if getattr(recorded, field.attname) != getattr(payment, field.attname)
    }
    if not Payment.objects.filter(pk=payment.pk, status=S.PENDING, authorize_key=answer.key).update(**changed):
        return None
    recorded._update_initial_state()
    _log(
        recorded,
        kind=K.AUTHORIZE,
        key=answer.key,
        amount=recorded.amount,
        result=answer.result,
        latency_ms=answer.latency_ms,
        applied=answer.decision != D.WORKING,
    )
    if message:
        notes.append(_event_note(recorded, message, reason=recorded.status_reason if answer.decision != D.YES else ""))
    return recorded


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
