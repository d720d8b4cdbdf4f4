"""Capturing many payments' deposits together: the shape of ``payment_capture``, a chunk at a time.

``payment_capture`` locks a payment, marks the capture in flight and commits; calls the gateway; then
locks it again and records the answer. Here each of those steps covers a chunk of payments with one
statement per table: ``payments_capture_mark`` locks and marks them in one transaction (the state is
written before the gateway is called, as alone), ``payments_capture_send`` calls the gateway for each,
outside any transaction, and ``payments_capture_record``, inside the caller's transaction, records every
answer on the payments and in their log as ``_finish_operation`` does, and says which captures failed
with the error ``payment_capture`` would raise. A crash or a rolled-back record leaves the captures
marked in flight with their keys: a retry or ``payment_sync`` sends each again and the gateway repeats
its first answer.
"""

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django_fsm import can_proceed

from commerce.reports import Note
from payments.errors import PaymentError
from payments.gateways.base import GatewayResult, Outcome, ensure_no_transaction
from payments.models import Operation, Payment, PaymentTransaction
from payments.refunds import payment_amount_to_deposit
from payments.services.common import (
    UNANSWERED,
    K,
    S,
    _event_note,
    _fmt,
    _log_entry,
    _money,
    _raise_unless_done,
    _send,
    logger,
)

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


@dataclass
class CaptureRecord:
    """What ``payments_capture_record`` recorded: amounts now captured, and the captures that failed."""

    captured: dict[int, Decimal] = field(default_factory=dict)  # payment id -> its captured amount
    failed: dict[int, Exception] = field(default_factory=dict)  # payment id -> what payment_capture raises


def payments_capture_record(*, answers: Sequence[CaptureAnswer], notes: list[Note]) -> CaptureRecord:
    """Record the gateway's answers in the caller's transaction, as ``_finish_operation`` does one at a time.

    Locks the payments (by pk, one statement); counts each confirmed capture still awaited under its
    key, ends each capture answered otherwise (a timeout stays in flight, for a retry or payment_sync),
    and logs every answer (one UPDATE per kind of change, one INSERT). The payments' own events are
    appended to ``notes``, for the caller to write with its own. A capture that did not succeed is in
    ``failed`` with the error ``payment_capture`` raises for it.
    """
    record = CaptureRecord()
    if not answers:
        return record
    locked = {
        payment.pk: payment
        for payment in Payment.objects.select_for_update(of=("self",), no_key=True)
        .select_related("currency")
        .filter(pk__in=[answer.payment.pk for answer in answers])
        .order_by("pk")
    }
    now = timezone.now()
    ended: list[int] = []  # awaited, answered, nothing counted: no longer in flight
    touched: list[int] = []  # awaited, no answer: still in flight
    logs: list[PaymentTransaction] = []
    for answer in answers:
        payment, result = locked[answer.payment.pk], answer.result
        key, amount = answer.payment.pending_key, answer.payment.pending_amount
        awaited = payment.pending_operation == Operation.CAPTURE and payment.pending_key == key
        applied = awaited and result.outcome == Outcome.SUCCESS and can_proceed(payment.capture)
        if applied:
            payment.capture(amount=amount, idempotency_key=key)
            notes.append(_event_note(payment, f"Payment {payment.pk} captured: {_fmt(amount, payment)}."))
            record.captured[payment.pk] = payment.captured_amount
        elif awaited and result.outcome == Outcome.SUCCESS:
            logger.error("Payment %s: the gateway confirmed a capture the payment can no longer take.", payment.pk)
            ended.append(payment.pk)
        elif awaited:
            (touched if result.outcome in UNANSWERED else ended).append(payment.pk)
        if result.outcome != Outcome.SUCCESS:
            logger.warning("Payment %s %s %s: %s", payment.pk, Operation.CAPTURE, result.outcome, result.error)
            try:
                _raise_unless_done(result, "capture")
            except PaymentError as exc:
                record.failed[payment.pk] = exc
        logs.append(
            _log_entry(
                payment,
                kind=K.CAPTURE,
                key=key,
                amount=amount,
                result=result,
                latency_ms=answer.latency_ms,
                applied=applied,
            )
        )
    if record.captured:
        # The rows as ``capture`` and ``finish_operation`` left them in memory: the pending amount counted
        # under the pending key, nothing in flight. One UPDATE, no value differing from row to row.
        Payment.objects.filter(pk__in=list(record.captured), pending_operation=Operation.CAPTURE).update(
            status=S.DEPOSITED,
            captured_amount=F("captured_amount") + F("pending_amount"),
            capture_key=F("pending_key"),
            captured_at=now,
            updated_at=now,
            **NOT_IN_FLIGHT,
        )
    if ended:
        Payment.objects.filter(pk__in=ended).update(updated_at=now, **NOT_IN_FLIGHT)
    if touched:
        Payment.objects.filter(pk__in=touched).update(updated_at=now)
    PaymentTransaction.objects.bulk_create(logs)
    return record
