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
    available_quantity: int
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


def product_availability(*, product: Product) -> Availability:
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
