"""The storefront order API and the back-office order actions, path by path (DESIGN sections 3 and 11)."""

from decimal import Decimal

import pytest
from django.core import mail

from commerce.roles import PAYMENT_APPROVER, WAREHOUSE
from fulfillment.models import Allocation, ExpectedReceipt
from orders import services
from orders.models import Order
from spending_limits.models import TradingAgreement
from spending_limits.selectors import trading_agreement_remaining as agreement_remaining
from tests.commerce.test_api import assert_error
from tests.conftest import client_for
from tests.orders.conftest import ADDRESS, availability, order_body, place, stock

pytestmark = pytest.mark.django_db


def statuses(order_number: str) -> list[tuple[str, str]]:
    order = Order.objects.get(number=order_number)
    return [(e.from_status, e.to_status) for e in order.events.exclude(to_status="")]


def test_place_card_order_is_authorized_with_totals(as_user, django_capture_on_commit_callbacks):
    alice = as_user("alice")

    with django_capture_on_commit_callbacks(execute=True):
        response = place(alice, ("DEMO-TSHIRT", 2))

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "C"
    assert body["status_display"] == "Authorized"
    # 2 x 19.00; tax 8.25 % of 38.00 = 3.135 -> 3.14; shipping 5.00, its tax 0.4125 -> 0.41.
    assert body["totals"] == {
        "product": "38.00",
        "tax": "3.14",
        "shipping": "5.00",
        "shipping_tax": "0.41",
        "adjustment": "0.00",
        "grand_total": "46.55",
    }
    assert body["items"][0]["inventory_status"] == "ALLC"
    assert body["payment"]["method"] == "card"
    assert body["payment"]["approved_amount"] == "46.55"
    assert stock("DEMO-TSHIRT") == (100, 2)
    assert statuses(body["number"]) == [("P", "M"), ("M", "C")]
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert body["number"] in mail.outbox[0].body


def test_backorderable_shortage_is_backordered_with_the_receipt_date(as_user):
    alice = as_user("alice")

    body = place(alice, ("DEMO-MUG", 8)).json()

    assert body["status"] == "B"
    item = body["items"][0]
    assert item["inventory_status"] == "BO"
    assert item["estimated_available_at"] == ExpectedReceipt.objects.get(number="DEMO-ER-1").expected_at.isoformat()
    assert stock("DEMO-MUG") == (5, 5)
    after = availability(alice, "DEMO-MUG")
    assert after["available_quantity"] == 0
    assert after["expected_quantity"] == 17


def test_not_backorderable_shortage_is_refused_and_leaves_nothing(as_user):
    alice = as_user("alice")

    response = place(alice, ("DEMO-TSHIRT", 1), ("DEMO-POSTER", 11))

    assert_error(response, 409, "insufficient_inventory")
    assert response.json()["error"]["details"]["items"][0]["sku"] == "DEMO-POSTER"
    assert stock("DEMO-POSTER") == (10, 0)
    assert stock("DEMO-TSHIRT") == (100, 0)
    assert not Order.objects.exists()


def test_declined_payment_gives_everything_back(as_user, django_capture_on_commit_callbacks):
    alice = as_user("alice")
    before = availability(alice, "DEMO-LAPTOP")

    with django_capture_on_commit_callbacks(execute=True):
        response = place(alice, ("DEMO-LAPTOP", 2), token="tok_decline")

    assert_error(response, 402, "payment_declined")
    order = Order.objects.get(number=response.json()["error"]["details"]["order"])
    assert order.status == "X"
    assert availability(alice, "DEMO-LAPTOP") == before
    assert not Allocation.objects.exists()
    assert any("declined" in m.subject.lower() for m in mail.outbox)


def test_review_then_staff_approves_payment(as_user, staff_in_role):
    alice = as_user("alice")
    number = place(alice, ("DEMO-TSHIRT", 1), token="tok_review").json()["number"]
    assert Order.objects.get(number=number).status == "A"

    response = client_for(staff_in_role(PAYMENT_APPROVER)).post(
        f"/api/v1/backoffice/orders/{number}/approve-payment/", {"reason": "Called the customer"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "C"
    assert statuses(number)[-1] == ("A", "C")


def test_review_then_staff_declines_payment(as_user, staff_in_role):
    alice = as_user("alice")
    number = place(alice, ("DEMO-TSHIRT", 3), token="tok_review").json()["number"]
    approver = client_for(staff_in_role(PAYMENT_APPROVER))

    missing_reason = approver.post(f"/api/v1/backoffice/orders/{number}/decline-payment/", {}, format="json")
    response = approver.post(
        f"/api/v1/backoffice/orders/{number}/decline-payment/", {"reason": "Stolen card"}, format="json"
    )

    assert_error(missing_reason, 400, "validation_error")
    assert response.json()["status"] == "X"
    assert stock("DEMO-TSHIRT") == (100, 0)
    assert Order.objects.get(number=number).payments.get().status == "voided"


@pytest.mark.parametrize("token", ["tok_pending", "tok_timeout"])
def test_pending_payment_is_settled_by_sync(as_user, token):
    alice = as_user("alice")
    number = place(alice, ("DEMO-TSHIRT", 1), token=token).json()["number"]
    order = Order.objects.get(number=number)
    assert order.status == "M"

    services.order_sync_payment(order_id=order.pk)

    order.refresh_from_db()
    assert order.status == "C"
    assert statuses(number)[-1] == ("M", "C")


def test_b2b_order_above_threshold_waits_for_approval_then_carol_approves(as_user, django_capture_on_commit_callbacks):
    bob, carol = as_user("bob"), as_user("carol")
    agreement = TradingAgreement.objects.get(number="ACME-TA-1")
    before = agreement_remaining(agreement=agreement)

    with django_capture_on_commit_callbacks(execute=True):
        body = place(bob, ("DEMO-LAPTOP", 4, "ACME-TA-1")).json()

    assert body["status"] == "W"
    assert agreement_remaining(agreement=agreement) < before
    assert ["carol@acme.example"] in [m.to for m in mail.outbox]
    assert [o["number"] for o in carol.get("/api/v1/approvals/").json()["results"]] == [body["number"]]
    assert_error(as_user("dave").post(f"/api/v1/orders/{body['number']}/approve/"), 404, "not_found")

    approved = carol.post(f"/api/v1/orders/{body['number']}/approve/", {"reason": "Budgeted"}, format="json")

    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "C"
    assert statuses(body["number"]) == [("P", "W"), ("W", "M"), ("M", "C")]


def test_b2b_rejection_gives_stock_and_limit_back(as_user):
    bob, carol = as_user("bob"), as_user("carol")
    agreement = TradingAgreement.objects.get(number="ACME-TA-1")
    before = agreement_remaining(agreement=agreement)
    number = place(bob, ("DEMO-LAPTOP", 4, "ACME-TA-1")).json()["number"]

    response = carol.post(f"/api/v1/orders/{number}/reject/", {"reason": "Not this quarter"}, format="json")

    assert response.json()["status"] == "N"
    assert agreement_remaining(agreement=agreement) == before
    assert stock("DEMO-LAPTOP") == (3, 0)
    assert stock("DEMO-LAPTOP", "WEST") == (2, 0)


def test_spending_limit_error_leaves_limits_and_stock_as_before(as_user):
    bob = as_user("bob")
    limits_before = bob.get("/api/v1/spending-limits/").json()
    availability_before = availability(bob, "DEMO-LAPTOP")

    response = place(
        bob, ("DEMO-LAPTOP", 2), method="purchase_order", token="", purchase_order_number="ACME-PO-LIMITED"
    )

    assert_error(response, 409, "spending_limit_exceeded")
    assert bob.get("/api/v1/spending-limits/").json() == limits_before
    assert availability(bob, "DEMO-LAPTOP") == availability_before
    assert not Order.objects.exists()


def test_cancel_authorized_order_restores_stock_payment_and_ledger(as_user):
    bob = as_user("bob")
    agreement = TradingAgreement.objects.get(number="ACME-TA-1")
    before = agreement_remaining(agreement=agreement)
    number = place(bob, ("DEMO-TSHIRT", 5, "ACME-TA-1")).json()["number"]
    assert agreement_remaining(agreement=agreement) < before

    response = bob.post(f"/api/v1/orders/{number}/cancel/", {"reason": "Changed my mind"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "X"
    assert stock("DEMO-TSHIRT") == (100, 0)
    assert agreement_remaining(agreement=agreement) == before
    assert Order.objects.get(number=number).payments.get().status == "voided"
    assert statuses(number)[-1] == ("C", "X")


def test_cancel_is_refused_once_an_item_is_released(as_user):
    alice = as_user("alice")
    order = Order.objects.get(number=place(alice, ("DEMO-TSHIRT", 1)).json()["number"])
    services.order_release(order_id=order.pk)

    response = alice.post(f"/api/v1/orders/{order.number}/cancel/", format="json")

    assert_error(response, 409, "invalid_transition")
    order.refresh_from_db()
    assert order.status == "R"


def test_idempotent_retry_returns_the_same_order(as_user):
    alice = as_user("alice")

    first = place(alice, ("DEMO-TSHIRT", 1), key="abc-123")
    again = place(alice, ("DEMO-TSHIRT", 1), key="abc-123")
    reused = place(alice, ("DEMO-TSHIRT", 2), key="abc-123")

    assert first.status_code == again.status_code == 201
    assert first.json()["number"] == again.json()["number"]
    assert_error(reused, 409, "idempotency_key_reused")
    assert Order.objects.count() == 1
    assert stock("DEMO-TSHIRT") == (100, 1)


def test_customers_see_only_their_own_orders(as_user):
    alice, dave = as_user("alice"), as_user("dave")
    number = place(alice, ("DEMO-TSHIRT", 1)).json()["number"]

    assert_error(dave.get(f"/api/v1/orders/{number}/"), 404, "not_found")
    assert_error(dave.post(f"/api/v1/orders/{number}/cancel/"), 404, "not_found")
    assert dave.get("/api/v1/orders/").json()["results"] == []
    assert [o["number"] for o in alice.get("/api/v1/orders/").json()["results"]] == [number]
    assert alice.get(f"/api/v1/orders/{number}/").json()["number"] == number


def test_order_detail_shows_the_contract_fields(as_user):
    alice = as_user("alice")
    number = place(alice, ("DEMO-TSHIRT", 1)).json()["number"]

    body = alice.get(f"/api/v1/orders/{number}/").json()

    assert {
        "number",
        "status",
        "status_display",
        "currency",
        "totals",
        "items",
        "payment",
        "shipments",
        "placed_at",
        "events",
    } <= set(body)
    assert set(body["items"][0]) >= {
        "id",
        "sku",
        "quantity",
        "unit_price",
        "status",
        "inventory_status",
        "estimated_available_at",
    }
    assert body["shipments"] == []
    assert [e["to_status"] for e in body["events"] if e["to_status"]] == ["M", "C"]


def test_order_in_another_currency_converts_prices(as_user):
    alice = as_user("alice")

    body = place(alice, ("DEMO-TSHIRT", 1), currency="EUR").json()

    assert body["currency"] == "EUR"
    assert body["items"][0]["unit_price"] == "17.48"  # 19.00 USD x 0.92
    assert body["totals"]["shipping"] == "4.60"


def test_order_in_a_currency_without_rate_is_refused(as_user):
    response = place(as_user("alice"), ("DEMO-TSHIRT", 1), currency="JPY")

    assert_error(response, 409, "no_exchange_rate")
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [{"sku": "NOPE", "quantity": 1}]}, "items"),
        ({"items": [{"sku": "DEMO-MUG", "quantity": 0}]}, "items"),
        ({"items": [{"sku": "DEMO-MUG", "quantity": "two"}]}, "items"),
        ({"items": [{"sku": "DEMO-MUG", "quantity": 1}, {"sku": "DEMO-MUG", "quantity": 1}]}, "items"),
        ({"items": [{"sku": "DEMO-MUG", "quantity": 1, "trading_agreement": "ACME-TA-1"}]}, "items"),
        ({"payment": {"method": "card"}}, "payment"),
        ({"payment": {"method": "bitcoin"}}, "payment"),
        ({"shipping_address": {**ADDRESS, "country": "USA"}}, "shipping_address"),
        ({"shipping_address": {"name": "x"}}, "shipping_address"),
        ({"currency": "XXX"}, "currency"),
        ({"ship_mode": "TELEPORT"}, "ship_mode"),
        ({"items": "DEMO-MUG"}, "items"),
    ],
)
def test_bad_placement_names_the_field(as_user, change, field):
    body = {**order_body(("DEMO-MUG", 1)), **change}

    response = as_user("alice").post("/api/v1/orders/", body, format="json")

    assert_error(response, 400, "validation_error")
    assert field in response.json()["error"]["details"]
    assert response.json()["error"]["message"].startswith(field)


def test_malformed_body_and_bad_status_filter(as_user):
    alice = as_user("alice")

    assert_error(alice.post("/api/v1/orders/", "{", content_type="application/json"), 400, "validation_error")
    assert_error(alice.get("/api/v1/orders/?status=Q"), 400, "validation_error")


def test_storefront_needs_a_customer_and_backoffice_needs_staff(as_user, staff_in_role):
    alice = as_user("alice")
    number = place(alice, ("DEMO-TSHIRT", 1), token="tok_review").json()["number"]
    warehouse = client_for(staff_in_role(WAREHOUSE))

    assert_error(warehouse.get("/api/v1/orders/"), 403, "permission_denied")
    assert_error(alice.post(f"/api/v1/backoffice/orders/{number}/approve-payment/"), 403, "permission_denied")
    assert_error(warehouse.post(f"/api/v1/backoffice/orders/{number}/approve-payment/"), 403, "permission_denied")
    assert_error(warehouse.post(f"/api/v1/backoffice/orders/{number}/cancel/"), 403, "permission_denied")
    assert Order.objects.get(number=number).status == "A"


def test_backoffice_cancel_and_unknown_order(as_user, staff_in_role):
    from commerce.roles import ORDER_CLERK

    number = place(as_user("alice"), ("DEMO-TSHIRT", 2)).json()["number"]
    clerk_user = staff_in_role(ORDER_CLERK)
    clerk = client_for(clerk_user)

    assert_error(clerk.post("/api/v1/backoffice/orders/NOPE/cancel/"), 404, "not_found")
    response = clerk.post(f"/api/v1/backoffice/orders/{number}/cancel/", {"reason": "Fraud suspected"}, format="json")

    assert response.json()["status"] == "X"
    cancel_event = Order.objects.get(number=number).events.filter(to_status="X").get()
    assert (cancel_event.actor, cancel_event.reason) == (clerk_user, "Fraud suspected")


def test_staff_can_approve_an_order_awaiting_approval(as_user, staff_in_role):
    from commerce.roles import ORDER_CLERK

    number = place(as_user("bob"), ("DEMO-LAPTOP", 4, "ACME-TA-1")).json()["number"]

    response = client_for(staff_in_role(ORDER_CLERK)).post(f"/api/v1/backoffice/orders/{number}/approve/")

    assert response.json()["status"] == "C"


def test_grand_total_is_the_sum_of_the_parts(as_user):
    body = place(as_user("alice"), ("DEMO-TSHIRT", 3), ("DEMO-MUG", 1), ("DEMO-CAP", 2)).json()

    totals = {k: Decimal(v) for k, v in body["totals"].items()}
    assert totals["grand_total"] == (
        totals["product"] + totals["tax"] + totals["shipping"] + totals["shipping_tax"] - totals["adjustment"]
    )
    assert totals["shipping"] == Decimal("5.00")


def test_approvals_list_is_empty_for_non_approvers(as_user):
    place(as_user("bob"), ("DEMO-LAPTOP", 4, "ACME-TA-1"))

    assert as_user("alice").get("/api/v1/approvals/").json()["results"] == []
    assert as_user("bob").get("/api/v1/approvals/").json()["results"] == []
