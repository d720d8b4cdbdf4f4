"""Packing releases into packages and confirming their shipment."""

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.utils import timezone
from django_fsm import can_proceed

from commerce.errors import ApplicationError, InvalidTransition, ValidationFailed
from commerce.money import quantize_money, to_decimal
from commerce.notifications import notify
from commerce.retry import atomic_with_retry
from fulfillment.models import (
    Allocation,
    Package,
    PackageItem,
    PickBatch,
    Release,
    ReleaseItem,
    Stock,
    WeightUnit,
)
from orders.events import actor_fields, order_event_record, order_events_record_bulk, order_shipment_emit
from orders.models import Order, OrderEvent, OrderItem, OrderStatus

WEIGHT_PLACES = Decimal("0.001")


class InventoryMismatch(ApplicationError):
    """Stock or allocation rows no longer hold what a shipment takes out of them."""

    code = "inventory_mismatch"
    status_code = 409


def _invalid(field: str, message: str, **details) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", details={field: [message], **details})


def _clean_package_fields(
    *, carrier: str, tracking_number: str, weight, weight_unit: str, shipping_cost
) -> tuple[str, str, Decimal | None, Decimal | None]:
    carrier = (carrier or "").strip()
    tracking_number = (tracking_number or "").strip()
    if not carrier:
        raise _invalid("carrier", "This field is required.")
    if not tracking_number:
        raise _invalid("tracking_number", "This field is required.")
    if weight is not None:
        try:
            weight = to_decimal(weight).quantize(WEIGHT_PLACES)
        except (TypeError, ValueError, ArithmeticError):
            raise _invalid("weight", "Must be a number.") from None
        if weight <= 0:
            raise _invalid("weight", "Must be greater than zero.")
    if weight_unit not in WeightUnit.values:
        raise _invalid("weight_unit", f"Must be one of {', '.join(WeightUnit.values)}.")
    if shipping_cost is not None:
        try:
            shipping_cost = to_decimal(shipping_cost)
        except (TypeError, ValueError, ArithmeticError):
            raise _invalid("shipping_cost", "Must be an amount.") from None
        if shipping_cost < 0:
            raise _invalid("shipping_cost", "Must not be negative.")
    return carrier, tracking_number, weight, shipping_cost


def _wanted_quantities(
    *, release: Release, release_items: dict[int, ReleaseItem], items: Iterable[tuple] | None
) -> list[tuple[ReleaseItem, int]]:
    """The release items and quantities to pack: what was asked for, or everything unpacked."""
    if items is None:
        wanted = [(ri, ri.quantity_unpacked) for ri in release_items.values() if ri.quantity_unpacked > 0]
        if not wanted:
            raise InvalidTransition(
                f"Everything in release {release.number} is packed already.", details={"release": release.number}
            )
        return wanted
    wanted, seen = [], set()
    for order_item, quantity in items:
        item_id = getattr(order_item, "pk", order_item)
        release_item = release_items.get(item_id)
        if release_item is None:
            raise _invalid("items", f"Order item {item_id} is not in release {release.number}.")
        if item_id in seen:
            raise _invalid("items", f"Order item {item_id} is listed twice.")
        seen.add(item_id)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise _invalid("items", f"The quantity of order item {item_id} must be a whole number above zero.")
        if quantity > release_item.quantity_unpacked:
            raise _invalid(
                "items",
                f"Only {release_item.quantity_unpacked} of {release_item.order_item.sku} are left to pack "
                f"in release {release.number}, not {quantity}.",
            )
        wanted.append((release_item, quantity))
    if not wanted:
        raise _invalid("items", "List at least one item, or leave items out to pack everything unpacked.")
    return wanted


def package_create(
    *,
    release: Release,
    items: list[tuple[OrderItem | int, int]] | None = None,
    carrier: str,
    tracking_number: str,
    weight=None,
    weight_unit: str = WeightUnit.KG,
    shipping_cost=None,
    acting_user=None,
) -> Package:
    """Pack items of a picked release into a package; by default everything not packed yet."""
    carrier, tracking_number, weight, shipping_cost = _clean_package_fields(
        carrier=carrier, tracking_number=tracking_number, weight=weight, weight_unit=weight_unit,
        shipping_cost=shipping_cost,
    )  # fmt: skip
    release_id = release.pk

    @atomic_with_retry
    def create() -> Package:
        release = Release.objects.select_for_update(of=("self",)).select_related("order__currency").get(pk=release_id)
        if release.status != Release.Status.BATCHED:
            raise InvalidTransition(
                f"Release {release.number} is {release.get_status_display().lower()}; only a release in a pick "
                f"batch can be packed.",
                details={"release": release.number, "status": release.status},
            )
        release_items = {
            ri.order_item_id: ri
            for ri in ReleaseItem.objects.select_for_update(of=("self",))
            .filter(release=release)
            .select_related("order_item")
            .order_by("pk")
        }
        wanted = _wanted_quantities(release=release, release_items=release_items, items=items)
        currency = release.order.currency
        package = Package.objects.create(
            release=release,
            carrier=carrier,
            tracking_number=tracking_number,
            weight=weight,
            weight_unit=weight_unit,
            shipping_cost=None if shipping_cost is None else quantize_money(shipping_cost, currency),
            currency=None if shipping_cost is None else currency,
            created_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        )
        PackageItem.objects.bulk_create(
            PackageItem(package=package, order_item_id=ri.order_item_id, quantity=quantity) for ri, quantity in wanted
        )
        for release_item, quantity in wanted:
            release_item.quantity_packed += quantity
        ReleaseItem.objects.bulk_update([ri for ri, _ in wanted], ["quantity_packed"])
        order_event_record(
            order=release.order,
            kind=OrderEvent.Kind.FULFILLMENT,
            message=f"Packed release {release.number}: {carrier} {tracking_number}",
            extra={
                "release": release.number,
                "package": package.pk,
                "items": [[ri.order_item.sku, quantity] for ri, quantity in wanted],
            },
            acting_user=acting_user,
        )
        return package

    return create()


def _take_out_of_stock(
    *,
    quantities: dict[int, int],
    items: dict[int, OrderItem],
    release: Release,
) -> None:
    """Take shipped units out of on-hand, allocated and the items' stock allocations at the center."""
    center = release.fulfillment_center
    stocks = {
        stock.product_id: stock
        for stock in Stock.objects.select_for_update(no_key=True)
        .filter(fulfillment_center=center, product_id__in={items[item_id].product_id for item_id in quantities})
        .order_by("pk")
    }
    held: dict[int, list[Allocation]] = defaultdict(list)
    for allocation in (
        Allocation.objects.select_for_update()
        .filter(order_item_id__in=list(quantities), fulfillment_center=center, kind=Allocation.Kind.STOCK)
        .order_by("pk")
    ):
        held[allocation.order_item_id].append(allocation)
    now = timezone.now()
    reduced, emptied = [], []
    for item_id, quantity in sorted(quantities.items()):
        item = items[item_id]
        stock = stocks.get(item.product_id)
        allocated_to_item = sum(a.quantity for a in held[item_id])
        if stock is None or stock.on_hand < quantity or stock.allocated < quantity or allocated_to_item < quantity:
            raise InventoryMismatch(
                f"{center.code} does not hold the {quantity} x {item.sku} this package ships "
                f"(on hand {getattr(stock, 'on_hand', 0)}, allocated {getattr(stock, 'allocated', 0)}, "
                f"allocated to the item {allocated_to_item}); run check_inventory.",
                details={"sku": item.sku, "fulfillment_center": center.code},
            )
        stock.on_hand -= quantity
        stock.allocated -= quantity
        stock.updated_at = now
        remaining = quantity
        for allocation in held[item_id]:
            if remaining == 0:
                break
            take = min(allocation.quantity, remaining)
            allocation.quantity -= take
            remaining -= take
            (emptied if allocation.quantity == 0 else reduced).append(allocation)
    Stock.objects.bulk_update(list(stocks.values()), ["on_hand", "allocated", "updated_at"])
    if reduced:
        Allocation.objects.bulk_update(reduced, ["quantity"])
    if emptied:
        Allocation.objects.filter(pk__in=[a.pk for a in emptied]).delete()


def package_confirm_shipment(*, package: Package, acting_user=None) -> Package:
    """Confirm a package left the building: stock out, items, release and order shipped, customer told.

    Confirming a shipped package again changes nothing. Locks the order first, then the
    fulfillment rows, then stock by pk, the order the other inventory writers follow.
    """
    order_id = Release.objects.filter(pk=package.release_id).values_list("order_id", flat=True).first()
    package_id = package.pk

    @atomic_with_retry
    def confirm() -> Package:
        order = Order.objects.select_for_update(of=("self",), no_key=True).select_related("store").get(pk=order_id)
        package = Package.objects.select_for_update().get(pk=package_id)
        if package.status == Package.Status.SHIPPED:
            return package
        release = (
            Release.objects.select_for_update(of=("self",))
            .select_related("fulfillment_center")
            .get(pk=package.release_id)
        )
        if release.status != Release.Status.BATCHED or not can_proceed(package.ship):
            raise InvalidTransition(
                f"Package {package.pk} of release {release.number} cannot ship while the release is "
                f"{release.get_status_display().lower()}.",
                details={"package": package.pk, "release": release.number, "status": release.status},
            )
        quantities = dict(package.items.values_list("order_item_id", "quantity"))
        order_items = list(OrderItem.objects.select_for_update(no_key=True).filter(order=order).order_by("pk"))
        items = {item.pk: item for item in order_items}
        locked_release_items = ReleaseItem.objects.select_for_update().filter(release=release).order_by("pk")
        release_items = {ri.order_item_id: ri for ri in locked_release_items}
        _take_out_of_stock(quantities=quantities, items=items, release=release)

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
            release_items[item_id].quantity_shipped += quantity
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
        ReleaseItem.objects.bulk_update([release_items[item_id] for item_id in quantities], ["quantity_shipped"])

        package.ship(acting_user=acting_user)
        package.save(update_fields=["status", "shipped_at", "shipped_by"])
        if all(ri.quantity_shipped == ri.quantity for ri in release_items.values()):
            release.ship()
            release.save(update_fields=["status", "shipped_at"])
            events.append(
                OrderEvent(
                    order=order,
                    kind=OrderEvent.Kind.FULFILLMENT,
                    message=f"Release {release.number} shipped",
                    extra={"release": release.number, "from": Release.Status.BATCHED, "to": release.status},
                    **actor,
                )
            )
            _complete_batch(batch_id=release.batch_id)
        order_events_record_bulk(events)

        # The order's condition reads these very items, now shipped or not.
        order._prefetched_objects_cache = {"items": order_items}
        if can_proceed(order.ship):
            from_status = order.status
            order.ship()
            order.save(update_fields=["status", "shipped_at", "updated_at"])
            order_event_record(
                order=order,
                from_status=from_status,
                to_status=order.status,
                acting_user=acting_user,
                extra={"release": release.number, "package": package.pk},
            )
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
        return package

    return confirm()


def _complete_batch(*, batch_id: int | None) -> None:
    if batch_id is None:
        return
    batch = PickBatch.objects.select_for_update().get(pk=batch_id)
    unshipped = batch.releases.exclude(status__in=[Release.Status.SHIPPED, Release.Status.CANCELLED])
    if not unshipped.exists() and can_proceed(batch.complete):
        batch.complete()
        batch.save(update_fields=["status", "done_at"])
