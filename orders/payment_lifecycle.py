"""Payment lifecycle rules of DESIGN section 16 that concern orders already released or shipped.

- A remote fulfillment failure takes the order's releases back (R → C); the next release checks the
  payment status at the gateway before releasing again.
- A reauthorization that needs review for a released or shipped order leaves the order as it is:
  its payment waits in the payment review queue, the release and deposit jobs skip it, and staff
  approve it (the next deposit run captures it) or decline it (the order joins the exceptions
  queue, with one e-mail to the merchant).
"""

from django.db import transaction
from django.utils import timezone

from commerce.errors import InvalidTransition
from commerce.notifications import notify
from fulfillment.release_failures import releases_cancel_for_order
from orders.events import order_event_record
from orders.models import Order, OrderEvent, OrderItem, OrderStatus
from orders.services.common import _items, _locked, _transition
from payments import services as payments
from payments.models import PaymentStatus
from payments.selectors import payment_current

S = OrderStatus
AFTER_RELEASE = (S.RELEASED, S.SHIPPED)


def order_fulfillment_failed(*, order: Order, acting_user=None, actor_name: str = "", reason: str = "") -> Order:
    """Take back the releases of a released order a remote fulfillment could not fill (R → C)."""
    with transaction.atomic():
        order = _locked(order.pk)
        if order.status != S.RELEASED:
            raise InvalidTransition(
                f"Order {order.number} is {order.get_status_display().lower()}; only a released order can "
                "come back from fulfillment.",
                details={"order": order.number, "status": order.status},
            )
        if any(item.status == S.SHIPPED for item in _items(order)):
            raise InvalidTransition(
                f"Order {order.number} is partly shipped; its releases cannot be taken back.",
                details={"order": order.number, "status": order.status},
            )
        releases = releases_cancel_for_order(order=order)
        items = [item for item in _items(order) if item.status == S.RELEASED]
        for item in items:
            item.return_from_fulfillment()
        OrderItem.objects.bulk_update(items, ["status"])
        order.payment_check_due = True
        numbers = [release.number for release in releases]
        _transition(
            order,
            "return_from_fulfillment",
            acting_user=acting_user,
            actor_name=actor_name,
            reason=reason or "Fulfillment failed",
            extra={"releases": numbers},
        )
    return order


def order_payment_in_review_after_release(*, order: Order) -> bool:
    """Tell whether a released or shipped order's payment waits for a person's review."""
    if order.status not in AFTER_RELEASE:
        return False
    payment = payment_current(order=order)
    return payment is not None and payment.status == PaymentStatus.REVIEW


def order_approve_payment_after_release(*, order: Order, acting_user=None, reason: str = "") -> Order:
    """Accept the reauthorization of a released or shipped order; the order keeps its status."""
    payment = payment_current(order=order)
    payments.payment_approve_review(payment=payment, acting_user=acting_user, reason=reason)
    order_event_record(
        order=order,
        kind=OrderEvent.Kind.PAYMENT,
        acting_user=acting_user,
        message="Reauthorization approved by staff",
        reason=reason,
    )
    return order


def order_decline_payment_after_release(*, order: Order, acting_user=None, reason: str = "") -> Order:
    """Decline the reauthorization of a released or shipped order: it goes to the exceptions queue."""
    payment = payment_current(order=order)
    payments.payment_decline_review(payment=payment, acting_user=acting_user, reason=reason or "Declined")
    with transaction.atomic():
        locked = Order.objects.select_for_update(no_key=True).get(pk=order.pk)
        first = locked.payment_review_declined_at is None
        if first:
            Order.objects.filter(pk=order.pk).update(payment_review_declined_at=timezone.now())
        order_event_record(
            order=locked,
            kind=OrderEvent.Kind.PAYMENT,
            acting_user=acting_user,
            message="Reauthorization declined by staff; the order needs a person",
            reason=reason,
        )
        if first:
            notify("payment_declined_after_release", order_id=order.pk, context={"reason": reason})
    return Order.objects.select_related("store", "currency").get(pk=order.pk)
