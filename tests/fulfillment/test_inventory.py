"""Stock constraints, ATP selectors and receiving goods."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from fulfillment.models import Allocation, ExpectedReceipt, ExpectedReceiptLine, Stock
from fulfillment.selectors import atp_by_center, atp_for_product, expected_atp, product_availability
from fulfillment.services import inventory_receive
from tests.factories.commerce import ProductFactory
from tests.factories.fulfillment import (
    ExpectedReceiptFactory,
    ExpectedReceiptLineFactory,
    FulfillmentCenterFactory,
    StockFactory,
)
from tests.factories.orders import OrderFactory, OrderItemFactory

pytestmark = pytest.mark.django_db


def test_database_refuses_allocation_above_on_hand_even_bypassing_services():
    stock = StockFactory(on_hand=5, allocated=0)

    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.filter(pk=stock.pk).update(allocated=6)

    stock.refresh_from_db()
    assert stock.allocated == 0


def test_database_refuses_negative_allocation():
    stock = StockFactory(on_hand=5, allocated=0)

    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.filter(pk=stock.pk).update(allocated=-1)


def test_database_refuses_backorder_promises_above_open_quantity():
    line = ExpectedReceiptLineFactory(quantity_ordered=10, quantity_received=4)

    with pytest.raises(IntegrityError), transaction.atomic():
        ExpectedReceiptLine.objects.filter(pk=line.pk).update(quantity_allocated=7)


def test_atp_sums_active_centers_only():
    product = ProductFactory()
    StockFactory(product=product, fulfillment_center=FulfillmentCenterFactory(code="E"), on_hand=10, allocated=3)
    StockFactory(product=product, fulfillment_center=FulfillmentCenterFactory(code="W"), on_hand=4, allocated=0)
    StockFactory(product=product, fulfillment_center=FulfillmentCenterFactory(code="OFF", active=False), on_hand=50)

    assert atp_for_product(product=product) == 11
    assert atp_by_center(product=product) == {"E": 7, "W": 4}


def test_expected_atp_counts_unpromised_open_quantity_and_earliest_date():
    product = ProductFactory()
    center = FulfillmentCenterFactory()
    soon = timezone.localdate() + timedelta(days=3)
    later = timezone.localdate() + timedelta(days=10)
    ExpectedReceiptLineFactory(
        product=product,
        receipt=ExpectedReceiptFactory(fulfillment_center=center, expected_at=later),
        quantity_ordered=20,
        quantity_allocated=5,
    )
    ExpectedReceiptLineFactory(
        product=product,
        receipt=ExpectedReceiptFactory(fulfillment_center=center, expected_at=soon),
        quantity_ordered=4,
        quantity_allocated=4,
    )

    quantity, earliest = expected_atp(product=product)

    assert quantity == 15
    assert earliest == later  # the sooner receipt is fully promised


def test_availability_without_receipts_has_no_date():
    product = ProductFactory(backorderable=True)
    StockFactory(product=product, on_hand=2)

    availability = product_availability(product=product)

    assert availability.available_quantity == 2
    assert availability.backorderable is True
    assert availability.estimated_available_at is None


def test_receive_closes_expected_lines_earliest_first():
    product = ProductFactory()
    center = FulfillmentCenterFactory()
    StockFactory(product=product, fulfillment_center=center, on_hand=1)
    early = ExpectedReceiptLineFactory(
        product=product,
        receipt=ExpectedReceiptFactory(fulfillment_center=center, expected_at=timezone.localdate()),
        quantity_ordered=5,
    )
    late = ExpectedReceiptLineFactory(
        product=product,
        receipt=ExpectedReceiptFactory(fulfillment_center=center, expected_at=timezone.localdate() + timedelta(days=5)),
        quantity_ordered=5,
    )

    result = inventory_receive(fulfillment_center=center, product=product, quantity=7)

    early.refresh_from_db()
    late.refresh_from_db()
    assert result.stock.on_hand == 8
    assert (early.quantity_received, late.quantity_received) == (5, 2)
    assert early.receipt.status == ExpectedReceipt.Status.CLOSED
    assert result.closed_lines == [f"{early.receipt.number}/{product.sku}"]


def test_receive_holds_promised_units_for_backorders_oldest_order_first():
    product = ProductFactory(backorderable=True)
    center = FulfillmentCenterFactory()
    line = ExpectedReceiptLineFactory(
        product=product,
        receipt=ExpectedReceiptFactory(fulfillment_center=center),
        quantity_ordered=10,
        quantity_allocated=6,
    )
    old = OrderItemFactory(order=OrderFactory(status="B", placed_at=timezone.now() - timedelta(days=2)), quantity=4)
    new = OrderItemFactory(order=OrderFactory(status="B", placed_at=timezone.now()), quantity=2)
    for item in (old, new):
        Allocation.objects.create(
            order_item=item, fulfillment_center=center, kind="expected", receipt_line=line, quantity=item.quantity
        )

    result = inventory_receive(fulfillment_center=center, product=product, quantity=5)

    line.refresh_from_db()
    stock = Stock.objects.get(product=product, fulfillment_center=center)
    assert (stock.on_hand, stock.allocated) == (5, 1)
    assert (line.quantity_received, line.quantity_allocated) == (5, 5)
    assert result.promised_to_backorders == 1
    kinds = sorted(Allocation.objects.filter(order_item=old).values_list("kind", "quantity"))
    assert kinds == [("expected", 3), ("stock", 1)]
    assert list(Allocation.objects.filter(order_item=new).values_list("kind", "quantity")) == [("expected", 2)]


def test_receive_refuses_non_positive_quantity():
    from commerce.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        inventory_receive(fulfillment_center=FulfillmentCenterFactory(), product=ProductFactory(), quantity=0)
