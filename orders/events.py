"""The order event log: every transition and notable step, with who did it and why."""

from collections.abc import Iterable
from typing import Any

from commerce.webhooks.events import emit
from commerce.webhooks.models import EventType
from orders.models import Order, OrderEvent, OrderStatus


def actor_fields(acting_user=None, actor_name: str = "") -> dict[str, Any]:
    """The actor of an event: a user, or the name of a job or system part."""
    if acting_user is not None and getattr(acting_user, "is_authenticated", False):
        return {"actor": acting_user, "actor_name": actor_name or acting_user.get_username()}
    return {"actor": None, "actor_name": actor_name or "system"}


def order_event_record(
    *,
    order: Order,
    from_status: str = "",
    to_status: str = "",
    kind: str = OrderEvent.Kind.STATUS,
    message: str = "",
    reason: str = "",
    acting_user=None,
    actor_name: str = "",
    extra: dict[str, Any] | None = None,
) -> OrderEvent:
    """Write one event row; call it inside the transaction that made the change."""
    event = OrderEvent.objects.create(
        order=order,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        message=message[:255],
        reason=reason,
        extra=extra or {},
        **actor_fields(acting_user, actor_name),
    )
    _emit_status_changes([event])
    return event


def order_events_record_bulk(events: Iterable[OrderEvent]) -> list[OrderEvent]:
    """Write many prepared event rows in one statement (jobs and hot paths)."""
    created = OrderEvent.objects.bulk_create(list(events))
    _emit_status_changes(created)
    return created


def order_store(order: Order):
    """The order's store as loaded with it, else its id (the webhooks look the row up)."""
    return order._state.fields_cache.get("store") or order.store_id


def _emit_status_changes(events: Iterable[OrderEvent]) -> None:
    """Every status change is an ``order.status_changed`` webhook, sent after the transaction commits."""
    for event in events:
        if event.to_status and event.to_status != event.from_status:
            order = event.order
            emit(
                EventType.ORDER_STATUS_CHANGED,
                order_store(order),
                {
                    "order": order.number,
                    "from_status": event.from_status,
                    "to_status": event.to_status,
                    "status_display": OrderStatus(event.to_status).label,
                    "reason": event.reason,
                    "actor": event.actor_name,
                    "changed_at": event.created_at.isoformat(),
                },
            )


def order_shipment_emit(
    *, order: Order, carrier: str, tracking_number: str, release: str, items: list[dict[str, Any]], complete: bool
) -> None:
    """An ``order.shipped`` webhook for a package that left the building, with its tracking."""
    emit(
        EventType.ORDER_SHIPPED,
        order_store(order),
        {
            "order": order.number,
            "status": order.status,
            "complete": complete,
            "release": release,
            "carrier": carrier,
            "tracking_number": tracking_number,
            "items": items,
        },
    )
