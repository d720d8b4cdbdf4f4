"""Races on PostgreSQL: two returns asking for the same last units at once; a restock while orders allocate."""

import threading

import pytest
from django.db import connections

from fulfillment.models import FulfillmentCenter, Stock
from fulfillment.services import inventory_check, inventory_restock
from orders.returns.errors import ReturnNotAllowed
from orders.returns.models import ReturnItem, ReturnRequest
from orders.returns.services import ReceiptLineInput, ReturnLineInput, return_request_create, return_request_receive
from tests.orders.returns.conftest import ask_return, login, place_and_ship

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def at_once(*calls) -> list:
    """Run the calls in threads released together; return each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_returns_of_the_same_last_units_at_once_take_them_once(demo):
    order = place_and_ship("alice", ("DEMO-TSHIRT", 3))

    def ask():
        return return_request_create(order=order, lines=[ReturnLineInput(sku="DEMO-TSHIRT", quantity=2)])

    results = at_once(ask, ask)
    refused = [r for r in results if isinstance(r, ReturnNotAllowed)]
    made = [r for r in results if not isinstance(r, Exception)]
    assert len(made) == 1 and len(refused) == 1, results
    assert refused[0].details["returnable_quantity"] == 1
    assert sum(ReturnItem.objects.filter(order_item__order=order).values_list("quantity", flat=True)) == 2


def test_a_restock_at_the_same_time_as_placements_leaves_stock_consistent(demo):
    order = place_and_ship("alice", ("DEMO-POSTER", 4))
    number = ask_return(login("alice"), order.number, ("DEMO-POSTER", 4, "damaged")).json()["number"]
    rma = ReturnRequest.objects.get(number=number)
    east = FulfillmentCenter.objects.get(code="EAST")
    before = Stock.objects.get(product__sku="DEMO-POSTER", fulfillment_center=east).on_hand

    def receive():
        line = ReceiptLineInput(sku="DEMO-POSTER", quantity=4, disposition="restock", fulfillment_center=east)
        return return_request_receive(return_request=rma, lines=[line])

    def place_one():
        response = login("dave").post(
            "/api/v1/orders/",
            {
                "items": [{"sku": "DEMO-POSTER", "quantity": 1}],
                "payment": {"method": "card", "token": "tok_approve"},
                "shipping_address": {"name": "D", "line1": "1 St", "city": "X", "postal_code": "1", "country": "US"},
            },
            format="json",
        )
        return response.status_code

    results = at_once(
        receive,
        place_one,
        place_one,
        lambda: inventory_restock(fulfillment_center=east, product=rma.items.get().order_item.product, quantity=1),
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    stock = Stock.objects.get(product__sku="DEMO-POSTER", fulfillment_center=east)
    assert stock.on_hand == before + 4 + 1
    assert inventory_check().clean
