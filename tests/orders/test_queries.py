"""Placing an order costs a fixed number of statements, whatever the number of items."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.common import OPTIONAL_FEATURE_TABLES, TABLE_NAMED
from commerce.models import Customer, Product
from orders import services

pytestmark = pytest.mark.django_db

SKUS = ["DEMO-TSHIRT", "DEMO-HOODIE", "DEMO-CAP", "DEMO-STICKERS", "DEMO-BACKPACK", "DEMO-POSTER"]
ADDRESS = services.AddressInput(name="A", line1="1 Main St", city="Springfield", postal_code="62701", country="US")


def placement(count: int) -> services.PlacementInput:
    products = Product.objects.filter(sku__in=SKUS[:count]).order_by("sku")
    return services.PlacementInput(
        customer=Customer.objects.get(user__username="alice"),
        items=[services.ItemInput(product=product, quantity=1) for product in products],
        payment_method="card",
        payment_token="tok_approve",
        shipping_address=ADDRESS,
    )


def statements(count: int) -> int:
    data = placement(count)
    with CaptureQueriesContext(connection) as captured:
        order, _ = services.order_place(data=data)
    assert order.status == "C"
    return len(captured.captured_queries)


def test_a_three_item_order_takes_at_most_twenty_two_statements(demo, django_assert_max_num_queries):
    data = placement(3)

    # 14 statements of the placement, the default-store and accept-policy caches filled once, and the 6
    # SAVEPOINT / RELEASE statements the test's own transaction turns the three units of work into.
    with django_assert_max_num_queries(22):
        services.order_place(data=data)


def test_a_placement_takes_fourteen_statements_once_the_caches_are_warm(demo):
    statements(3)
    data = placement(3)
    with CaptureQueriesContext(connection) as captured:
        services.order_place(data=data)

    # The test's transaction turns each unit of work's own transaction into a SAVEPOINT and a RELEASE.
    sql = [query["sql"] for query in captured.captured_queries]
    own = [statement for statement in sql if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    assert len(sql) - len(own) == 6  # three units of work: the order, the gateway's, the answer with the move
    assert len(own) == 14


def test_statements_do_not_grow_with_the_number_of_items(demo):
    first = statements(1)  # fills the default-store and accept-policy caches: two statements more, once
    one, three, six = statements(1), statements(3), statements(6)

    assert first == one + 2
    assert one == three == six


def test_unused_returns_promotions_and_webhooks_add_no_statement(demo):
    statements(3)  # the store's (empty) promotion list is cached on the first placement
    data = placement(3)
    with CaptureQueriesContext(connection) as captured:
        services.order_place(data=data)

    tables = [table for query in captured.captured_queries for table in TABLE_NAMED.findall(query["sql"])]
    assert {"orders_order", "orders_orderitem", "payments_payment"} <= set(tables)
    optional = [table for table in tables if any(part in table for part in OPTIONAL_FEATURE_TABLES)]
    assert optional == []
