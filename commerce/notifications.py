"""E-mail notifications: enqueued as django-q2 tasks when the transaction commits.

Each kind names its audience and its templates: ``templates/emails/<kind>_subject.txt``,
``<kind>.txt`` and ``<kind>.html``. Senders pass ids, never instances; the task loads fresh rows.

The kernel knows its own kind (``job_failures``) and how to reach the merchant. Apps register their
kinds (``notifications_register``) and, for the id a payload carries, a loader that finds what the
e-mail is about, its store and its recipients (``notification_subject_register``): orders registers
``order_id``.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django_q.tasks import async_task

from commerce.models import Store

logger = logging.getLogger(__name__)


class Audience(StrEnum):
    CUSTOMER = "customer"
    MERCHANT = "merchant"
    APPROVERS = "approvers"


@dataclass(frozen=True)
class NotificationSubject:
    """What a notification is about: its store, the templates' context, its recipients per audience."""

    store: Store | None
    context: dict[str, Any] = field(default_factory=dict)
    recipients: Callable[[Audience], list[str]] = lambda audience: []


SubjectLoader = Callable[[Any], NotificationSubject | None]

NOTIFICATIONS: dict[str, Audience] = {
    "job_failures": Audience.MERCHANT,
}
# The payload key (``order_id``) and the loader of its subject; None when the row is gone.
SUBJECT_LOADERS: dict[str, tuple[str, SubjectLoader]] = {}


def notifications_register(kinds: dict[str, Audience]) -> None:
    """Add an app's notification kinds and their audiences."""
    for kind, audience in kinds.items():
        if NOTIFICATIONS.get(kind, audience) != audience:
            raise ValueError(f"Notification {kind!r} is registered with another audience.")
        NOTIFICATIONS[kind] = Audience(audience)


def notification_subject_register(key: str, loader: SubjectLoader, *, label: str) -> None:
    """Let payloads carrying ``key`` be about a row ``loader`` finds (``label`` names it in the log)."""
    SUBJECT_LOADERS[key] = (label, loader)


def notify(kind: str, *, order_id: int | None = None, context: dict[str, Any] | None = None) -> None:
    """Send notification ``kind`` once the current transaction commits (at once outside one).

    With the ORM broker the task row is written in the current transaction, so it is queued exactly
    when the change commits, with no commit of its own and nothing lost to a crash in between; a
    worker cannot see it before. Another broker (Redis) or synchronous tasks get it after the commit.
    """
    if kind not in NOTIFICATIONS:
        raise ValueError(f"Unknown notification {kind!r}.")
    payload = {"order_id": order_id, "context": context or {}}
    if _queued_in_the_database():
        _enqueue(kind, payload)
    else:
        transaction.on_commit(lambda: _enqueue(kind, payload))


def _queued_in_the_database() -> bool:
    return "orm" in settings.Q_CLUSTER and not settings.Q_CLUSTER.get("sync")


def _enqueue(kind: str, payload: dict[str, Any]) -> None:
    async_task("commerce.notifications.send_notification", kind, payload, task_name=f"email:{kind}")


def _recipients(audience: Audience, subject: NotificationSubject | None, store) -> list[str]:
    if audience == Audience.MERCHANT:
        emails = list(settings.MERCHANT_EMAILS)
        if store is not None and store.email:
            emails.append(store.email)
        return sorted(set(emails))
    if subject is None:
        return []
    return subject.recipients(audience)


def _subject(kind: str, payload: dict[str, Any]) -> tuple[bool, NotificationSubject | None]:
    """The subject the payload names (found: False when it is gone), or None for a subject-less one."""
    for key, (label, loader) in SUBJECT_LOADERS.items():
        if payload.get(key):
            subject = loader(payload[key])
            if subject is None:
                logger.warning("Notification %s: %s %s is gone", kind, label, payload[key])
                return False, None
            return True, subject
    return True, None


def send_notification(kind: str, payload: dict[str, Any]) -> int:
    """Render and send one notification; the django-q2 task body. Returns the messages sent."""
    found, subject = _subject(kind, payload)
    if not found:
        return 0
    # Subject-less notifications (job failures) go to and speak for the default store.
    store = subject.store if subject is not None else Store.objects.filter(is_default=True).first()
    recipients = _recipients(NOTIFICATIONS[kind], subject, store)
    if not recipients:
        return 0
    context = {"order": None, **(subject.context if subject else {}), "store": store, **payload.get("context", {})}
    subject_line = " ".join(render_to_string(f"emails/{kind}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject_line,
        body=render_to_string(f"emails/{kind}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
    )
    message.attach_alternative(render_to_string(f"emails/{kind}.html", context), "text/html")
    return message.send()
