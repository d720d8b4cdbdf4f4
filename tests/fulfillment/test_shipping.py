"""Packing and shipment confirmation: stock out once, items, releases and the order shipped."""

import threading
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.db.models import Sum

from commerce.errors import InvalidTransition, ValidationFailed
from fulfillment.batches import pick_batch_create
from fulfillment.models import Allocation, Package, Release, ReleaseItem, Stock
from fulfillment.shipping import InventoryMismatch, package_confirm_shipment, package_create
from orders.models import Order, OrderEvent
from tests.factories.commerce import CustomerFactory, ProductFactory, StaffUserFactory, UserFactory
from tests.factories.fulfillment import FulfillmentCenterFactory, released_order


def stock_of(product, center) -> tuple[int, int]:
    stock = Stock.objects.get(product=product, fulfillment_center=center)
    return stock.on_hand, stock.allocated


def assert_stock_reconciles():
    """Every stock row's allocated equals the stock allocations held against it."""
    for stock in Stock.objects.all():
        held = Allocation.objects.filter(
            order_item__product=stock.product, fulfillment_center=stock.fulfillment_center, kind="stock"
        ).aggregate(total=Sum("quantity"))["total"]
        assert stock.allocated == (held or 0), stock


def picked(order, center) -> Release:
    """The order's release at a center, put into a pick batch."""
    pick_batch_create(fulfillment_center=center)
    return Release.objects.get(order=order, fulfillment_center=center)


@pytest.fixture
def clerk(db):
    return StaffUserFactory(username="packer")


@pytest.mark.django_db
def test_full_flow_ships_the_order_and_reconciles_stock(east, products, clerk, django_capture_on_commit_callbacks):
    customer = CustomerFactory(user=UserFactory(username="ada", email="ada@example.com"))
    order = released_order(lines=[(products[0], {east: 2}), (products[1], {east: 1})], customer=customer)
    before = {p.pk: stock_of(p, east) for p in products[:2]}
    release = picked(order, east)

    package = package_create(release=release, items=None, carrier="UPS", tracking_number="1Z999", acting_user=clerk)
    with django_capture_on_commit_callbacks(execute=True):
        package_confirm_shipment(package=package, acting_user=clerk)

    for product, shipped in ((products[0], 2), (products[1], 1)):
        on_hand, allocated = before[product.pk]
        assert stock_of(product, east) == (on_hand - shipped, allocated - shipped)
    assert not Allocation.objects.filter(order_item__order=order).exists()
    assert_stock_reconciles()
    order.refresh_from_db()
    assert order.status == "S"
    assert order.shipped_at is not None
    assert list(order.items.values_list("status", "inventory_status", "quantity_shipped")) == [
        ("S", "FUL", 2),
        ("S", "FUL", 1),
    ]
    release.refresh_from_db()
    assert release.status == "shipped"
    assert release.batch.status == "done"
    package.refresh_from_db()
    assert (package.status, package.shipped_by) == ("shipped", clerk)
    status_event = OrderEvent.objects.get(order=order, kind="status", to_status="S")
    assert (status_event.from_status, status_event.actor) == ("R", clerk)
    (message,) = mail.outbox
    assert message.to == ["ada@example.com"]
    assert order.number in message.subject
    assert "1Z999" in message.body and "UPS" in message.body and release.number in message.body


@pytest.mark.django_db
def test_confirming_twice_changes_nothing_the_second_time(east, products, django_capture_on_commit_callbacks):
    order = released_order(lines=[(products[0], {east: 2})])
    package = package_create(release=picked(order, east), carrier="UPS", tracking_number="1Z1")
    with django_capture_on_commit_callbacks(execute=True):
        package_confirm_shipment(package=package)
    after_first = (stock_of(products[0], east), OrderEvent.objects.count(), len(mail.outbox))
    item = order.items.get()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = package_confirm_shipment(package=Package.objects.get(pk=package.pk))

    assert again.status == "shipped"
    assert (stock_of(products[0], east), OrderEvent.objects.count(), len(mail.outbox)) == after_first
    assert callbacks == []
    item.refresh_from_db()
    assert item.quantity_shipped == 2


@pytest.mark.django_db
def test_two_centers_ship_in_two_releases_and_the_order_waits_for_both(east, west, products):
    order = released_order(lines=[(products[0], {east: 1, west: 2}), (products[1], {east: 1})])
    east_release, west_release = picked(order, east), picked(order, west)

    package_confirm_shipment(package=package_create(release=east_release, carrier="UPS", tracking_number="E1"))

    order.refresh_from_db()
    assert order.status == "R"
    split, whole = order.items.order_by("pk")
    assert (split.status, split.inventory_status, split.quantity_shipped) == ("R", "ALLC", 1)
    assert (whole.status, whole.inventory_status) == ("S", "FUL")
    assert list(Allocation.objects.filter(order_item=split).values_list("fulfillment_center__code", "quantity")) == [
        ("WEST", 2)
    ]

    package_confirm_shipment(package=package_create(release=west_release, carrier="DHL", tracking_number="W1"))

    order.refresh_from_db()
    split.refresh_from_db()
    assert order.status == "S"
    assert (split.status, split.inventory_status, split.quantity_shipped) == ("S", "FUL", 3)
    assert_stock_reconciles()


@pytest.mark.django_db
def test_a_release_ships_in_several_packages(east, products):
    order = released_order(lines=[(products[0], {east: 3}), (products[1], {east: 1})])
    release = picked(order, east)
    first_item, second_item = order.items.order_by("pk")

    box1 = package_create(release=release, items=[(first_item, 2)], carrier="UPS", tracking_number="B1")
    box2 = package_create(release=release, items=None, carrier="UPS", tracking_number="B2")

    assert list(box2.items.order_by("order_item").values_list("order_item", "quantity")) == [
        (first_item.pk, 1),
        (second_item.pk, 1),
    ]
    package_confirm_shipment(package=box1)
    release.refresh_from_db()
    first_item.refresh_from_db()
    assert (release.status, first_item.status, first_item.quantity_shipped) == ("batched", "R", 2)
    assert stock_of(products[0], east)[1] == 1

    package_confirm_shipment(package=box2)
    release.refresh_from_db()
    assert release.status == "shipped"
    assert Order.objects.get(pk=order.pk).status == "S"


@pytest.mark.django_db
def test_packing_more_than_unpacked_is_refused(east, products):
    order = released_order(lines=[(products[0], {east: 2})])
    release = picked(order, east)
    item = order.items.get()
    package_create(release=release, items=[(item, 1)], carrier="UPS", tracking_number="A")

    with pytest.raises(ValidationFailed, match="Only 1") as raised:
        package_create(release=release, items=[(item, 2)], carrier="UPS", tracking_number="B")

    assert "items" in raised.value.details
    assert ReleaseItem.objects.get(release=release).quantity_packed == 1
    assert Package.objects.count() == 1


@pytest.mark.django_db
def test_nothing_left_to_pack_is_refused(east, products):
    order = released_order(lines=[(products[0], {east: 1})])
    release = picked(order, east)
    package_create(release=release, carrier="UPS", tracking_number="A")

    with pytest.raises(InvalidTransition, match="packed already"):
        package_create(release=release, carrier="UPS", tracking_number="B")


@pytest.mark.django_db
def test_an_item_outside_the_release_is_refused(east, west, products):
    order = released_order(lines=[(products[0], {east: 1}), (products[1], {west: 1})])
    release = picked(order, east)
    west_item = order.items.get(product=products[1])

    with pytest.raises(ValidationFailed, match="not in release"):
        package_create(release=release, items=[(west_item.pk, 1)], carrier="UPS", tracking_number="A")


@pytest.mark.django_db
def test_a_release_not_in_a_pick_batch_cannot_be_packed(east, products):
    order = released_order(lines=[(products[0], {east: 1})])
    release = Release.objects.get(order=order)

    with pytest.raises(InvalidTransition, match="pick batch"):
        package_create(release=release, carrier="UPS", tracking_number="A")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"carrier": " "}, "carrier"),
        ({"tracking_number": ""}, "tracking_number"),
        ({"weight": "0"}, "weight"),
        ({"weight": "heavy"}, "weight"),
        ({"weight_unit": "stone"}, "weight_unit"),
        ({"shipping_cost": "-1"}, "shipping_cost"),
    ],
)
def test_bad_package_fields_name_the_field(east, products, fields, field):
    order = released_order(lines=[(products[0], {east: 1})])
    release = picked(order, east)

    with pytest.raises(ValidationFailed) as raised:
        package_create(release=release, **{"carrier": "UPS", "tracking_number": "A", **fields})

    assert list(raised.value.details) == [field]
    assert raised.value.message.startswith(f"{field}:")


@pytest.mark.django_db
def test_shipping_cost_is_rounded_in_the_order_currency_and_weight_kept(east, products):
    order = released_order(lines=[(products[0], {east: 1})])

    package = package_create(
        release=picked(order, east),
        carrier="UPS",
        tracking_number="A",
        weight="1.25",
        weight_unit="lb",
        shipping_cost="7.555",
    )

    package.refresh_from_db()
    assert (package.shipping_cost, package.currency_id) == (Decimal("7.56"), "USD")
    assert (package.weight, package.weight_unit) == (Decimal("1.250"), "lb")


@pytest.mark.django_db
def test_stock_that_no_longer_holds_the_goods_refuses_the_shipment_and_changes_nothing(east, products):
    order = released_order(lines=[(products[0], {east: 2})])
    package = package_create(release=picked(order, east), carrier="UPS", tracking_number="A")
    Allocation.objects.filter(order_item__order=order).update(quantity=1)

    with pytest.raises(InventoryMismatch, match="check_inventory"):
        package_confirm_shipment(package=package)

    package.refresh_from_db()
    assert package.status == "packed"
    assert order.items.get().quantity_shipped == 0


@pytest.mark.django_db
def test_a_batch_is_done_only_when_all_its_releases_shipped(east, products):
    first = released_order(lines=[(products[0], {east: 1})])
    released_order(lines=[(products[0], {east: 1})])
    release = picked(first, east)

    package_confirm_shipment(package=package_create(release=release, carrier="UPS", tracking_number="A"))

    release.refresh_from_db()
    assert release.batch.status == "open"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_confirmations_take_the_goods_out_once():
    center = FulfillmentCenterFactory(code="EAST")
    product = ProductFactory()
    order = released_order(lines=[(product, {center: 3})])
    package = package_create(release=picked(order, center), carrier="UPS", tracking_number="A")
    on_hand, allocated = stock_of(product, center)
    barrier = threading.Barrier(6)
    failures = []

    def confirm():
        try:
            barrier.wait()
            package_confirm_shipment(package=Package.objects.get(pk=package.pk))
        except Exception as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert stock_of(product, center) == (on_hand - 3, allocated - 3)
    assert OrderEvent.objects.filter(order=order, to_status="S").count() == 1
    assert Order.objects.get(pk=order.pk).status == "S"
