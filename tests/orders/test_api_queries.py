"""Placing an order through the API costs the placement's statements and four more, and answers the order
exactly as a read of it afterwards shows it."""

from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.common import TABLE_NAMED
from commerce.models import Customer, Product
from orders import services
from tests.conftest import client_for
from tests.orders.conftest import ADDRESS, order_body, place, user

pytestmark = pytest.mark.django_db

ITEMS = [("DEMO-TSHIRT", 1), ("DEMO-HOODIE", 2), ("DEMO-CAP", 1)]


def service_statements() -> list[str]:
    products = {p.sku: p for p in Product.objects.filter(sku__in=[sku for sku, _ in ITEMS])}
    data = services.PlacementInput(
        customer=Customer.objects.get(user__username="alice"),
        items=[services.ItemInput(product=products[sku], quantity=quantity) for sku, quantity in ITEMS],
        payment_method="card",
        payment_token="tok_approve",
        shipping_address=services.AddressInput(**ADDRESS),
    )
    with CaptureQueriesContext(connection) as captured:
        order, _ = services.order_place(data=data)
    assert order.status == "C"
    return [query["sql"] for query in captured.captured_queries]


def api_statements(client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = place(client, *ITEMS)
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "C"
    return [query["sql"] for query in captured.captured_queries]


def kinds(statements: list[str]) -> Counter:
    """Statements by what they do and the first table they name."""
    return Counter((sql.split()[0], (TABLE_NAMED.findall(sql) or [""])[0]) for sql in statements)


def test_the_api_adds_four_statements_to_the_placement(demo):
    client = client_for(user("alice"))
    place(client, *ITEMS)  # fills the caches (accept policies, promotions) once

    service = service_statements()
    api = api_statements(client)

    # The token with its user, customer and organization; the products of the items; after placing,
    # the order's events and payments (the order and its items are the ones placing wrote).
    assert len(api) - len(service) == 4
    assert kinds(api) - kinds(service) == Counter(
        [
            ("SELECT", "authtoken_token"),
            ("SELECT", "commerce_product"),
            ("SELECT", "orders_orderevent"),
            ("SELECT", "payments_payment"),
        ]
    )
    assert not kinds(service) - kinds(api)


def test_a_customer_with_an_organization_is_read_with_the_token(demo):
    client = client_for(user("bob"))
    place(client, ("DEMO-TSHIRT", 1))

    with CaptureQueriesContext(connection) as captured:
        response = place(client, ("DEMO-TSHIRT", 1))

    assert response.status_code == 201, response.content
    statements = [query["sql"] for query in captured.captured_queries]
    token = statements[0]
    assert TABLE_NAMED.findall(token) == ["authtoken_token", "auth_user", "commerce_customer", "commerce_organization"]
    assert ("SELECT", "commerce_customer") not in kinds(statements)
    assert ("SELECT", "commerce_organization") not in kinds(statements)


@pytest.mark.parametrize(
    ("username", "items", "extra", "status"),
    [
        ("alice", ITEMS, {}, "C"),
        ("alice", [("DEMO-TSHIRT", 1)], {"token": "tok_review"}, "A"),
        ("alice", [("DEMO-MUG", 8)], {}, "B"),
        ("alice", [("DEMO-TSHIRT", 1)], {"currency": "EUR"}, "C"),
        ("alice", [("DEMO-HOODIE", 3)], {"coupon": "demo10"}, "C"),
        ("bob", [("DEMO-LAPTOP", 4, "ACME-TA-1")], {}, "W"),
        ("alice", [("DEMO-TSHIRT", 2)], {"store": "demo-nonatp"}, "C"),
        ("alice", [("DEMO-TSHIRT", 1)], {"store": "demo-rules", "method": "bill_me", "token": ""}, "I"),
    ],
)
def test_the_placement_answer_is_the_order_as_read_afterwards(demo, username, items, extra, status):
    client = client_for(user(username))

    response = place(client, *items, **extra)

    assert response.status_code == 201, response.content
    placed = response.json()
    assert placed["status"] == status
    assert placed == client.get(f"/api/v1/orders/{placed['number']}/").json()


def test_a_keyed_placement_stores_the_answer_it_gave(demo):
    client = client_for(user("alice"))
    body = order_body(*ITEMS)

    first = client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    retry = client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json() == client.get(f"/api/v1/orders/{first.json()['number']}/").json()
