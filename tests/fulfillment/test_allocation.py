"""Allocation from stock by center priority, then against expected receipts."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from commerce.errors import InsufficientInventory
from fulfillment import allocation
from fulfillment.models import Allocation, ExpectedReceiptLine, Stock
from fulfillment.services import inventory_check
from tests.factories.commerce import ProductFactory
from tests.factories.fulfillment import (
    ExpectedReceiptFactory,
    ExpectedReceiptLineFactory,
    FulfillmentCenterFactory,
    StockFactory,
)
from tests.factories.orders import OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def centers():
    return FulfillmentCenterFactory(code="EAST", priority=1), FulfillmentCenterFactory(code="WEST", priority=2)


def stock_numbers(product):
    return {
        s.fulfillment_center.code: (s.on_hand, s.allocated)
        for s in Stock.objects.filter(product=product).select_related("fulfillment_center")
    }


def test_takes_from_the_first_center_by_priority(centers):
    east, west = centers
    product = ProductFactory()
    StockFactory(product=product, fulfillment_center=west, on_hand=10)
    StockFactory(product=product, fulfillment_center=east, on_hand=10)
    item = OrderItemFactory(product=product, quantity=4)

    plan = allocation.allocate_items(items=[item])

    assert plan.fully_allocated
    assert stock_numbers(product) == {"EAST": (10, 4), "WEST": (10, 0)}
    assert item.inventory_status == "ALLC"


def test_splits_across_centers(centers):
    east, west = centers
    product = ProductFactory()
    StockFactory(product=product, fulfillment_center=east, on_hand=3)
    StockFactory(product=product, fulfillment_center=west, on_hand=10)
    item = OrderItemFactory(product=product, quantity=5)

    allocation.allocate_items(items=[item])

    assert stock_numbers(product) == {"EAST": (3, 3), "WEST": (10, 2)}
    rows = sorted(Allocation.objects.filter(order_item=item).values_list("fulfillment_center__code", "quantity"))
    assert rows == [("EAST", 3), ("WEST", 2)]


def test_inactive_center_is_not_used(centers):
    east, _ = centers
    product = ProductFactory()
    StockFactory(product=product, fulfillment_center=FulfillmentCenterFactory(code="OFF", active=False), on_hand=9)
    StockFactory(product=product, fulfillment_center=east, on_hand=1)
    item = OrderItemFactory(product=product, quantity=2)

    with pytest.raises(InsufficientInventory) as error:
        allocation.allocate_items(items=[item])

    assert error.value.details["items"] == [{"sku": product.sku, "requested": 2, "missing": 1}]


def test_not_backorderable_shortage_leaves_nothing_allocated(centers):
    east, _ = centers
    plenty, scarce = ProductFactory(), ProductFactory()
    StockFactory(product=plenty, fulfillment_center=east, on_hand=10)
    StockFactory(product=scarce, fulfillment_center=east, on_hand=1)
    order = OrderFactory()
    items = [
        OrderItemFactory(order=order, product=plenty, quantity=2),
        OrderItemFactory(order=order, product=scarce, quantity=2),
    ]

    with pytest.raises(InsufficientInventory), transaction.atomic():
        allocation.allocate_items(items=items)

    assert stock_numbers(plenty) == {"EAST": (10, 0)}
    assert stock_numbers(scarce) == {"EAST": (1, 0)}
    assert not Allocation.objects.exists()


def test_backorderable_rest_goes_to_earliest_receipts_with_the_date(centers):
    east, _ = centers
    product = ProductFactory(backorderable=True)
    StockFactory(product=product, fulfillment_center=east, on_hand=2)
    soon = timezone.localdate() + timedelta(days=3)
    later = timezone.localdate() + timedelta(days=9)
    first = ExpectedReceiptLineFactory(
        product=product, quantity_ordered=2, receipt=ExpectedReceiptFactory(fulfillment_center=east, expected_at=soon)
    )
    second = ExpectedReceiptLineFactory(
        product=product, quantity_ordered=10, receipt=ExpectedReceiptFactory(fulfillment_center=east, expected_at=later)
    )
    item = OrderItemFactory(product=product, quantity=6)

    plan = allocation.allocate_items(items=[item])

    first.refresh_from_db()
    second.refresh_from_db()
    assert not plan.fully_allocated
    assert item.inventory_status == "BO"
    assert item.estimated_available_at == later
    assert (first.quantity_allocated, second.quantity_allocated) == (2, 2)
    assert stock_numbers(product) == {"EAST": (2, 2)}


def test_backorderable_without_enough_receipts_is_backordered_without_date(centers):
    east, _ = centers
    product = ProductFactory(backorderable=True)
    StockFactory(product=product, fulfillment_center=east, on_hand=1)
    line = ExpectedReceiptLineFactory(
        product=product, quantity_ordered=2, receipt=ExpectedReceiptFactory(fulfillment_center=east)
    )
    item = OrderItemFactory(product=product, quantity=5)

    allocation.allocate_items(items=[item])

    line.refresh_from_db()
    assert item.inventory_status == "BO"
    assert item.estimated_available_at is None
    assert line.quantity_allocated == 0  # all or nothing for the rest
    assert stock_numbers(product) == {"EAST": (1, 1)}


def test_deallocate_gives_stock_and_promises_back(centers):
    east, _ = centers
    product = ProductFactory(backorderable=True)
    StockFactory(product=product, fulfillment_center=east, on_hand=3)
    line = ExpectedReceiptLineFactory(
        product=product, quantity_ordered=5, receipt=ExpectedReceiptFactory(fulfillment_center=east)
    )
    item = OrderItemFactory(product=product, quantity=6)
    allocation.allocate_items(items=[item])

    allocation.deallocate_items(items=[item])

    line.refresh_from_db()
    assert stock_numbers(product) == {"EAST": (3, 0)}
    assert line.quantity_allocated == 0
    assert item.inventory_status == "NALC"
    assert not Allocation.objects.exists()


def test_check_inventory_reports_and_repairs_drift(centers):
    east, _ = centers
    product = ProductFactory()
    stock = StockFactory(product=product, fulfillment_center=east, on_hand=10)
    item = OrderItemFactory(product=product, quantity=4)
    allocation.allocate_items(items=[item])
    Stock.objects.filter(pk=stock.pk).update(allocated=7)
    ExpectedReceiptLine.objects.all().delete()

    report = inventory_check()
    assert [(r["recorded"], r["actual"]) for r in report.stock_drift] == [(7, 4)]

    inventory_check(repair=True)
    stock.refresh_from_db()
    assert stock.allocated == 4
    assert inventory_check().clean


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_allocation_statements_do_not_grow_with_items(centers, django_assert_max_num_queries):
    east, _ = centers
    products = [ProductFactory() for _ in range(10)]
    for product in products:
        StockFactory(product=product, fulfillment_center=east, on_hand=5)
    order = OrderFactory()
    three = [OrderItemFactory(order=order, product=p) for p in products[:3]]
    ten = [OrderItemFactory(order=OrderFactory(), product=p) for p in products]

    with django_assert_max_num_queries(5), transaction.atomic():  # BEGIN, lock, update, insert, COMMIT
        allocation.allocate_items(items=three)
    with django_assert_max_num_queries(5), transaction.atomic():  # BEGIN, lock, update, insert, COMMIT
        allocation.allocate_items(items=ten)
