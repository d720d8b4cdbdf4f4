"""The order event log: every transition and notable step, with who did it and why."""

from collections.abc import Iterable
from typing import Any

from orders.models import Order, OrderEvent


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
    return OrderEvent.objects.create(
        order=order,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        message=message[:255],
        reason=reason,
        extra=extra or {},
        **actor_fields(acting_user, actor_name),
    )


def order_events_record_bulk(events: Iterable[OrderEvent]) -> list[OrderEvent]:
    """Write many prepared event rows in one statement (jobs and hot paths)."""
    return OrderEvent.objects.bulk_create(list(events))
