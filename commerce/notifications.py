"""E-mail notifications: enqueued as django-q2 tasks when the transaction commits.

Each kind names its audience and its templates: ``templates/emails/<kind>_subject.txt``,
``<kind>.txt`` and ``<kind>.html``. Senders pass ids, never instances; the task loads fresh rows.
"""

import logging
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string

from commerce.models import Store

logger = logging.getLogger(__name__)


class Audience(StrEnum):
    CUSTOMER = "customer"
    MERCHANT = "merchant"
    APPROVERS = "approvers"


NOTIFICATIONS: dict[str, Audience] = {
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
    "job_failures": Audience.MERCHANT,
    "approval_requested": Audience.APPROVERS,
}


def notify(kind: str, *, order_id: int | None = None, context: dict[str, Any] | None = None) -> None:
    """Send notification ``kind`` after the current transaction commits (at once outside one)."""
    if kind not in NOTIFICATIONS:
        raise ValueError(f"Unknown notification {kind!r}.")
    payload = {"order_id": order_id, "context": context or {}}
    transaction.on_commit(lambda: _enqueue(kind, payload))


def _enqueue(kind: str, payload: dict[str, Any]) -> None:
    from django_q.tasks import async_task

    async_task("commerce.notifications.send_notification", kind, payload, task_name=f"email:{kind}")


def _recipients(audience: Audience, order, store) -> list[str]:
    if audience == Audience.MERCHANT:
        emails = list(settings.MERCHANT_EMAILS)
        if store is not None and store.email:
            emails.append(store.email)
        return sorted(set(emails))
    if order is None:
        return []
    if audience == Audience.APPROVERS:
        if order.organization_id is None:
            return []
        return sorted({u.email for u in order.organization.approvers.all() if u.email})
    email = order.customer.user.email
    return [email] if email else []


def send_notification(kind: str, payload: dict[str, Any]) -> int:
    """Render and send one notification; the django-q2 task body. Returns the messages sent."""
    from orders.models import Order

    order = None
    if payload.get("order_id"):
        order = (
            Order.objects.select_related("store", "customer__user", "organization__approval_currency", "currency")
            .prefetch_related("items")
            .filter(pk=payload["order_id"])
            .first()
        )
        if order is None:
            logger.warning("Notification %s: order %s is gone", kind, payload["order_id"])
            return 0
    # Order-less notifications (job failures) go to and speak for the default store.
    store = order.store if order is not None else Store.objects.filter(is_default=True).first()
    recipients = _recipients(NOTIFICATIONS[kind], order, store)
    if not recipients:
        return 0
    context = {"order": order, "store": store, **payload.get("context", {})}
    subject = " ".join(render_to_string(f"emails/{kind}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{kind}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
    )
    message.attach_alternative(render_to_string(f"emails/{kind}.html", context), "text/html")
    return message.send()
