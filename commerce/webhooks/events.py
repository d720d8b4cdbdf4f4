"""Emitting events: ``emit(event_type, store, data)`` inside the transaction that made the change.

An event is written with one delivery per active endpoint of the store subscribed to its type; the
deliveries are handed to django-q2 when the transaction commits, so a rolled-back change sends
nothing. A store none of whose endpoints wants the event costs no statement.
"""

from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from commerce.models import Store
from commerce.stores import default_store_cache_clear
from commerce.webhooks.models import EventType, WebhookDelivery, WebhookEndpoint, WebhookEvent

LOST_TASK_GRACE = timedelta(minutes=5)
# A store given by id: its code and subscriptions are cached this long (cleared when endpoints change).
STORE_CACHE_SECONDS = 60


def _cache_key(store_id: int) -> str:
    return f"webhooks:store:{store_id}"


def _store_by_id(store_id: int) -> Store:
    values = cache.get(_cache_key(store_id))
    if values is None:
        values = Store.objects.values("pk", "code", "webhook_event_types").get(pk=store_id)
        cache.set(_cache_key(store_id), values, STORE_CACHE_SECONDS)
    return Store(**values)


def store_subscriptions_refresh(*, store_id: int) -> list[str]:
    """Write on the store the event types its active endpoints want, so emitting reads no endpoint when
    none wants the event (the store row is already loaded by whoever changes an order)."""
    wanted = set()
    for types in WebhookEndpoint.objects.filter(store_id=store_id, active=True).values_list("event_types", flat=True):
        wanted.update(types)
    Store.objects.filter(pk=store_id).update(webhook_event_types=sorted(wanted))
    cache.delete(_cache_key(store_id))
    default_store_cache_clear()
    return sorted(wanted)


@receiver([post_save, post_delete], sender=WebhookEndpoint, dispatch_uid="webhooks.endpoints_changed")
def _endpoints_changed(sender, instance: WebhookEndpoint, **kwargs) -> None:
    store_subscriptions_refresh(store_id=instance.store_id)


def emit(event_type: str, store: Store | int, data: dict[str, Any]) -> WebhookEvent | None:
    """Record an event for the store's subscribed endpoints; delivered after the transaction commits.

    ``store`` is a Store (its subscriptions are read from the row as loaded) or a store id. Returns the
    event, or None when no endpoint wants it (nothing is written then).
    """
    if event_type not in EventType.values:
        raise ValueError(f"Unknown webhook event type {event_type!r}.")
    if not isinstance(store, Store):
        store = _store_by_id(store)
    if event_type not in store.webhook_event_types:
        return None
    endpoint_ids = [
        pk
        for pk, types in WebhookEndpoint.objects.filter(store=store, active=True).values_list("pk", "event_types")
        if event_type in types
    ]
    if not endpoint_ids:
        return None
    event = WebhookEvent.objects.create(type=event_type, store=store, data={"store": store.code, **data})
    # Due for the sweeper a little later, should the task enqueued on commit be lost.
    due = event.created_at + LOST_TASK_GRACE
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(event=event, endpoint_id=endpoint_id, next_attempt_at=due) for endpoint_id in endpoint_ids
    )
    delivery_ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: enqueue_deliveries(delivery_ids))
    return event


def enqueue_deliveries(delivery_ids: list[int]) -> None:
    from django_q.tasks import async_task

    for delivery_id in delivery_ids:
        async_task("commerce.webhooks.delivery.webhook_deliver", delivery_id, task_name=f"webhook:{delivery_id}")
