"""Packing releases into packages and confirming their shipment."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string
from django_fsm import can_proceed

from commerce.errors import ApplicationError, InvalidTransition, ValidationFailed
from commerce.money import quantize_money, to_decimal
from commerce.reports import Note
from commerce.retry import atomic_with_retry
from fulfillment.inventory_systems import inventory_system_named
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
from fulfillment.signals import order_noted
from fulfillment.signals import release_shipped as release_shipped_signal
from orders.models import Order, OrderItem

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


def _packable_statuses(release: Release) -> tuple[str, ...]:
    """A release is packed in its pick batch, or straight from ready where the center has no pick batches."""
    if inventory_system_named(release.fulfillment_center.inventory_system).ships_without_pick_batch:
        return (Release.Status.READY, Release.Status.BATCHED)
    return (Release.Status.BATCHED,)


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
        carrier=carrier,
        tracking_number=tracking_number,
        weight=weight,
        weight_unit=weight_unit,
        shipping_cost=shipping_cost,
    )
    release_id = release.pk

    @atomic_with_retry
    def create() -> Package:
        release = (
            Release.objects.select_for_update(of=("self",))
            .select_related("order__currency", "fulfillment_center")
            .get(pk=release_id)
        )
        if release.status not in _packable_statuses(release):
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
        order_noted.send(
            sender=Package,
            notes=[
                Note(
                    subject_id=release.order_id,
                    message=f"Packed release {release.number}: {carrier} {tracking_number}",
                    extra={
                        "release": release.number,
                        "package": package.pk,
                        "items": [[ri.order_item.sku, quantity] for ri, quantity in wanted],
                    },
                )
            ],
            acting_user=acting_user,
            actor_name="",
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
    # Non-ATP items took their units off on-hand at submit: shipping only ends their hold.
    from_on_hand: set[int] = set()
    for allocation in (
        Allocation.objects.select_for_update()
        .filter(
            order_item_id__in=list(quantities),
            fulfillment_center=center,
            kind__in=[Allocation.Kind.STOCK, Allocation.Kind.ON_HAND],
        )
        .order_by("pk")
    ):
        held[allocation.order_item_id].append(allocation)
        if allocation.kind == Allocation.Kind.ON_HAND:
            from_on_hand.add(allocation.order_item_id)
    now = timezone.now()
    reduced, emptied = [], []
    for item_id, quantity in sorted(quantities.items()):
        item = items[item_id]
        stock = stocks.get(item.product_id)
        allocated_to_item = sum(a.quantity for a in held[item_id])
        if item_id in from_on_hand and allocated_to_item >= quantity:
            stock = None
        elif stock is None or stock.on_hand < quantity or stock.allocated < quantity or allocated_to_item < quantity:
            raise InventoryMismatch(
                f"{center.code} does not hold the {quantity} x {item.sku} this package ships "
                f"(on hand {getattr(stock, 'on_hand', 0)}, allocated {getattr(stock, 'allocated', 0)}, "
                f"allocated to the item {allocated_to_item}); run check_inventory.",
                details={"sku": item.sku, "fulfillment_center": center.code},
            )
        if stock is not None:
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


@dataclass(frozen=True)
class ShipmentReport:
    """What a confirmed package shipped, for orders to record (``settings.FULFILLMENT_SHIPMENT_HOOK``).

    ``order`` and ``order_items`` are locked in the caller's transaction; ``quantities`` maps order item
    ids to the units this package shipped; ``release_shipped`` says the package completed its release.
    """

    order: Order
    order_items: list[OrderItem]
    quantities: dict[int, int]
    package: Package
    release: Release
    release_shipped: bool
    acting_user: Any = None


def shipment_hook():
    """The function orders gave to record a shipment (named in settings, like the tax calculator)."""
    return import_string(settings.FULFILLMENT_SHIPMENT_HOOK)


def package_confirm_shipment(*, package: Package, acting_user=None) -> Package:
    """Confirm a package left the building: stock out, package and release shipped; orders records the rest.

    The order's items, its events, its R → S transition and the customer's e-mail are the order app's:
    the report goes to ``settings.FULFILLMENT_SHIPMENT_HOOK`` in the same transaction. Confirming a
    shipped package again changes nothing. Locks the order first, then the fulfillment rows, then stock
    by pk, the order the other inventory writers follow.
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
        if release.status not in _packable_statuses(release) or not can_proceed(package.ship):
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

        for item_id, quantity in sorted(quantities.items()):
            release_items[item_id].quantity_shipped += quantity
        ReleaseItem.objects.bulk_update([release_items[item_id] for item_id in quantities], ["quantity_shipped"])

        package.ship(acting_user=acting_user)
        package.save(update_fields=["status", "shipped_at", "shipped_by"])
        release_shipped = all(ri.quantity_shipped == ri.quantity for ri in release_items.values())
        if release_shipped:
            release.ship()
            release.save(update_fields=["status", "shipped_at"])
            _complete_batch(batch_id=release.batch_id)
        shipment_hook()(
            shipment=ShipmentReport(
                order=order,
                order_items=order_items,
                quantities=quantities,
                package=package,
                release=release,
                release_shipped=release_shipped,
                acting_user=acting_user,
            )
        )
        if release_shipped:
            release_shipped_signal.send(sender=Release, order_id=order.pk, release_id=release.pk)
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
