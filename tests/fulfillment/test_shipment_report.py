"""Fulfillment reports a confirmed package; only the orders app ships the items and moves the order."""

import pytest

from fulfillment.batches import pick_batch_create
from fulfillment.models import Package, Release
from fulfillment.shipping import ShipmentReport, package_confirm_shipment, package_create
from orders.models import Order, OrderEvent
from tests.factories.fulfillment import released_order

REPORTS: list[ShipmentReport] = []


def record_only(*, shipment: ShipmentReport) -> None:
    REPORTS.append(shipment)


@pytest.fixture
def packed(east, products):
    order = released_order(lines=[(products[0], {east: 2}), (products[1], {east: 1})])
    pick_batch_create(fulfillment_center=east)
    release = Release.objects.get(order=order)
    package = package_create(release=release, items=None, carrier="UPS", tracking_number="1Z1")
    return order, release, package


@pytest.mark.django_db
def test_fulfillment_reports_the_shipment_and_leaves_the_order_to_the_hook(packed, settings):
    order, release, package = packed
    settings.FULFILLMENT_SHIPMENT_HOOK = "tests.fulfillment.test_shipment_report.record_only"
    REPORTS.clear()

    package_confirm_shipment(package=package)

    (report,) = REPORTS
    assert (report.order.pk, report.release.pk, report.package.pk, report.release_shipped) == (
        order.pk,
        release.pk,
        package.pk,
        True,
    )
    assert sorted(report.quantities.values()) == [1, 2]
    assert Package.objects.get(pk=package.pk).status == Package.Status.SHIPPED
    assert Release.objects.get(pk=release.pk).status == Release.Status.SHIPPED
    # Without the order app's hook nothing moved the order or its items, nor wrote their events.
    order = Order.objects.get(pk=order.pk)
    assert order.status == "R"
    assert set(order.items.values_list("status", flat=True)) == {"R"}
    assert not OrderEvent.objects.filter(order=order, to_status="S").exists()


@pytest.mark.django_db
def test_the_orders_hook_ships_the_items_and_moves_the_order_with_its_event(packed, settings):
    order, _, package = packed
    assert settings.FULFILLMENT_SHIPMENT_HOOK == "orders.services.shipment.order_record_shipment"

    package_confirm_shipment(package=package)

    order = Order.objects.get(pk=order.pk)
    assert order.status == "S"
    assert set(order.items.values_list("status", "inventory_status")) == {("S", "FUL")}
    moved = OrderEvent.objects.get(order=order, from_status="R", to_status="S")
    assert moved.extra == {"release": f"{order.number}-1", "package": package.pk}
