"""Releasing allocated order items to the fulfillment centers that hold their stock."""

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Max
from django_fsm import can_proceed

from commerce.errors import InvalidTransition
from commerce.models import ship_to_copy
from commerce.reports import Note
from fulfillment.models import Allocation, FulfillmentCenter, Release, ReleaseItem
from fulfillment.signals import order_noted
from orders.models import InventoryStatus, Order, OrderItem


def _stock_by_center(items: list[OrderItem]) -> dict[int, dict[int, int]]:
    """Per item, the quantity allocated from stock in each center; refuse items not fully allocated."""
    rows = Allocation.objects.filter(order_item__in=items).values_list(
        "order_item_id", "fulfillment_center_id", "kind", "quantity"
    )
    by_item: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    expected: set[int] = set()
    for item_id, center_id, kind, quantity in rows:
        if kind in (Allocation.Kind.STOCK, Allocation.Kind.ON_HAND):
            by_item[item_id][center_id] += quantity
        else:
            expected.add(item_id)
    for item in items:
        from_stock = sum(by_item[item.pk].values())
        if item.pk in expected or from_stock != item.quantity:
            raise InvalidTransition(
                f"Item {item.sku} of order {item.order.number} is not fully allocated from stock "
                f"({from_stock} of {item.quantity}); it cannot be released.",
                details={"order_item": item.pk, "allocated_from_stock": from_stock, "quantity": item.quantity},
            )
    return by_item


def releases_create(
    *, order: Order, items: Iterable[OrderItem], acting_user=None, actor_name: str = ""
) -> list[Release]:
    """Create one release per center holding the items' stock.

    Runs in the caller's transaction, which holds the order's row lock; the caller (the orders app)
    checks the payment and moves the items and the order to released itself.
    """
    items = sorted(items, key=lambda item: item.pk)
    if not items:
        return []
    for item in items:
        if item.order_id != order.pk:
            raise InvalidTransition(
                f"Item {item.sku} does not belong to order {order.number}.", details={"order_item": item.pk}
            )
        item.order = order
        if item.inventory_status != InventoryStatus.ALLOCATED or not can_proceed(item.release):
            raise InvalidTransition(
                f"Item {item.sku} of order {order.number} cannot be released while "
                f"{item.get_status_display().lower()} / {item.get_inventory_status_display().lower()}.",
                details={"order_item": item.pk, "status": item.status, "inventory_status": item.inventory_status},
            )
    with transaction.atomic():
        by_item = _stock_by_center(items)
        # The order holds the ship-to and the ship mode, so one release per center covers the key
        # (order, center, ship-to, ship mode); the snapshot keeps what was released.
        by_center: dict[int, list[tuple[OrderItem, int]]] = defaultdict(list)
        for item in items:
            for center_id, quantity in sorted(by_item[item.pk].items()):
                if quantity > 0:
                    by_center[center_id].append((item, quantity))
        centers = FulfillmentCenter.objects.in_bulk(list(by_center))
        last = Release.objects.filter(order=order).aggregate(last=Max("sequence"))["last"] or 0
        releases = []
        for offset, center_id in enumerate(sorted(by_center), start=1):
            sequence = last + offset
            release = Release(
                number=f"{order.number}-{sequence}",
                sequence=sequence,
                order=order,
                fulfillment_center=centers[center_id],
                ship_mode=order.ship_mode,
            )
            releases.append(ship_to_copy(source=order, target=release))
        for release in releases:
            release.save(force_insert=True)
        ReleaseItem.objects.bulk_create(
            ReleaseItem(release=release, order_item=item, quantity=quantity)
            for release in releases
            for item, quantity in by_center[release.fulfillment_center_id]
        )
        order_noted.send(
            sender=Release,
            notes=[
                Note(
                    subject_id=order.pk,
                    message=f"Release {release.number} to {release.fulfillment_center.code}",
                    extra={
                        "release": release.number,
                        "fulfillment_center": release.fulfillment_center.code,
                        "items": [[item.sku, quantity] for item, quantity in by_center[release.fulfillment_center_id]],
                    },
                )
                for release in releases
            ],
            acting_user=acting_user,
            actor_name=actor_name,
        )
    return releases
