"""Idempotent placement: what a retry with the same Idempotency-Key answers.

The first answer (201 with the order, or 402 when the payment was declined) is stored on the order
and a retry gets exactly that status and body. A retry racing the first request, before the answer is
stored, gets the same status worked out from the order and the order as it is.
"""

from typing import Any

from commerce.api.exceptions import error_body
from orders.models import Order, OrderStatus
from payments.gateways.base import Outcome
from payments.models import PaymentTransaction, TransactionKind


def placement_response_record(*, order_number: str, customer, status_code: int, body: dict[str, Any]) -> None:
    """Remember the answer of a keyed placement; the order's own fields and timestamps stay as they are."""
    Order.objects.filter(number=order_number, customer=customer).exclude(idempotency_key="").update(
        placement_response={"status": status_code, "body": body}
    )


def placement_response_replay(*, order: Order, current_body) -> tuple[int, dict[str, Any]]:
    """The status and body to answer a retry of the placement that created ``order``.

    ``current_body`` builds the order's representation when no answer was stored yet.
    """
    stored = Order.objects.filter(pk=order.pk).values_list("placement_response", flat=True).first()
    if stored:
        return stored["status"], stored["body"]
    declined = PaymentTransaction.objects.filter(
        payment__order=order, kind=TransactionKind.AUTHORIZE, outcome=Outcome.DECLINED
    )
    if order.status == OrderStatus.CANCELLED and declined.exists():
        return 402, error_body(
            "payment_declined", "The payment was declined.", {"order": order.number, "status": order.status}
        )
    return 201, current_body()
