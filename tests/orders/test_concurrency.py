"""Placement under real concurrency on PostgreSQL: no overselling, no duplicate orders, no deadlock."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from commerce.errors import ApplicationError
from fulfillment.models import Allocation, Stock
from orders import services
from orders.models import Order
from tests.factories.commerce import CustomerFactory, ProductFactory, StoreFactory
from tests.factories.fulfillment import FulfillmentCenterFactory, StockFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ADDRESS = services.AddressInput(name="N", line1="1 St", city="C", postal_code="1", country="US")


def placement(customer, product, quantity=1, key=""):
    return services.PlacementInput(
        customer=customer,
        items=[services.ItemInput(product=product, quantity=quantity)],
        payment_method="card",
        payment_token="tok_approve",
        shipping_address=ADDRESS,
        idempotency_key=key,
        fingerprint=f"fp-{product.sku}-{quantity}" if key else "",
    )


def in_thread(function):
    def run(*args):
        try:
            return function(*args)
        finally:
            connection.close()

    return run


def test_thirty_buyers_for_the_last_ten_units():
    StoreFactory(is_default=True)
    product = ProductFactory(backorderable=False)
    StockFactory(product=product, fulfillment_center=FulfillmentCenterFactory(code="EAST", priority=1), on_hand=6)
    StockFactory(product=product, fulfillment_center=FulfillmentCenterFactory(code="WEST", priority=2), on_hand=4)
    customers = [CustomerFactory() for _ in range(30)]

    @in_thread
    def buy(customer):
        try:
            order, _ = services.order_place(data=placement(customer, product))
            return order.status
        except ApplicationError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(buy, customers))

    assert results.count("C") == 10
    assert results.count("insufficient_inventory") == 20
    rows = list(Stock.objects.filter(product=product))
    assert sum(row.allocated for row in rows) == 10
    assert all(0 <= row.allocated <= row.on_hand for row in rows)
    assert sum(a.quantity for a in Allocation.objects.filter(order_item__product=product)) == 10
    assert Order.objects.filter(status="C").count() == 10


def test_two_requests_with_the_same_idempotency_key_make_one_order():
    StoreFactory(is_default=True)
    product = ProductFactory()
    StockFactory(product=product, on_hand=50)
    customer = CustomerFactory()

    @in_thread
    def buy(_):
        order, created = services.order_place(data=placement(customer, product, quantity=2, key="same-key"))
        return order.number, created

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(buy, range(2)))

    assert len({number for number, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, True]
    assert Order.objects.count() == 1
    assert Stock.objects.get(product=product).allocated == 2
