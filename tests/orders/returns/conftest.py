"""Shipped demo orders to return, made through the contract API and commands."""

from contextlib import suppress
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from orders.models import Order
from tests.conftest import client_for
from tests.orders.conftest import order_body


def login(username: str):
    return client_for(get_user_model().objects.get(username=username))


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=StringIO())


def ship(number: str) -> Order:
    """Release, pick, pack and confirm every release of an order, as the warehouse does."""
    warehouse = login("warehouse")
    call_command("release_to_fulfillment", stdout=StringIO(), stderr=StringIO())
    order = Order.objects.get(number=number)
    for release in order.releases.filter(status="ready").select_related("fulfillment_center"):
        batch = warehouse.post(
            "/api/v1/backoffice/pick-batches/", {"fulfillment_center": release.fulfillment_center.code}, format="json"
        )
        assert batch.status_code == 201, batch.content
    for release in order.releases.all():
        package = warehouse.post(
            f"/api/v1/backoffice/releases/{release.pk}/packages/",
            {"carrier": "UPS", "tracking_number": f"1Z-{release.pk}"},
            format="json",
        )
        assert package.status_code == 201, package.content
        shipped = warehouse.post(f"/api/v1/backoffice/packages/{package.json()['id']}/confirm-shipment/")
        assert shipped.status_code == 200, shipped.content
    order.refresh_from_db()
    assert order.status == "S", order.status
    return order


def place_and_ship(username: str, *items, deposit: bool = False, **kwargs) -> Order:
    client = login(username)
    placed = client.post("/api/v1/orders/", order_body(*items, **kwargs), format="json")
    assert placed.status_code == 201, placed.content
    number = placed.json()["number"]
    if placed.json()["status"] == "M":
        call_command("sync_pending_payments", stdout=StringIO(), stderr=StringIO())
    order = ship(number)
    if deposit:
        for _ in range(2):  # a timeout token loses the first answer of each call
            with suppress(CommandError):
                call_command("balance_payment", stdout=StringIO(), stderr=StringIO())
        order.refresh_from_db()
        assert order.status == "D", order.status
    return order


def ask_return(client, number: str, *lines, comment: str = ""):
    body = {"items": [{"sku": sku, "quantity": quantity, "reason": reason} for sku, quantity, reason in lines]}
    if comment:
        body["comment"] = comment
    return client.post(f"/api/v1/orders/{number}/returns/", body, format="json")
