"""Storefront sync: updated_at and ?updated_since=, ETag and 304, idempotent replays, money formatting."""

from datetime import timedelta

import pytest
from django.utils import timezone

from orders import services
from orders.models import Order
from spending_limits.models import TradingAgreement
from tests.orders.conftest import place

pytestmark = pytest.mark.django_db


def test_updated_since_lists_the_orders_changed_since_oldest_change_first(as_user):
    alice = as_user("alice")
    first = place(alice, ("DEMO-TSHIRT", 1)).json()["number"]
    second = place(alice, ("DEMO-MUG", 1)).json()["number"]
    Order.objects.filter(number=first).update(updated_at=timezone.now() - timedelta(hours=2))
    Order.objects.filter(number=second).update(updated_at=timezone.now() - timedelta(hours=1))
    since = (timezone.now() - timedelta(minutes=90)).isoformat()

    recent = alice.get("/api/v1/orders/", {"updated_since": since}).json()
    services.order_cancel(order=Order.objects.get(number=first), reason="changed")
    after_cancel = alice.get("/api/v1/orders/", {"updated_since": since}).json()

    assert [o["number"] for o in recent["results"]] == [second]
    assert [o["number"] for o in after_cancel["results"]] == [second, first]
    assert after_cancel["results"][1]["status"] == "X"
    assert after_cancel["results"][1]["updated_at"] > after_cancel["results"][0]["updated_at"]


@pytest.mark.parametrize("value", ["yesterday", "2026-01-01T10:00:00", "2026-13-01T00:00:00Z"])
def test_updated_since_must_be_a_time_with_an_offset(as_user, value):
    response = as_user("alice").get("/api/v1/orders/", {"updated_since": value})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "updated_since" in response.json()["error"]["message"]


def test_an_order_answers_304_to_its_etag_until_it_changes(as_user):
    alice = as_user("alice")
    number = place(alice, ("DEMO-TSHIRT", 1)).json()["number"]
    first = alice.get(f"/api/v1/orders/{number}/")
    etag = first["ETag"]

    unchanged = alice.get(f"/api/v1/orders/{number}/", HTTP_IF_NONE_MATCH=etag)
    alice.post(f"/api/v1/orders/{number}/cancel/", {"reason": "no"})
    changed = alice.get(f"/api/v1/orders/{number}/", HTTP_IF_NONE_MATCH=etag)

    assert first.status_code == 200 and etag.startswith('"')
    assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged["ETag"] == etag
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert changed.json()["status"] == "X"


def test_a_replay_answers_the_first_status_and_body_with_the_replayed_header(as_user):
    alice = as_user("alice")
    first = place(alice, ("DEMO-TSHIRT", 1), key="k-1")
    services.order_cancel(order=Order.objects.get(number=first.json()["number"]), reason="changed")

    again = place(alice, ("DEMO-TSHIRT", 1), key="k-1")

    assert "Idempotent-Replayed" not in first
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()  # the first answer, not the order as it is now
    assert Order.objects.count() == 1


def test_a_declined_order_replays_402(as_user):
    alice = as_user("alice")
    first = place(alice, ("DEMO-LAPTOP", 1), token="tok_decline", key="k-2")

    again = place(alice, ("DEMO-LAPTOP", 1), token="tok_decline", key="k-2")

    assert first.status_code == 402 and first.json()["error"]["code"] == "payment_declined"
    assert again.status_code == 402 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Order.objects.count() == 1


def test_a_replay_before_the_answer_was_stored_gets_the_same_status(as_user):
    alice = as_user("alice")
    declined = place(alice, ("DEMO-LAPTOP", 1), token="tok_decline", key="k-3").json()["error"]["details"]["order"]
    Order.objects.filter(number=declined).update(placement_response=None)  # as a racing retry sees it

    again = place(alice, ("DEMO-LAPTOP", 1), token="tok_decline", key="k-3")

    assert again.status_code == 402 and again["Idempotent-Replayed"] == "true"
    assert again.json()["error"]["details"]["order"] == declined


def test_money_has_the_minor_unit_of_its_currency(as_user):
    bob = as_user("bob")
    products = bob.get("/api/v1/products/").json()["results"]
    limits = {row["number"]: row for row in bob.get("/api/v1/spending-limits/").json()}

    assert {p["sku"]: p["price"] for p in products}["DEMO-TSHIRT"] == "19.00"
    assert {p["sku"]: p["price"] for p in products}["DEMO-LAPTOP"] == "1499.00"
    assert limits["ACME-TA-JPY"]["limit"] == "1000000"
    assert limits["ACME-TA-1"]["limit"] == "10000.00"
    assert TradingAgreement.objects.get(number="ACME-TA-JPY").currency_id == "JPY"


def test_order_money_has_two_decimals_in_usd(as_user):
    body = place(as_user("alice"), ("DEMO-MUG", 1)).json()

    assert body["items"][0]["unit_price"] == "12.50"
    assert body["totals"]["product"] == "12.50"
    assert body["payment"]["approved_amount"] == body["totals"]["grand_total"]
    assert body["totals"]["grand_total"].count(".") == 1 and len(body["totals"]["grand_total"].split(".")[1]) == 2
