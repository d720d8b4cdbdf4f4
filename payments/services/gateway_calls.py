"""The steps of a gateway call: send, record the answer, finish or drop what was in flight."""

from decimal import Decimal

from django.db import transaction
from django_fsm import can_proceed

from payments.gateways.base import GatewayResult, Outcome
from payments.models import Operation, Payment
from payments.policies import PaymentDecision, decision_for_status, policy_for
from payments.services.common import (
    UNANSWERED,
    D,
    K,
    S,
    _event,
    _fmt,
    _fresh,
    _lock,
    _log,
    _raise_unless_done,
    _refuse_if_in_flight,
    _send,
    logger,
)


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
    return _authorization_recorded(payment, kind=kind, key=key, result=result, latency_ms=latency_ms)


def _authorization_recorded(
    payment: Payment, *, kind: str, key: str, result: GatewayResult, latency_ms: int
) -> PaymentDecision:
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
        decision, reasons = _decide(payment, result)
        message = _apply_answer(payment, decision, reasons, result)
        if message:
            _event(payment, message, reason=payment.status_reason if decision != D.YES else "")
        payment.save()
        _log(
            payment,
            kind=kind,
            key=key,
            amount=payment.amount,
            result=result,
            latency_ms=latency_ms,
            applied=decision != D.WORKING,
        )
    return decision


def _decide(payment: Payment, result: GatewayResult) -> tuple[PaymentDecision, list[str]]:
    """The store's accept policy applied to the gateway's answer: the decision and its reasons."""
    policy = policy_for(store=payment.order.store, method=payment.method)
    return policy.decide(result=result, amount=payment.amount, currency=payment.currency_id)


def _apply_answer(payment: Payment, decision: PaymentDecision, reasons: list[str], result: GatewayResult) -> str:
    """Move a pending payment in memory by the decided answer; return the message of its event ("": none)."""
    approval = {
        "approved_amount": min(result.amount, payment.amount) if result.amount is not None else payment.amount,
        "reference": result.reference,
        "expires_at": result.expires_at,
        "avs_result": result.avs_result,
        "cvv_result": result.cvv_result,
    }
    if decision == D.YES:
        payment.approve(**approval)
        return f"Payment {payment.pk} authorized: {_fmt(payment.approved_amount, payment)}."
    if decision == D.REVIEW:
        payment.hold_for_review(**approval, reason=" ".join(reasons))
        return f"Payment {payment.pk} held for review."
    if decision == D.NO:
        payment.decline(reason=result.error or "Declined.")
        return f"Payment {payment.pk} declined."
    if result.outcome == Outcome.PENDING and result.reference:
        payment.authorization_reference = result.reference
    return ""


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
            payment,
            kind=kind,
            key=key,
            amount=amount,
            result=result,
            latency_ms=latency_ms,
            applied=applied,
            note=reason,
        )
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
            locked,
            kind=K.AUTHORIZE,
            key=payment.authorize_key,
            amount=payment.amount,
            result=result,
            latency_ms=latency_ms,
            note="Repeated to learn the authorization to void.",
        )
    payment.authorization_reference = result.reference
    return result
