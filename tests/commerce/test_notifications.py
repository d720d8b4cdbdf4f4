"""E-mail notifications: every kind renders subject, text and HTML for a realistic order."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.template.loader import get_template
from django.utils import timezone

from commerce.notifications import NOTIFICATIONS, Audience, notify, send_notification
from orders.models import InventoryStatus, OrderStatus
from tests.factories.commerce import (
    CustomerFactory,
    OrganizationFactory,
    ProductFactory,
    StoreFactory,
    UserFactory,
    currency,
)
from tests.factories.orders import OrderFactory, OrderItemFactory, recompute_totals

S = OrderStatus
# Written by the fulfillment app with its shipment context, and by returns with theirs
# (tests/orders/returns/test_emails.py).
OTHER_TEAMS_KINDS = {"order_shipped"} | {kind for kind in NOTIFICATIONS if kind.startswith("return_")}
KINDS = sorted(set(NOTIFICATIONS) - OTHER_TEAMS_KINDS)

# What each kind's caller passes, and a sentence the e-mail must then carry.
CONTEXTS = {
    "order_received": ({}, "thank you for your order"),
    "order_backordered": ({}, "expected by 15 December 2026"),
    "order_cancelled": ({"reason": "You asked us to cancel it."}, "Reason: You asked us to cancel it."),
    "payment_declined": ({"reason": "insufficient funds"}, "was declined: insufficient funds"),
    "change_refused": (
        {"change": "Ship to 1 Other Road", "reason": "The order is already with the warehouse."},
        "Reason: The order is already with the warehouse.",
    ),
    "approval_rejected": ({"reason": "Over this quarter's budget."}, "Reason: Over this quarter's budget."),
    "payment_review": ({"reason": "AVS mismatch"}, "Why:           AVS mismatch"),
    "order_cancelled_by_job": (
        {"reason": "The payment could no longer be authorized.", "job_name": "release_to_fulfillment"},
        "was cancelled by release_to_fulfillment",
    ),
    "approval_requested": ({}, "asks an approver's OK for orders above 5000.00 USD"),
    "job_failures": (None, "could not process 1 order"),
    "payment_declined_after_release": ({"reason": "Card reported stolen"}, "was declined: Card reported stolen"),
}


@pytest.fixture
def order(db):
    store = StoreFactory(is_default=True, name="Demo Store", email="orders@demo.example")
    acme = OrganizationFactory(
        code="acme", name="ACME", approval_threshold=Decimal("5000.00"), approval_currency=currency("USD")
    )
    acme.approvers.add(UserFactory(username="carol"))
    buyer = CustomerFactory(user=UserFactory(username="bob", first_name="Bob", last_name="Buyer"), organization=acme)
    order = OrderFactory(
        store=store,
        customer=buyer,
        status=S.BACKORDERED,
        ship_to_name="Bob & Co",
        placed_at=timezone.make_aware(datetime(2026, 11, 20, 9, 30)),
        status_reason="",
    )
    mug = ProductFactory(sku="DEMO-MUG", name="Demo mug", price=Decimal("12.50"), backorderable=True)
    shirt = ProductFactory(sku="DEMO-TSHIRT", name="Demo T-shirt", price=Decimal("19.00"))
    OrderItemFactory(
        order=order,
        product=shirt,
        quantity=2,
        tax=Decimal("3.04"),
        shipping_charge=Decimal("5.00"),
        shipping_tax=Decimal("0.40"),
        inventory_status=InventoryStatus.ALLOCATED,
    )
    OrderItemFactory(
        order=order,
        product=mug,
        quantity=4,
        tax=Decimal("4.00"),
        inventory_status=InventoryStatus.BACKORDERED,
        estimated_available_at=date(2026, 12, 15),
    )
    return recompute_totals(order)


def expected_recipients(kind: str) -> list[str]:
    return {
        Audience.CUSTOMER: ["bob@example.com"],
        Audience.MERCHANT: ["merchant@demo-store.example", "orders@demo.example"],
        Audience.APPROVERS: ["carol@example.com"],
    }[NOTIFICATIONS[kind]]


def send(kind: str, order) -> mail.EmailMultiAlternatives:
    context, _ = CONTEXTS[kind]
    if context is None:  # job_failures: about a run, not one order
        payload = {
            "order_id": None,
            "context": {
                "job_name": "balance_payment",
                "run_id": 42,
                "worker": "worker-1:123",
                "started_at": "2026-11-22T03:00:00",
                "processed": 12,
                "succeeded": 10,
                "failed": 1,
                "skipped": 1,
                "failures": [{"order_number": order.number, "failures": 3, "error": "PaymentError: capture refused"}],
                "repeated_count": 1,
                "repeated_threshold": 3,
            },
        }
    else:
        payload = {"order_id": order.pk, "context": context}
    assert send_notification(kind, payload) == 1
    (message,) = mail.outbox
    return message


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_subject_text_and_html(kind, order):
    message = send(kind, order)

    _, sentence = CONTEXTS[kind]
    assert message.to == expected_recipients(kind)
    assert message.subject.strip() and "\n" not in message.subject
    assert order.number in message.body
    assert sentence in message.body
    assert "{{" not in message.body and "{%" not in message.body
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert order.number in html
    assert "Demo Store" in html


@pytest.mark.parametrize("kind", sorted(set(KINDS) - {"job_failures"}))
def test_order_e_mails_name_the_order_in_the_subject_and_show_items_and_totals(kind, order):
    message = send(kind, order)

    assert order.number in message.subject
    assert "2 x Demo T-shirt (DEMO-TSHIRT) at 19.00 = 38.00 USD" in message.body
    assert "Total:         100.44 USD" in message.body
    assert "100.44 USD" in message.alternatives[0][0]


def test_the_backorder_e_mail_gives_each_backordered_item_its_date(order):
    message = send("order_backordered", order)

    assert "4 x Demo mug (DEMO-MUG): expected by 15 December 2026" in message.body
    assert "DEMO-TSHIRT):" not in message.body


def test_text_is_not_html_escaped_and_html_is(order):
    message = send("order_received", order)

    assert "Hello Bob & Co," in message.body
    assert "Bob &amp; Co" in message.alternatives[0][0]


def test_the_cancellation_reason_falls_back_to_the_order(order):
    order.cancel(reason="Payment expired.")
    order.save()

    message = send_and_read("order_cancelled", order, context={})

    assert "Reason: Payment expired." in message.body


def test_amounts_use_the_currency_minor_units(order):
    order.currency = currency("JPY")
    order.save()
    order.items.update(unit_price=Decimal("1500"), product_total=Decimal("3000"))

    message = send_and_read("order_received", order, context={})

    assert "at 1500 = 3000 JPY" in message.body


def send_and_read(kind: str, order, *, context) -> mail.EmailMultiAlternatives:
    send_notification(kind, {"order_id": order.pk, "context": context})
    return mail.outbox[-1]


def test_notify_sends_after_commit_through_the_task_queue(order, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify("order_cancelled", order_id=order.pk, context={"reason": "Out of stock for good."})
        assert mail.outbox == []

    assert [message.subject for message in mail.outbox] == [f"Your order {order.number} is cancelled"]


def test_with_the_orm_broker_the_task_is_queued_in_the_changing_transaction(order, settings, monkeypatch):
    from django.db import transaction
    from django_q.conf import Conf
    from django_q.models import OrmQ

    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}
    monkeypatch.setattr(Conf, "SYNC", False)
    queued = OrmQ.objects.count()

    with pytest.raises(RuntimeError), transaction.atomic():
        notify("order_cancelled", order_id=order.pk, context={"reason": "Out of stock for good."})
        raise RuntimeError("the change fails")
    assert OrmQ.objects.count() == queued  # rolled back with the change

    with transaction.atomic():
        notify("order_cancelled", order_id=order.pk, context={"reason": "Out of stock for good."})
    # Written with the change, not left to a callback after its commit (which a crash could lose).
    assert OrmQ.objects.count() == queued + 1
    assert mail.outbox == []


def test_every_kind_has_its_three_templates():
    for kind in KINDS:
        for suffix in ("_subject.txt", ".txt", ".html"):
            assert get_template(f"emails/{kind}{suffix}")
