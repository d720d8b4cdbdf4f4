"""Capturing many payments' deposits together: the shape of ``payment_capture``, a chunk at a time.

``payment_capture`` locks a payment, marks the capture in flight and commits; calls the gateway; then
locks it again and records the answer. Here each of those steps covers a chunk of payments with one
statement per table: ``payments_capture_mark`` locks and marks them in one transaction (the state is
written before the gateway is called, as alone), ``payments_capture_send`` calls the gateway for each,
outside any transaction, and ``payments_capture_record``, inside the caller's transaction, records the
confirmed captures on the payments and in their log.

Only the answers that confirm a capture are recorded here. Any other answer (declined, an error, no
answer) leaves its capture marked in flight, with its idempotency key: the caller's per-payment path
then sends it again with that key, the gateway repeats its first answer, and ``payment_capture``
records it and raises exactly as it does alone.
"""

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django_fsm import can_proceed

from commerce.reports import Note
from payments.gateways.base import GatewayResult, Outcome, ensure_no_transaction
from payments.models import Operation, Payment, PaymentTransaction
from payments.refunds import payment_amount_to_deposit
from payments.services.common import K, S, _event_note, _fmt, _money, _send, logger

NOT_IN_FLIGHT = {"pending_operation": Operation.NONE, "pending_key": "", "pending_amount": None, "pending_since": None}


@dataclass(frozen=True)
class DepositCapture:
    """The deposit of one order: its current payment, the order's amount and the capture's key."""

    payment_id: int
    order_amount: Decimal
    idempotency_key: str


@dataclass(frozen=True)
class CaptureAnswer:
    """The gateway's answer to one marked capture."""

    payment: Payment
    result: GatewayResult
    latency_ms: int


def _capturable_now(payment: Payment, amount: Decimal) -> bool:
    """Whether ``payment_capture`` would mark this capture without refusing it (``_capturable``)."""
    available = payment.approved_amount - payment.captured_amount - payment.deposit_reduction
    return (
        payment.status == S.AUTHORIZED
        and not payment.pending_operation
        and can_proceed(payment.capture)
        and not payment.is_expired
        and 0 < amount <= available
    )


def payments_capture_mark(*, deposits: Sequence[DepositCapture]) -> list[Payment]:
    """Mark the deposits' captures in flight, together; return the payments marked.

    A payment another worker holds, or that ``payment_capture`` would not simply capture (in review,
    captured, a capture in flight, expired, nothing to deposit), is left unmarked for the caller's
    per-payment path. The capture of each is the amount ``payment_amount_to_deposit`` gives, as alone.
    """
    ensure_no_transaction("payments_capture_mark")
    wanted = {deposit.payment_id: deposit for deposit in deposits}
    if not wanted:
        return []
    marked: list[Payment] = []
    now = timezone.now()
    with transaction.atomic(durable=True):
        for payment in (
            Payment.objects.select_for_update(skip_locked=True, of=("self",), no_key=True)
            .select_related("currency")
            .filter(pk__in=list(wanted), status=S.AUTHORIZED, pending_operation=Operation.NONE)
            .order_by("pk")
        ):
            deposit = wanted[payment.pk]
            amount = _money(
                payment_amount_to_deposit(payment=payment, order_amount=deposit.order_amount),
                payment.currency,
                field="amount",
            )
            if not _capturable_now(payment, amount):
                continue
            payment.start_operation(Operation.CAPTURE, idempotency_key=deposit.idempotency_key, amount=amount)
            payment.pending_since = payment.updated_at = now
            marked.append(payment)
        if marked:
            # One UPDATE; only the key and the amount differ from row to row.
            Payment.objects.filter(pk__in=[payment.pk for payment in marked]).update(
                pending_operation=Operation.CAPTURE,
                pending_key=Case(*(When(pk=payment.pk, then=Value(payment.pending_key)) for payment in marked)),
                pending_amount=Case(
                    *(When(pk=payment.pk, then=Value(payment.pending_amount)) for payment in marked),
                    output_field=Payment._meta.get_field("pending_amount"),
                ),
                pending_since=now,
                updated_at=now,
            )
    return marked


def payments_capture_send(*, payments: Sequence[Payment]) -> list[CaptureAnswer]:
    """Send each marked capture to its gateway, one call each, outside any transaction; answer in order.

    The calls wait on a remote service, so up to ``settings.PAYMENT_CAPTURE_CONCURRENCY`` of them are
    made at once, each thread sending its share in turn.
    """
    workers = min(settings.PAYMENT_CAPTURE_CONCURRENCY, len(payments))
    if workers <= 1:
        return _send_each(payments)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="capture") as pool:
        shares = list(pool.map(_send_in_thread, [payments[start::workers] for start in range(workers)]))
    by_payment = {answer.payment.pk: answer for share in shares for answer in share}
    return [by_payment[payment.pk] for payment in payments]


def _send_each(payments: Sequence[Payment]) -> list[CaptureAnswer]:
    answers = []
    for payment in payments:
        result, latency_ms = _send(payment, K.CAPTURE, payment.pending_key, payment.pending_amount)
        answers.append(CaptureAnswer(payment=payment, result=result, latency_ms=latency_ms))
    return answers


def _send_in_thread(payments: Sequence[Payment]) -> list[CaptureAnswer]:
    try:
        return _send_each(payments)
    finally:
        # A gateway adapter that uses the database (the simulated one) opened this thread's own connection.
        connections.close_all()


def payments_capture_record(*, answers: Sequence[CaptureAnswer], notes: list[Note]) -> dict[int, Decimal]:
    """Record the confirmed captures in the caller's transaction; return each payment's captured amount.

    Locks the payments (by pk, one statement), counts each capture still awaited under its key (one
    UPDATE), and logs every confirmed answer (one INSERT), as ``_finish_operation`` does one at a time.
    The payments' own events are appended to ``notes``, for the caller to write with its own. Answers
    that confirm nothing are left as they are (see the module's docstring).
    """
    confirmed = [answer for answer in answers if answer.result.outcome == Outcome.SUCCESS]
    if not confirmed:
        return {}
    locked = {
        payment.pk: payment
        for payment in Payment.objects.select_for_update(of=("self",), no_key=True)
        .select_related("currency")
        .filter(pk__in=[answer.payment.pk for answer in confirmed])
        .order_by("pk")
    }
    now = timezone.now()
    captured: dict[int, Decimal] = {}
    refused: list[int] = []
    logs: list[PaymentTransaction] = []
    for answer in confirmed:
        payment = locked[answer.payment.pk]
        key, amount = answer.payment.pending_key, answer.payment.pending_amount
        applied = False
        if payment.pending_operation == Operation.CAPTURE and payment.pending_key == key:
            # Awaited: no retry recorded this answer first.
            if can_proceed(payment.capture):
                payment.capture(amount=amount, idempotency_key=key)
                notes.append(_event_note(payment, f"Payment {payment.pk} captured: {_fmt(amount, payment)}."))
                captured[payment.pk] = payment.captured_amount
                applied = True
            else:
                logger.error("Payment %s: the gateway confirmed a capture the payment can no longer take.", payment.pk)
                refused.append(payment.pk)
        logs.append(
            PaymentTransaction(
                payment=payment,
                kind=K.CAPTURE,
                gateway=payment.gateway,
                amount=amount,
                currency_id=payment.currency_id,
                outcome=answer.result.outcome,
                reference=answer.result.reference,
                idempotency_key=key,
                applied=applied,
                replayed=answer.result.replayed,
                latency_ms=answer.latency_ms,
                error=answer.result.error,
                raw_response=answer.result.raw,
            )
        )
    if captured:
        # The rows as ``capture`` and ``finish_operation`` left them in memory: the pending amount counted
        # under the pending key, nothing in flight. One UPDATE, no value differing from row to row.
        Payment.objects.filter(pk__in=list(captured), pending_operation=Operation.CAPTURE).update(
            status=S.DEPOSITED,
            captured_amount=F("captured_amount") + F("pending_amount"),
            capture_key=F("pending_key"),
            captured_at=now,
            updated_at=now,
            **NOT_IN_FLIGHT,
        )
    if refused:
        Payment.objects.filter(pk__in=refused).update(updated_at=now, **NOT_IN_FLIGHT)
    PaymentTransaction.objects.bulk_create(logs)
    return captured
