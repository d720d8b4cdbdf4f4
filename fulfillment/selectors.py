"""Reads of available-to-promise inventory."""

from dataclasses import dataclass
from datetime import date

from django.db.models import F, Min, Sum
from django.db.models.functions import Coalesce

from commerce.models import Product
from fulfillment.models import ExpectedReceiptLine, Package, Stock


@dataclass(frozen=True)
class Availability:
    sku: str
    available_quantity: int | None
    backorderable: bool
    expected_quantity: int
    estimated_available_at: date | None


def atp_for_product(*, product: Product) -> int:
    """Stock on hand not yet promised, over the active centers."""
    total = (
        Stock.objects.in_active_centers()
        .filter(product=product)
        .aggregate(atp=Coalesce(Sum(F("on_hand") - F("allocated")), 0))["atp"]
    )
    return max(total, 0)


def atp_by_center(*, product: Product) -> dict[str, int]:
    rows = (
        Stock.objects.in_active_centers()
        .filter(product=product)
        .order_by("fulfillment_center__priority", "fulfillment_center__code")
        .values_list("fulfillment_center__code", "on_hand", "allocated")
    )
    return {code: on_hand - allocated for code, on_hand, allocated in rows}


def expected_atp(*, product: Product) -> tuple[int, date | None]:
    """Open expected quantity not yet promised to backorders, and the earliest date it arrives."""
    result = (
        ExpectedReceiptLine.objects.open()
        .filter(product=product)
        .with_unpromised()
        .aggregate(quantity=Coalesce(Sum("unpromised"), 0), earliest=Min("receipt__expected_at"))
    )
    return result["quantity"], result["earliest"]


def on_hand_in_one_center(*, product: Product, store) -> int:
    """A non-ATP store's availability: the most on hand in one of its centers (an item is never split)."""
    rows = Stock.objects.filter(
        product=product,
        fulfillment_center__stores=store,
        fulfillment_center__active=True,
        fulfillment_center__inventory_system="non_atp",
    ).values_list("on_hand", flat=True)
    return max(rows, default=0)


def product_availability(*, product: Product, store=None) -> Availability:
    """What a store can promise of a product now; the default (ATP) store when ``store`` is None.

    Non-ATP stores answer the most on hand in one of their centers, stores without inventory
    ``None`` (no limit); neither has expected receipts.
    """
    system = getattr(store, "inventory_system", "atp")
    if system != "atp":
        quantity = on_hand_in_one_center(product=product, store=store) if system == "non_atp" else None
        return Availability(
            sku=product.sku,
            available_quantity=quantity,
            backorderable=False,
            expected_quantity=0,
            estimated_available_at=None,
        )
    expected_quantity, earliest = expected_atp(product=product)
    return Availability(
        sku=product.sku,
        available_quantity=atp_for_product(product=product),
        backorderable=product.backorderable,
        expected_quantity=expected_quantity,
        estimated_available_at=earliest,
    )


def shipments_for_order(*, order) -> list[dict]:
    """The shipped packages of an order: release number, carrier, tracking number, time."""
    packages = Package.objects.filter(release__order=order, status="shipped").select_related("release")
    return [
        {
            "release": package.release.number,
            "carrier": package.carrier,
            "tracking_number": package.tracking_number,
            "shipped_at": package.shipped_at,
        }
        for package in packages.order_by("shipped_at", "pk")
    ]
