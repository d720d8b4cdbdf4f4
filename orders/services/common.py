"""What every order service shares: locking an order with its items, a transition with its event."""

import logging
from collections import defaultdict
from collections.abc import Sequence

from django_fsm import ConcurrentTransition, can_proceed

from commerce.errors import InvalidTransition, NotFound
from orders.events import order_event_record
from orders.models import PRE_RELEASE, InventoryStatus, Order, OrderItem, OrderStatus
from payments.payment_systems import payment_system_for

logger = logging.getLogger("orders.services")

S = OrderStatus
SUCCEEDED_PAYMENT_STATUSES = ("authorized", "review", "deposited", "partially_refunded")


# Small helpers: locking, transitions with their event, item statuses.


def _locked(order_id: int, *, skip_locked: bool = False) -> Order | None:
    """Lock and load an order with its items; None when ``skip_locked`` and another worker holds it."""
    # NO KEY UPDATE: rows written meanwhile that only refer to the order (events, payments) do not wait.
    queryset = Order.objects.select_for_update(skip_locked=skip_locked, of=("self",), no_key=True).select_related(
        "store", "currency"
    )
    order = queryset.filter(pk=order_id).first()
    if order is None:
        if skip_locked:
            return None
        raise NotFound("Order not found.")
    # Items are locked too: a release or a shipment changes them under the order's lock only. Only the
    # items: locking the joined product rows would block every placement's foreign-key check on them.
    items = (
        OrderItem.objects.select_for_update(of=("self",), no_key=True)
        .filter(order=order)
        .select_related("product")
        .order_by("pk")
    )
    _cache_items(order, list(items))
    return order


def _cache_items(order: Order, items: list[OrderItem]) -> None:
    """Keep the loaded items on the order, so transitions' conditions and callers share one copy."""
    order._prefetched_objects_cache = {"items": items}


def _items(order: Order) -> list[OrderItem]:
    return list(order.items.all())


def _transition(
    order: Order,
    method: str,
    *,
    acting_user=None,
    actor_name: str = "",
    reason: str = "",
    extra: dict | None = None,
    method_kwargs: dict | None = None,
) -> None:
    """Apply a transition of the locked order, save it, make its items follow and write the event."""
    bound = getattr(order, method)
    if not can_proceed(bound):
        raise InvalidTransition(
            f"Order {order.number} cannot {method.replace('_', ' ')} while {order.get_status_display().lower()}.",
            details={"order": order.number, "status": order.status},
        )
    from_status = order.status
    bound(**(method_kwargs or {}))
    order.save()
    items = _items(order)
    following = [item for item in items if item.status in PRE_RELEASE and order.status in PRE_RELEASE]
    for item in following:
        if item.status != order.status:
            item.follow_order(order.status)
    if order.status == S.CANCELLED:
        for item in items:
            if can_proceed(item.cancel):
                item.cancel()
        following = items
    if following:
        OrderItem.objects.bulk_update(following, ["status", "inventory_status", "estimated_available_at"])
    order_event_record(
        order=order,
        from_status=from_status,
        to_status=order.status,
        acting_user=acting_user,
        actor_name=actor_name,
        reason=reason,
        extra=extra,
    )


def _save_inventory(items: Sequence[OrderItem]) -> None:
    OrderItem.objects.bulk_update(list(items), ["inventory_status", "estimated_available_at"])


def _inventory_target(order: Order) -> str:
    """C when every item is allocated from stock (or already shipped), B when any is backordered."""
    settled = (InventoryStatus.ALLOCATED, InventoryStatus.FULFILLED)
    if all(item.inventory_status in settled or item.status == S.CANCELLED for item in _items(order)):
        return "authorize"
    return "backorder"


def _release_items(items: Sequence[OrderItem]) -> None:
    """Move the items to released: their transitions in memory, one UPDATE per status they leave.

    The items are row-locked with their order; the status condition still refuses a stale copy.
    """
    by_status: dict[str, list[int]] = defaultdict(list)
    for item in items:
        by_status[item.status].append(item.pk)
        item.release()
    for status, ids in by_status.items():
        moved = OrderItem.objects.filter(pk__in=ids, status=status, inventory_status=InventoryStatus.ALLOCATED).update(
            status=OrderStatus.RELEASED
        )
        if moved != len(ids):
            raise ConcurrentTransition(f"{len(ids) - moved} of the items changed before their release.")


def _fulfill_without_shipment(order: Order, *, acting_user=None, actor_name: str = "") -> None:
    """C or R → S for a locked order of a store without inventory: nothing to pick or ship.

    Under payment rules the deposit of the finalize event follows once this commits.
    """
    items = [item for item in _items(order) if can_proceed(item.fulfill_without_shipment)]
    for item in items:
        item.fulfill_without_shipment()
        item.mark_fulfilled()
        item.quantity_shipped = item.quantity
    OrderItem.objects.bulk_update(items, ["status", "inventory_status", "quantity_shipped"])
    _transition(
        order,
        "fulfill_without_shipment",
        acting_user=acting_user,
        actor_name=actor_name,
        reason="Fulfilled: no goods to ship",
    )
    if payment_system_for(order.store).deposits_per_release:
        from orders.flow_variants import order_finalize_payment_on_commit

        order_finalize_payment_on_commit(order_id=order.pk)
