"""Cancelling an order while none of its items is released, and undoing its payment."""

from django_fsm import can_proceed

from commerce.errors import InvalidTransition
from commerce.notifications import notify
from commerce.retry import atomic_with_retry
from fulfillment.inventory_systems import inventory_system_for
from orders.events import order_event_record
from orders.models import PRE_RELEASE, Order, OrderEvent
from orders.services.common import _items, _locked, _save_inventory, _transition, logger
from payments import services as payments
from payments.errors import PaymentError
from payments.selectors import payment_current
from spending_limits import services as limits

# Cancellation.


def _cancel_locked(
    order: Order, *, acting_user=None, actor_name: str = "", reason: str = "", notification: str = "order_cancelled"
) -> None:
    """Cancel a locked order: stock and promises back, limits credited, items and order X, e-mails."""
    if not can_proceed(order.cancel):
        why = (
            "some items are already released to fulfillment"
            if order.status in PRE_RELEASE
            else f"it is {order.get_status_display().lower()}"
        )
        raise InvalidTransition(
            f"Order {order.number} cannot be cancelled: {why}.",
            details={"order": order.number, "status": order.status},
        )
    items = _items(order)
    # Lock order: spending-limit holders before stock rows (docs/locking.md), as placing charges them.
    limits.spending_limits_credit(order=order, reason=reason or "Order cancelled")
    inventory_system_for(order.store).deallocate(items=items)
    _save_inventory(items)
    _transition(
        order,
        "cancel",
        acting_user=acting_user,
        actor_name=actor_name,
        reason=reason,
        extra={"notification": notification},
        method_kwargs={"reason": reason},
    )
    context = {"reason": reason, "job_name": actor_name}
    notify(notification, order_id=order.pk, context=context)
    if notification != "order_cancelled":
        notify("order_cancelled", order_id=order.pk, context=context)


def _cancel_payment(order: Order, *, acting_user=None, actor_name: str = "") -> None:
    """Void or refund the payment of a cancelled order; a failure is recorded for a person to retry."""
    payment = payment_current(order=order)
    if payment is None:
        return
    try:
        payments.payment_cancel(payment=payment, reason=f"Order {order.number} cancelled")
    except PaymentError as exc:
        logger.warning("Voiding the payment of cancelled order %s failed: %s", order.number, exc)
        order_event_record(
            order=order,
            kind=OrderEvent.Kind.PAYMENT,
            message="Voiding the payment failed; retry from the payment page",
            reason=str(exc),
            acting_user=acting_user,
            actor_name=actor_name,
        )


def order_cancel(
    *, order: Order, acting_user=None, actor_name: str = "", reason: str = "", notification: str = "order_cancelled"
) -> Order:
    """Cancel an order while none of its items is released; void or refund its payment."""
    order = _cancel(
        order_id=order.pk, acting_user=acting_user, actor_name=actor_name, reason=reason, notification=notification
    )
    _cancel_payment(order, acting_user=acting_user, actor_name=actor_name)
    return order


@atomic_with_retry
def _cancel(*, order_id: int, acting_user, actor_name: str, reason: str, notification: str) -> Order:
    order = _locked(order_id)
    _cancel_locked(order, acting_user=acting_user, actor_name=actor_name, reason=reason, notification=notification)
    return order
