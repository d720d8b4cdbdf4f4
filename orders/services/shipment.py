"""Recording a shipment fulfillment reports: the items shipped, the events, the order R → S, the e-mail."""

from django_fsm import can_proceed

from commerce.errors import InvalidTransition
from commerce.notifications import notify
from fulfillment.models import Release
from fulfillment.shipping import ShipmentReport
from orders.events import actor_fields, order_events_record_bulk, order_shipment_emit
from orders.models import OrderEvent, OrderStatus
from orders.services.common import _cache_items, _transition


def order_record_shipment(*, shipment: ShipmentReport) -> None:
    """Record a confirmed package (``settings.FULFILLMENT_SHIPMENT_HOOK``), in fulfillment's transaction.

    Items shipped in full move to S with their event; the order moves R → S once every item is shipped.
    """
    order, order_items, quantities = shipment.order, shipment.order_items, shipment.quantities
    package, release, acting_user = shipment.package, shipment.release, shipment.acting_user
    items = {item.pk: item for item in order_items}
    actor = actor_fields(acting_user, "")
    events = [
        OrderEvent(
            order=order,
            kind=OrderEvent.Kind.FULFILLMENT,
            message=f"Shipped {package.carrier} {package.tracking_number} of release {release.number}",
            extra={
                "release": release.number,
                "package": package.pk,
                "items": [[items[item_id].sku, quantity] for item_id, quantity in sorted(quantities.items())],
            },
            **actor,
        )
    ]
    for item_id, quantity in sorted(quantities.items()):
        item = items[item_id]
        item.quantity_shipped += quantity
        update_fields = ["quantity_shipped"]
        if item.quantity_shipped == item.quantity:
            if not (can_proceed(item.ship) and can_proceed(item.mark_fulfilled)):
                raise InvalidTransition(
                    f"Item {item.sku} cannot be marked shipped while {item.get_status_display().lower()}.",
                    details={"order_item": item.pk, "status": item.status},
                )
            from_status = item.status
            item.mark_fulfilled()
            item.ship()
            update_fields += ["status", "inventory_status"]
            events.append(
                OrderEvent(
                    order=order,
                    kind=OrderEvent.Kind.FULFILLMENT,
                    message=f"Item {item.sku} shipped in full",
                    extra={"order_item": item.pk, "from": from_status, "to": item.status},
                    **actor,
                )
            )
        item.save(update_fields=update_fields)
    if shipment.release_shipped:
        events.append(
            OrderEvent(
                order=order,
                kind=OrderEvent.Kind.FULFILLMENT,
                message=f"Release {release.number} shipped",
                extra={"release": release.number, "from": Release.Status.BATCHED, "to": release.status},
                **actor,
            )
        )
    order_events_record_bulk(events)

    # The order's condition reads these very items, now shipped or not.
    _cache_items(order, order_items)
    if can_proceed(order.ship):
        _transition(order, "ship", acting_user=acting_user, extra={"release": release.number, "package": package.pk})
    else:
        order.save(update_fields=["updated_at"])  # a partial shipment is a change a storefront syncs
    order_shipment_emit(
        order=order,
        carrier=package.carrier,
        tracking_number=package.tracking_number,
        release=release.number,
        items=[{"sku": items[item_id].sku, "quantity": q} for item_id, q in sorted(quantities.items())],
        complete=order.status == OrderStatus.SHIPPED,
    )
    notify(
        "order_shipped",
        order_id=order.pk,
        context={
            "carrier": package.carrier,
            "tracking_number": package.tracking_number,
            "release": release.number,
            "complete": order.status == OrderStatus.SHIPPED,
            "items": [[items[item_id].sku, items[item_id].name, q] for item_id, q in sorted(quantities.items())],
        },
    )
