"""Delivering: one POST per attempt, outside any transaction; retries with exponential backoff.

An attempt that gets no 2xx answer (an error status, a timeout, a refused connection) is logged and
the next one is scheduled with django-q2 after 1.5, 4.5, 13.5 and 40.5 minutes: five attempts over
about an hour, then the delivery is failed. Staff can redeliver any delivery from the admin.
Delivery is at least once; receivers dedupe by the event ``id``.
"""

import json
import logging
import time
import urllib.error
import urllib.request
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from commerce.webhooks.models import WebhookAttempt, WebhookDelivery
from commerce.webhooks.signing import SIGNATURE_HEADER, signature_header

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
FIRST_RETRY_SECONDS = 90
BACKOFF_FACTOR = 3
TIMEOUT_SECONDS = 10
# While an attempt is under way its delivery is not due again (a worker dying mid-attempt is retried).
LEASE = timedelta(seconds=TIMEOUT_SECONDS * 3)
USER_AGENT = "commerce-webhooks/1"


def retry_delay(attempts: int) -> timedelta:
    """The wait after failed attempt number ``attempts`` (1-based)."""
    return timedelta(seconds=FIRST_RETRY_SECONDS * BACKOFF_FACTOR ** (attempts - 1))


def _claim(delivery_id: int, *, force: bool) -> tuple[WebhookDelivery, int] | None:
    """Take the delivery for one attempt; None when it is delivered, exhausted, not due or taken."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("event", "endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return None
        if not force:
            if delivery.status in (WebhookDelivery.Status.SUCCEEDED, WebhookDelivery.Status.FAILED):
                return None
            # The first attempt goes at once; a retry (or a second copy of a task) waits for its time.
            if delivery.attempts and delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
                return None
        delivery.attempts += 1
        delivery.status = WebhookDelivery.Status.PENDING
        delivery.next_attempt_at = now + LEASE
        delivery.save(update_fields=["attempts", "status", "next_attempt_at"])
    return delivery, delivery.attempts


def _post(delivery: WebhookDelivery) -> tuple[int | None, str, str, int]:
    """POST the signed envelope; (status code or None, error, response text, milliseconds)."""
    body = json.dumps(delivery.event.envelope(), separators=(",", ":"), sort_keys=True).encode()
    request = urllib.request.Request(  # noqa: S310  (the URL is an http(s) URLField)
        delivery.endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Webhook-Id": delivery.event.event_id,
            "X-Webhook-Event": delivery.event.type,
            SIGNATURE_HEADER: signature_header(secret=delivery.endpoint.secret, body=body),
        },
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            code, text, error = response.status, response.read(1000).decode(errors="replace"), ""
    except urllib.error.HTTPError as exc:
        code, text, error = exc.code, exc.read(1000).decode(errors="replace"), ""
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        code, text, error = None, "", str(getattr(exc, "reason", exc))[:500] or exc.__class__.__name__
    return code, error, text, int((time.monotonic() - started) * 1000)


def webhook_deliver(delivery_id: int, force: bool = False) -> str:
    """The django-q2 task: one attempt of a delivery. Returns its status afterwards."""
    claimed = _claim(delivery_id, force=force)
    if claimed is None:
        return "skipped"
    delivery, number = claimed
    requested_at = timezone.now()
    code, error, text, duration = _post(delivery)
    succeeded = code is not None and 200 <= code < 300
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=number,
            requested_at=requested_at,
            duration_ms=duration,
            status_code=code,
            error=error,
            response_body=text,
        )
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        delivery.last_status_code = code
        if succeeded:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delivery.status = WebhookDelivery.Status.PENDING
            delivery.next_attempt_at = timezone.now() + retry_delay(delivery.attempts)
        delivery.save(update_fields=["last_status_code", "status", "delivered_at", "next_attempt_at"])
        if delivery.status == WebhookDelivery.Status.PENDING:
            when, attempts = delivery.next_attempt_at, delivery.attempts
            transaction.on_commit(lambda: _schedule_retry(delivery.pk, attempts, when))
    if not succeeded:
        logger.warning("Webhook delivery %s attempt %s failed: %s", delivery.pk, number, code or error)
    return delivery.status


def _schedule_retry(delivery_id: int, attempts: int, when) -> None:
    from django_q.models import Schedule
    from django_q.tasks import schedule

    schedule(
        "commerce.webhooks.delivery.webhook_deliver",
        delivery_id,
        name=f"webhook:{delivery_id}:{attempts + 1}",
        schedule_type=Schedule.ONCE,
        repeats=-1,
        next_run=when,
    )


def webhook_redeliver(*, delivery: WebhookDelivery) -> None:
    """Send a delivery again now (staff's redeliver button), whatever its status; a new attempt is logged."""
    from django_q.tasks import async_task

    name = f"webhook:{delivery.pk}:redeliver"
    transaction.on_commit(
        lambda: async_task("commerce.webhooks.delivery.webhook_deliver", delivery.pk, True, task_name=name)
    )


def webhook_deliver_due(*, limit: int = 500) -> int:
    """Attempt every pending delivery that is due (a lost retry, a worker that died mid-attempt)."""
    due = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
    ids = list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
    for delivery_id in ids:
        webhook_deliver(delivery_id)
    return len(ids)
