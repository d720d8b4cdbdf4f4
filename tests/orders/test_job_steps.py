"""The job steps of orders/services.py, one order at a time: backorders, partial release, deposit."""

import pytest

from commerce.models import Product, Store
from fulfillment.models import FulfillmentCenter
from fulfillment.services import inventory_check, inventory_receive
from orders import services
from orders.models import Order
from payments.selectors import payment_current
from tests.orders.conftest import place, stock

pytestmark = pytest.mark.django_db


def receive(sku: str, quantity: int, center: str = "EAST") -> None:
    inventory_receive(
        fulfillment_center=FulfillmentCenter.objects.get(code=center),
        product=Product.objects.get(sku=sku),
        quantity=quantity,
    )


def test_backorder_is_filled_when_the_goods_arrive(as_user):
    number = place(as_user("alice"), ("DEMO-MUG", 8)).json()["number"]
    order = Order.objects.get(number=number)
    assert order.status == "B"
    assert services.order_process_backorder(order_id=order.pk) == "skipped"  # nothing arrived yet

    receive("DEMO-MUG", 20)
    outcome = services.order_process_backorder(order_id=order.pk)

    order.refresh_from_db()
    assert outcome == "succeeded"
    assert order.status == "C"
    assert [item.inventory_status for item in order.items.all()] == ["ALLC"]
    assert stock("DEMO-MUG") == (25, 8)
    payment = payment_current(order=order)
    assert (payment.status, payment.approved_amount) == ("authorized", order.grand_total)
    assert inventory_check().clean


def test_partial_release_ships_the_stock_part_of_a_backorder_first(as_user):
    Store.objects.filter(code="demo").update(partial_release=True)
    number = place(as_user("alice"), ("DEMO-TSHIRT", 1), ("DEMO-MUG", 7)).json()["number"]
    order = Order.objects.get(number=number)
    assert order.status == "B"

    services.order_release(order_id=order.pk)

    order.refresh_from_db()
    statuses = {item.sku: item.status for item in order.items.all()}
    assert order.status == "B"
    assert statuses == {"DEMO-TSHIRT": "R", "DEMO-MUG": "B"}

    receive("DEMO-MUG", 20)
    services.order_process_backorder(order_id=order.pk)
    services.order_release(order_id=order.pk)

    order.refresh_from_db()
    assert order.status == "R"
    assert sorted(order.releases.values_list("number", flat=True)) == [f"{number}-1", f"{number}-2"]


def test_a_partly_released_backorder_shows_the_shipment_of_its_first_part(as_user):
    from tests.orders.test_payment_lifecycle import ship

    Store.objects.filter(code="demo").update(partial_release=True)
    alice = as_user("alice")
    number = place(alice, ("DEMO-TSHIRT", 1), ("DEMO-MUG", 7)).json()["number"]
    services.order_release(order_id=Order.objects.get(number=number).pk)

    order = ship(Order.objects.get(number=number))

    assert order.status == "B"  # the mugs still wait for goods
    body = alice.get(f"/api/v1/orders/{number}/").json()
    assert [(shipment["release"], shipment["carrier"]) for shipment in body["shipments"]] == [(f"{number}-1", "UPS")]
    listed = next(o for o in alice.get("/api/v1/orders/").json()["results"] if o["number"] == number)
    assert len(listed["shipments"]) == 1


def test_release_without_partial_release_leaves_a_backorder_alone(as_user):
    number = place(as_user("alice"), ("DEMO-TSHIRT", 1), ("DEMO-MUG", 7)).json()["number"]
    order = Order.objects.get(number=number)

    assert services.order_release(order_id=order.pk) == "skipped"
    assert not order.releases.exists()


def test_payment_cleanup_cancels_only_stale_pending_orders(as_user, settings):
    from datetime import timedelta

    from django.utils import timezone

    number = place(as_user("alice"), ("DEMO-TSHIRT", 2), token="tok_error").json()["number"]
    order = Order.objects.get(number=number)
    assert order.status == "M"
    assert services.order_payment_cleanup(order_id=order.pk) == "skipped"  # too recent

    Order.objects.filter(pk=order.pk).update(placed_at=timezone.now() - timedelta(days=4))
    assert services.order_payment_cleanup(order_id=order.pk) == "succeeded"

    order.refresh_from_db()
    assert order.status == "X"
    assert stock("DEMO-TSHIRT") == (100, 0)
