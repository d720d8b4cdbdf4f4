"""The order e-mails: their kinds and audiences, and how a notification about an order finds its rows."""

from commerce.notifications import (
    Audience,
    NotificationSubject,
    notification_subject_register,
    notifications_register,
)
from orders.models import Order

ORDER_NOTIFICATIONS: dict[str, Audience] = {
    "order_received": Audience.CUSTOMER,
    "order_backordered": Audience.CUSTOMER,
    "order_shipped": Audience.CUSTOMER,
    "order_cancelled": Audience.CUSTOMER,
    "payment_declined": Audience.CUSTOMER,
    "change_refused": Audience.CUSTOMER,
    "approval_rejected": Audience.CUSTOMER,
    "return_approved": Audience.CUSTOMER,
    "return_denied": Audience.CUSTOMER,
    "return_received": Audience.CUSTOMER,
    "return_credited": Audience.CUSTOMER,
    "return_change_refused": Audience.CUSTOMER,
    "return_pending_approval": Audience.MERCHANT,
    "payment_review": Audience.MERCHANT,
    "payment_declined_after_release": Audience.MERCHANT,
    "order_cancelled_by_job": Audience.MERCHANT,
    "approval_requested": Audience.APPROVERS,
}


def order_recipients(order: Order, audience: Audience) -> list[str]:
    """The customer's address, or the organization's approvers' (the kernel reaches the merchant)."""
    if audience == Audience.APPROVERS:
        if order.organization_id is None:
            return []
        return sorted({u.email for u in order.organization.approvers.all() if u.email})
    email = order.customer.user.email
    return [email] if email else []


def order_subject(order_id: int) -> NotificationSubject | None:
    order = (
        Order.objects.select_related("store", "customer__user", "organization__approval_currency", "currency")
        .prefetch_related("items")
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        return None
    return NotificationSubject(
        store=order.store,
        context={"order": order},
        recipients=lambda audience: order_recipients(order, audience),
    )


def register() -> None:
    notifications_register(ORDER_NOTIFICATIONS)
    notification_subject_register("order_id", order_subject, label="order")
