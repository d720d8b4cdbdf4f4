"""Return e-mails: each kind, sent by the flow, names the return and says what happened."""

import pytest
from django.core import mail
from django.template.loader import get_template

from commerce.notifications import NOTIFICATIONS, Audience
from tests.orders.returns.conftest import ask_return, login, place_and_ship

RETURN_KINDS = sorted(kind for kind in NOTIFICATIONS if kind.startswith("return_"))

pytestmark = pytest.mark.django_db


def test_every_return_kind_has_its_three_templates_and_an_audience():
    assert RETURN_KINDS == [
        "return_approved",
        "return_change_refused",
        "return_credited",
        "return_denied",
        "return_pending_approval",
        "return_received",
    ]
    assert {kind: NOTIFICATIONS[kind] for kind in RETURN_KINDS if NOTIFICATIONS[kind] != Audience.CUSTOMER} == {
        "return_pending_approval": Audience.MERCHANT
    }
    for kind in RETURN_KINDS:
        for suffix in ("_subject.txt", ".txt", ".html"):
            assert get_template(f"emails/{kind}{suffix}")


def test_the_flow_sends_each_e_mail_to_its_audience(demo, django_capture_on_commit_callbacks):
    order = place_and_ship("alice", ("DEMO-LAPTOP", 1), ("DEMO-TSHIRT", 1))
    alice, clerk, warehouse = login("alice"), login("clerk"), login("warehouse")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        rma = ask_return(alice, order.number, ("DEMO-LAPTOP", 1, "damaged"), ("DEMO-TSHIRT", 1, "other")).json()
        number = rma["number"]
        clerk.post(
            f"/api/v1/backoffice/returns/{number}/approve/",
            {"items": [{"sku": "DEMO-LAPTOP", "approve": False, "reason": "Out of the window for laptops"}]},
            format="json",
        )
        warehouse.post(
            f"/api/v1/backoffice/returns/{number}/receive/",
            {"items": [{"sku": "DEMO-TSHIRT", "quantity": 1, "disposition": "scrap"}]},
            format="json",
        )
        clerk.post(f"/api/v1/backoffice/returns/{number}/credit/")
        alice.post(f"/api/v1/returns/{number}/cancel/")
    by_subject = {message.subject: message for message in mail.outbox}
    pending = by_subject[f"Return {number} waits for approval"]
    assert "merchant@demo-store.example" in pending.to
    assert "over_auto_approve_limit" not in pending.body and "above the auto-approve limit" in pending.body
    approved = by_subject[f"Your return {number} is approved"]
    assert approved.to == ["alice@example.com"]
    assert "Out of the window for laptops" in approved.body
    assert f"the goods of your return {number}" in by_subject[f"We received the goods of your return {number}"].body
    credit = next(
        message for subject, message in by_subject.items() if subject.startswith(f"Your return {number} is credited")
    )
    assert "go back to your payment" not in credit.body  # not deposited yet: a smaller charge instead
    assert "less for the order" in credit.body
    refused = by_subject[f"We could not change your return {number}"]
    assert "the goods were received and the credit issued already" in refused.body
    for message in mail.outbox:
        assert number in message.body
        assert number in message.alternatives[0][0]
        assert "{{" not in message.body
