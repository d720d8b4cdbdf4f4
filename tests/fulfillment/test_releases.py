"""Releasing allocated items: one release per center, numbered after the order's earlier releases."""

import pytest
from django.db import IntegrityError, transaction

from commerce.errors import InvalidTransition
from fulfillment.models import Allocation, Release, ReleaseItem
from fulfillment.releases import releases_create
from orders.models import OrderEvent
from orders.services.common import _release_items
from tests.factories.fulfillment import allocated_order

pytestmark = pytest.mark.django_db


def items_of(order):
    return list(order.items.order_by("pk"))


def test_one_release_per_center_with_the_allocated_quantities(east, west, products):
    order = allocated_order(lines=[(products[0], {east: 2}), (products[1], {east: 1, west: 3})], ship_mode="EXPRESS")
    first, second = items_of(order)

    releases = releases_create(order=order, items=[first, second], actor_name="release_to_fulfillment")

    assert [(r.number, r.fulfillment_center.code, r.status) for r in releases] == [
        (f"{order.number}-1", "EAST", "ready"),
        (f"{order.number}-2", "WEST", "ready"),
    ]
    rows = sorted(ReleaseItem.objects.values_list("release__fulfillment_center__code", "order_item__sku", "quantity"))
    assert rows == [("EAST", products[0].sku, 2), ("EAST", products[1].sku, 1), ("WEST", products[1].sku, 3)]
    assert {r.ship_mode for r in releases} == {"EXPRESS"}
    assert releases[0].ship_to_lines == order.ship_to_lines


def test_fulfillment_leaves_the_items_status_to_the_orders_app(east, products):
    order = allocated_order(lines=[(products[0], {east: 2}), (products[1], {east: 1})])
    items = items_of(order)

    releases_create(order=order, items=items)

    assert [item.status for item in items] == ["C", "C"]
    assert list(order.items.values_list("status", flat=True)) == ["C", "C"]


def test_orders_moves_the_items_to_released_on_the_instances_and_in_the_database(east, products):
    order = allocated_order(lines=[(products[0], {east: 2}), (products[1], {east: 1})])
    items = items_of(order)

    releases_create(order=order, items=items)
    _release_items(items)

    assert [item.status for item in items] == ["R", "R"]
    assert list(order.items.values_list("status", flat=True)) == ["R", "R"]


def test_allocations_and_stock_stay_as_they_are_until_shipment(east, products):
    order = allocated_order(lines=[(products[0], {east: 2})])

    releases_create(order=order, items=items_of(order))

    assert list(Allocation.objects.values_list("kind", "quantity")) == [("stock", 2)]
    assert products[0].stock.get().allocated == 2


def test_numbering_continues_after_the_orders_earlier_releases(east, west, products):
    order = allocated_order(lines=[(products[0], {east: 1}), (products[1], {west: 1})], status="B")
    first, second = items_of(order)
    releases_create(order=order, items=[first])

    later = releases_create(order=order, items=[second])

    assert [r.number for r in later] == [f"{order.number}-2"]
    assert Release.objects.filter(order=order).count() == 2


def test_each_release_writes_an_event_with_its_items(east, west, products):
    order = allocated_order(lines=[(products[0], {east: 1, west: 2})])

    releases_create(order=order, items=items_of(order), actor_name="release_to_fulfillment")

    events = OrderEvent.objects.filter(order=order, kind="fulfillment").order_by("pk")
    assert [e.extra["fulfillment_center"] for e in events] == ["EAST", "WEST"]
    assert [e.extra["items"] for e in events] == [[[products[0].sku, 1]], [[products[0].sku, 2]]]
    assert {e.actor_name for e in events} == {"release_to_fulfillment"}


def test_an_item_with_units_against_an_expected_receipt_is_refused_and_nothing_is_written(east, products):
    from tests.factories.fulfillment import ExpectedReceiptLineFactory

    order = allocated_order(lines=[(products[0], {east: 1}), (products[1], {east: 1})], status="B")
    first, second = items_of(order)
    line = ExpectedReceiptLineFactory(product=products[1], quantity_ordered=5, quantity_allocated=1)
    Allocation.objects.filter(order_item=second).update(kind="expected", receipt_line=line)

    with pytest.raises(InvalidTransition, match=products[1].sku):
        releases_create(order=order, items=[first, second])

    assert Release.objects.count() == 0
    assert list(order.items.values_list("status", flat=True)) == ["B", "B"]


def test_an_item_already_released_is_refused(east, products):
    order = allocated_order(lines=[(products[0], {east: 1})])
    items = items_of(order)
    releases_create(order=order, items=items)
    _release_items(items)

    with pytest.raises(InvalidTransition):
        releases_create(order=order, items=items_of(order))

    assert Release.objects.count() == 1


def test_an_item_of_another_order_is_refused(east, products):
    order = allocated_order(lines=[(products[0], {east: 1})])
    other = allocated_order(lines=[(products[1], {east: 1})])

    with pytest.raises(InvalidTransition, match="does not belong"):
        releases_create(order=order, items=items_of(other))


def test_no_items_make_no_release(east, products):
    order = allocated_order(lines=[(products[0], {east: 1})])

    assert releases_create(order=order, items=[]) == []


def test_database_refuses_a_second_release_with_the_same_sequence(east, products):
    order = allocated_order(lines=[(products[0], {east: 1})])
    (release,) = releases_create(order=order, items=items_of(order))

    with pytest.raises(IntegrityError), transaction.atomic():
        Release.objects.create(
            number=f"{order.number}-x",
            sequence=release.sequence,
            order=order,
            fulfillment_center=east,
            ship_mode="STANDARD",
            ship_to_name="x",
            ship_to_line1="x",
            ship_to_city="x",
            ship_to_postal_code="1",
            ship_to_country="US",
        )


def test_database_refuses_a_release_item_without_quantity(east, products):
    order = allocated_order(lines=[(products[0], {east: 1})])
    (release,) = releases_create(order=order, items=items_of(order))

    with pytest.raises(IntegrityError), transaction.atomic():
        ReleaseItem.objects.filter(release=release).update(quantity=0)


@pytest.mark.parametrize("count", [1, 3])
def test_releasing_costs_the_same_statements_for_one_item_or_three(east, products, count, django_assert_num_queries):
    order = allocated_order(lines=[(product, {east: 1}) for product in products[:count]])
    items = items_of(order)

    # savepoint, allocations, centers, last sequence, release, release items, events, release; item moves
    with django_assert_num_queries(9):
        releases_create(order=order, items=items)
        _release_items(items)

    assert list(order.items.values_list("status", flat=True)) == ["R"] * count


def test_a_stale_copy_of_an_item_is_refused_and_nothing_is_written(east, products):
    from django_fsm import ConcurrentTransition

    from orders.models import OrderItem

    order = allocated_order(lines=[(products[0], {east: 1}), (products[1], {east: 1})])
    first, second = items_of(order)
    OrderItem.objects.filter(pk=second.pk).update(status="X")  # cancelled meanwhile, under another lock

    with pytest.raises(ConcurrentTransition), transaction.atomic():  # one unit of work, as the release job runs it
        releases_create(order=order, items=[first, second])
        _release_items([first, second])

    assert Release.objects.count() == 0
    assert sorted(order.items.values_list("status", flat=True)) == ["C", "X"]
