"""The return flow through the API: request, approve, receive, credit; bad input and locks."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from commerce.models import Product, Store
from fulfillment.models import Stock
from fulfillment.services import inventory_check
from orders.models import Order
from orders.returns.models import ReturnRequest
from payments.models import Payment
from tests.orders.returns.conftest import ask_return, login, place_and_ship

pytestmark = pytest.mark.django_db


def on_hand(sku: str, center: str = "EAST") -> int:
    return Stock.objects.get(product__sku=sku, fulfillment_center__code=center).on_hand


def test_a_small_return_is_approved_received_restocked_and_credited(demo, django_capture_on_commit_callbacks):
    order = place_and_ship("alice", ("DEMO-TSHIRT", 3), deposit=True)
    alice, warehouse, clerk = login("alice"), login("warehouse"), login("clerk")
    item = order.items.get()

    with django_capture_on_commit_callbacks(execute=True):
        asked = ask_return(alice, order.number, ("DEMO-TSHIRT", 2, "not_needed"), comment="Too many")
    assert asked.status_code == 201, asked.content
    rma = asked.json()
    assert rma["number"] == f"{order.number}-R1"
    assert rma["status"] == "APP"
    assert [(i["sku"], i["quantity"], i["status"], i["received_quantity"]) for i in rma["items"]] == [
        ("DEMO-TSHIRT", 2, "APP", 0)
    ]
    assert any("approved" in m.subject for m in mail.outbox)

    before = on_hand("DEMO-TSHIRT")
    with django_capture_on_commit_callbacks(execute=True):
        received = warehouse.post(
            f"/api/v1/backoffice/returns/{rma['number']}/receive/",
            {"items": [{"sku": "DEMO-TSHIRT", "quantity": 2, "disposition": "restock", "fulfillment_center": "EAST"}]},
            format="json",
        )
    assert received.status_code == 200, received.content
    assert received.json()["items"][0]["received_quantity"] == 2
    assert on_hand("DEMO-TSHIRT") == before + 2
    assert alice.get("/api/v1/products/DEMO-TSHIRT/availability/").json()["available_quantity"] == 150 - 3 + 2
    assert inventory_check().clean

    with django_capture_on_commit_callbacks(execute=True):
        credited = clerk.post(f"/api/v1/backoffice/returns/{rma['number']}/credit/")
    assert credited.status_code == 200, credited.content
    body = credited.json()
    expected = (item.purchase_amount - item.shipping_charge - item.shipping_tax) * 2 / 3
    assert Decimal(body["credit_total"]) == expected.quantize(Decimal("0.01"))
    assert body["status"] == "CLO"
    assert body["refunded_amount"] == body["credit_total"]
    payment = Payment.objects.get(order=order, is_current=True)
    assert payment.status == "partially_refunded"
    assert payment.refunded_amount == Decimal(body["credit_total"])
    assert any("credited" in m.subject for m in mail.outbox)

    again = clerk.post(f"/api/v1/backoffice/returns/{rma['number']}/credit/")
    assert again.status_code == 200
    assert Payment.objects.get(pk=payment.pk).refunded_amount == payment.refunded_amount

    listed = alice.get("/api/v1/returns/").json()
    assert [r["number"] for r in listed["results"]] == [rma["number"]]
    assert alice.get(f"/api/v1/returns/{rma['number']}/").json()["status"] == "CLO"


def test_another_customers_return_is_not_found(demo):
    order = place_and_ship("alice", ("DEMO-TSHIRT", 1))
    rma = ask_return(login("alice"), order.number, ("DEMO-TSHIRT", 1, "damaged")).json()
    dave = login("dave")
    assert dave.get(f"/api/v1/returns/{rma['number']}/").status_code == 404
    assert dave.patch(f"/api/v1/returns/{rma['number']}/", {"comment": "x"}, format="json").status_code == 404
    assert ask_return(dave, order.number, ("DEMO-TSHIRT", 1, "damaged")).status_code == 404
    assert dave.get("/api/v1/returns/").json()["results"] == []


def test_a_return_above_the_auto_approve_limit_waits_for_staff_who_see_the_reasons(
    demo, django_capture_on_commit_callbacks
):
    order = place_and_ship("alice", ("DEMO-LAPTOP", 1))
    with django_capture_on_commit_callbacks(execute=True):
        asked = ask_return(login("alice"), order.number, ("DEMO-LAPTOP", 1, "damaged"))
    rma = asked.json()
    assert rma["status"] == "PND"
    assert rma["items"][0]["status"] == "PND"
    assert "over_auto_approve_limit" in rma["items"][0]["deny_reasons"][0]
    assert any("waits for approval" in m.subject for m in mail.outbox)

    assert login("warehouse").post(f"/api/v1/backoffice/returns/{rma['number']}/approve/").status_code == 403
    approved = login("clerk").post(f"/api/v1/backoffice/returns/{rma['number']}/approve/", {}, format="json")
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "APP"
    assert approved.json()["items"][0]["status"] == "MAN"


def test_staff_deny_a_return_and_the_customer_hears_why(demo, django_capture_on_commit_callbacks):
    order = place_and_ship("alice", ("DEMO-LAPTOP", 1))
    rma = ask_return(login("alice"), order.number, ("DEMO-LAPTOP", 1, "not_needed")).json()
    clerk = login("clerk")
    assert clerk.post(f"/api/v1/backoffice/returns/{rma['number']}/deny/", {}, format="json").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        denied = clerk.post(f"/api/v1/backoffice/returns/{rma['number']}/deny/", {"reason": "Opened"}, format="json")
    assert denied.status_code == 200
    assert denied.json()["status"] == "CAN"
    assert [i["status"] for i in denied.json()["items"]] == ["DNY"]
    (mail_denied,) = [m for m in mail.outbox if "not accepted" in m.subject]
    assert "Opened" in mail_denied.body


def test_per_item_override_denies_one_item_and_approves_the_other(demo):
    order = place_and_ship("alice", ("DEMO-LAPTOP", 1), ("DEMO-MUG", 2))
    rma = ask_return(login("alice"), order.number, ("DEMO-LAPTOP", 1, "damaged"), ("DEMO-MUG", 2, "other")).json()
    assert rma["status"] == "PND"
    approved = login("clerk").post(
        f"/api/v1/backoffice/returns/{rma['number']}/approve/",
        {
            "items": [
                {"sku": "DEMO-LAPTOP", "approve": False, "reason": "Scratched by the customer"},
                {"sku": "DEMO-MUG", "receipt_required": False},
            ]
        },
        format="json",
    )
    assert approved.status_code == 200, approved.content
    statuses = {i["sku"]: (i["status"], i["receipt_required"]) for i in approved.json()["items"]}
    assert statuses == {"DEMO-LAPTOP": ("DNY", True), "DEMO-MUG": ("MAN", False)}
    # The mug needs no receipt: the job credits it at once, the laptop is not credited.
    out = StringIO()
    call_command("return_credit_and_close", stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == "processed=1 succeeded=1 failed=0 skipped=0"
    rma = ReturnRequest.objects.get(number=rma["number"])
    assert rma.status == "CLO"
    mug = order.items.get(sku="DEMO-MUG")
    assert rma.credit_total == mug.product_total + mug.tax - mug.adjustment


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ((("DEMO-TSHIRT", 3, "damaged"),), "quantity"),
        ((("DEMO-POSTER", 1, "damaged"),), "not_ordered"),
    ],
)
def test_more_than_shipped_or_an_unknown_item_is_refused(demo, lines, reason):
    order = place_and_ship("alice", ("DEMO-TSHIRT", 2))
    answer = ask_return(login("alice"), order.number, *lines)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "return_not_allowed"
    assert answer.json()["error"]["details"]["reason"] == reason
    assert not ReturnRequest.objects.exists()


def test_more_than_earlier_returns_left_is_refused(demo):
    order = place_and_ship("alice", ("DEMO-TSHIRT", 3))
    alice = login("alice")
    assert ask_return(alice, order.number, ("DEMO-TSHIRT", 2, "damaged")).status_code == 201
    answer = ask_return(alice, order.number, ("DEMO-TSHIRT", 2, "damaged"))
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "return_not_allowed"
    assert answer.json()["error"]["details"]["returnable_quantity"] == 1
    assert ReturnRequest.objects.count() == 1
    assert ask_return(alice, order.number, ("DEMO-TSHIRT", 1, "damaged")).json()["number"].endswith("-R2")


def test_outside_the_window_is_refused(demo):
    order = place_and_ship("alice", ("DEMO-TSHIRT", 1))
    Store.objects.filter(pk=order.store_id).update(return_window=timedelta(days=30))
    Order.objects.filter(pk=order.pk).update(shipped_at=timezone.now() - timedelta(days=31))
    answer = ask_return(login("alice"), order.number, ("DEMO-TSHIRT", 1, "damaged"))
    assert answer.status_code == 409
    assert answer.json()["error"]["details"]["reason"] == "outside_window"
    assert not ReturnRequest.objects.exists()


def test_a_non_returnable_product_is_refused(demo):
    order = place_and_ship("alice", ("DEMO-TSHIRT", 1))
    Product.objects.filter(sku="DEMO-TSHIRT").update(returnable=False)
    answer = ask_return(login("alice"), order.number, ("DEMO-TSHIRT", 1, "damaged"))
    assert answer.status_code == 409
    assert answer.json()["error"]["details"] == {"sku": "DEMO-TSHIRT", "reason": "not_returnable"}
    assert not ReturnRequest.objects.exists()


def test_an_order_not_shipped_cannot_be_returned(demo):
    placed = login("alice").post(
        "/api/v1/orders/",
        {
            "items": [{"sku": "DEMO-TSHIRT", "quantity": 1}],
            "payment": {"method": "card", "token": "tok_approve"},
            "shipping_address": {"name": "A", "line1": "1 St", "city": "X", "postal_code": "1", "country": "US"},
        },
        format="json",
    )
    answer = ask_return(login("alice"), placed.json()["number"], ("DEMO-TSHIRT", 1, "damaged"))
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "return_not_allowed"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"items": []},
        {"items": [{"sku": "DEMO-TSHIRT", "quantity": 0, "reason": "damaged"}]},
        {"items": [{"sku": "DEMO-TSHIRT", "quantity": 1, "reason": "bored"}]},
        {"items": [{"sku": "DEMO-TSHIRT", "quantity": 1, "reason": "damaged"}] * 2},
        {"items": "DEMO-TSHIRT"},
    ],
)
def test_bad_request_bodies_are_400(demo, body):
    order = place_and_ship("alice", ("DEMO-TSHIRT", 1))
    answer = login("alice").post(f"/api/v1/orders/{order.number}/returns/", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "validation_error"


def test_a_change_after_receipt_is_refused_and_the_customer_told(demo, django_capture_on_commit_callbacks):
    order = place_and_ship("alice", ("DEMO-TSHIRT", 2))
    alice = login("alice")
    rma = ask_return(alice, order.number, ("DEMO-TSHIRT", 2, "damaged")).json()
    login("warehouse").post(
        f"/api/v1/backoffice/returns/{rma['number']}/receive/",
        {"items": [{"sku": "DEMO-TSHIRT", "quantity": 1, "disposition": "scrap"}]},
        format="json",
    )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        patched = alice.patch(
            f"/api/v1/returns/{rma['number']}/",
            {"items": [{"sku": "DEMO-TSHIRT", "quantity": 1, "reason": "other"}]},
            format="json",
        )
    assert patched.status_code == 409
    assert patched.json()["error"]["code"] == "return_locked"
    (refused,) = mail.outbox
    assert "could not change your return" in refused.subject
    assert "received already" in refused.body
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = alice.post(f"/api/v1/returns/{rma['number']}/cancel/")
    assert cancelled.status_code == 409
    assert cancelled.json()["error"]["code"] == "return_locked"
    after = alice.get(f"/api/v1/returns/{rma['number']}/").json()
    assert after["status"] == "APP"
    assert [(i["quantity"], i["received_quantity"]) for i in after["items"]] == [(2, 1)]


def test_a_pending_return_may_be_changed_and_cancelled(demo):
    order = place_and_ship("alice", ("DEMO-LAPTOP", 1), ("DEMO-TSHIRT", 2))
    alice = login("alice")
    rma = ask_return(alice, order.number, ("DEMO-LAPTOP", 1, "damaged")).json()
    assert rma["status"] == "PND"
    patched = alice.patch(
        f"/api/v1/returns/{rma['number']}/",
        {"items": [{"sku": "DEMO-TSHIRT", "quantity": 1, "reason": "other"}], "comment": "Changed my mind"},
        format="json",
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["status"] == "APP"
    assert [i["sku"] for i in patched.json()["items"]] == ["DEMO-TSHIRT"]
    assert patched.json()["comment"] == "Changed my mind"
    cancelled = alice.post(f"/api/v1/returns/{rma['number']}/cancel/")
    assert cancelled.json()["status"] == "CAN"
    again = alice.post(f"/api/v1/returns/{rma['number']}/cancel/")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_transition"


def test_receiving_more_than_expected_is_refused_and_changes_nothing(demo):
    order = place_and_ship("alice", ("DEMO-TSHIRT", 1))
    rma = ask_return(login("alice"), order.number, ("DEMO-TSHIRT", 1, "damaged")).json()
    before = on_hand("DEMO-TSHIRT")
    answer = login("warehouse").post(
        f"/api/v1/backoffice/returns/{rma['number']}/receive/",
        {"items": [{"sku": "DEMO-TSHIRT", "quantity": 2, "disposition": "restock", "fulfillment_center": "EAST"}]},
        format="json",
    )
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "return_not_allowed"
    assert on_hand("DEMO-TSHIRT") == before
    missing_center = login("warehouse").post(
        f"/api/v1/backoffice/returns/{rma['number']}/receive/",
        {"items": [{"sku": "DEMO-TSHIRT", "quantity": 1, "disposition": "restock"}]},
        format="json",
    )
    assert missing_center.status_code == 400
