"""Reads of the payments app."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum

from payments.models import Operation, Payment, PaymentStatus, TransactionKind

ZERO = Decimal("0")


def payment_current(*, order) -> Payment | None:
    """Return the order's payment of record, or None before checkout made one."""
    return Payment.objects.select_related("currency").filter(order=order, is_current=True).first()


def payments_expiring(*, before: datetime) -> QuerySet[Payment]:
    """Current authorized payments whose authorization lapses before ``before``, soonest first."""
    return (
        Payment.objects.filter(status=PaymentStatus.AUTHORIZED, is_current=True, expires_at__lt=before)
        .select_related("order", "currency")
        .order_by("expires_at", "pk")
    )


def payments_in_flight(*, started_before: datetime) -> QuerySet[Payment]:
    """Payments still waiting for a gateway's answer since before a time (for ``payment_sync``)."""
    return (
        Payment.objects.filter(
            Q(status=PaymentStatus.PENDING, updated_at__lt=started_before)
            | (~Q(pending_operation=Operation.NONE) & Q(pending_since__lt=started_before))
        )
        .select_related("order", "currency")
        .order_by("pk")
    )


@dataclass(frozen=True)
class PaymentLedger:
    """What the recorded gateway answers add up to."""

    captured: Decimal
    refunded: Decimal

    def matches(self, payment: Payment) -> bool:
        return payment.captured_amount == self.captured and payment.refunded_amount == self.refunded


def payment_ledger(*, payment: Payment) -> PaymentLedger:
    """Sum the captures and refunds the gateway confirmed and the payment counted."""
    totals = payment.transactions.filter(applied=True).aggregate(
        captured=Sum("amount", filter=Q(kind=TransactionKind.CAPTURE)),
        refunded=Sum("amount", filter=Q(kind=TransactionKind.REFUND)),
    )
    return PaymentLedger(captured=totals["captured"] or ZERO, refunded=totals["refunded"] or ZERO)
