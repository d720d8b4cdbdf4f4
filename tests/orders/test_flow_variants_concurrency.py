"""A non-ATP store under real concurrency on PostgreSQL: the last units go once, on-hand never below zero."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from commerce.errors import ApplicationError
from fulfillment.models import Allocation, Stock
from orders import services
from orders.models import Order
from tests.factories.commerce import CustomerFactory, ProductFactory, StoreFactory
from tests.factories.fulfillment import FulfillmentCenterFactory, StockFactory
from tests.orders.test_concurrency import ADDRESS, in_thread

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_thirty_buyers_for_the_last_units_of_a_non_atp_store():
    StoreFactory(code="main", is_default=True)
    store = StoreFactory(code="nonatp", inventory_system="non_atp")
    product = ProductFactory(backorderable=True)  # backorderable or not, non-ATP never backorders
    north = FulfillmentCenterFactory(code="NORTH", priority=1, inventory_system="non_atp")
    south = FulfillmentCenterFactory(code="SOUTH", priority=2, inventory_system="non_atp")
    north.stores.add(store)
    south.stores.add(store)
    StockFactory(product=product, fulfillment_center=north, on_hand=7)
    StockFactory(product=product, fulfillment_center=south, on_hand=5)
    customers = [CustomerFactory() for _ in range(30)]

    @in_thread
    def buy(customer):
        data = services.PlacementInput(
            customer=customer,
            items=[services.ItemInput(product=product, quantity=2)],
            payment_method="card",
            payment_token="tok_approve",
            shipping_address=ADDRESS,
            store=store,
        )
        try:
            order, _ = services.order_place(data=data)
            return order.status
        except ApplicationError as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(buy, customers))

    # 7 on hand in NORTH give three orders of 2 (one unit left), 5 in SOUTH two more: never split.
    assert results.count("C") == 5
    assert results.count("insufficient_inventory") == 25
    on_hand = dict(Stock.objects.filter(product=product).values_list("fulfillment_center__code", "on_hand"))
    assert on_hand == {"NORTH": 1, "SOUTH": 1}
    assert all(row.allocated == 0 for row in Stock.objects.filter(product=product))
    held = list(Allocation.objects.filter(order_item__product=product).values_list("kind", "quantity"))
    assert held == [("on_hand", 2)] * 5
    assert Order.objects.filter(store=store, status="C").count() == 5
    assert not Order.objects.filter(store=store).exclude(status="C").exists()
