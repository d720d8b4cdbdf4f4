"""A just-placed order's first authorization: the answer and the order's move in one transaction.

The order, its items and its payment in memory are the ones placing wrote, so the answer is recorded
by conditional UPDATEs; when someone else moved the payment or the order between the gateway's answer
and that transaction, the general path reads them afresh and the outcome is the same.
"""

import dataclasses

import pytest

from orders import services
from orders.models import Order, OrderEvent, OrderItem
from orders.models import OrderStatus as S
from payments import services as payments
from payments.errors import PaymentDeclined
from payments.models import Payment, PaymentTransaction
from tests.orders.test_queries import placement

pytestmark = pytest.mark.django_db


def events_of(order: Order) -> list[tuple[str, str, str, str]]:
    return list(
        OrderEvent.objects.filter(order=order)
        .order_by("pk")
        .values_list("kind", "from_status", "to_status", "actor_name")
    )


def test_the_answer_and_the_move_are_recorded_together(demo):
    order, created = services.order_place(data=placement(3))

    assert created and order.status == S.AUTHORIZED
    assert set(OrderItem.objects.filter(order=order).values_list("status", flat=True)) == {S.AUTHORIZED}
    payment = Payment.objects.get(order=order)
    assert payment.status == "authorized"
    assert payment.approved_amount == order.grand_total
    assert payment.authorization_reference.startswith("SIM-")
    assert payment.authorized_at is not None
    log = PaymentTransaction.objects.get(payment=payment)
    assert (log.kind, log.outcome, log.applied, log.idempotency_key) == (
        "authorize",
        "success",
        True,
        payment.authorize_key,
    )
    assert events_of(order) == [
        ("note", "", "", "system"),
        ("status", "P", "M", "system"),
        ("payment", "", "", "payments"),
        ("payment", "", "", "payments"),
        ("status", "M", "C", "system"),
    ]
    authorized = OrderEvent.objects.filter(order=order, kind="payment").order_by("pk").last()
    assert authorized.message == f"Payment {payment.pk} authorized: {order.grand_total} USD."
    assert authorized.extra == {"payment": payment.pk, "payment_status": "authorized"}


def test_an_answer_sent_to_review_holds_the_order_with_the_reason(demo):
    data = dataclasses.replace(placement(2), payment_token="tok_review")

    order, _ = services.order_place(data=data)

    assert order.status == S.PAYMENT_REVIEW
    payment = Payment.objects.get(order=order)
    assert payment.status == "review"
    assert payment.status_reason
    held = OrderEvent.objects.filter(order=order, kind="payment").order_by("pk").last()
    assert held.reason == payment.status_reason
    assert events_of(order)[-1] == ("status", "M", "A", "system")


def test_a_payment_synced_meanwhile_leaves_the_order_to_the_general_path(demo, monkeypatch):
    ask = payments.payment_authorization_ask

    def ask_then_sync(*, payment):
        answer = ask(payment=payment)
        payments.payment_sync(payment=Payment.objects.get(pk=payment.pk))  # records the same answer first
        return answer

    monkeypatch.setattr(payments, "payment_authorization_ask", ask_then_sync)

    order, _ = services.order_place(data=placement(3))

    assert order.status == S.AUTHORIZED
    assert Order.objects.get(pk=order.pk).status == S.AUTHORIZED
    payment = Payment.objects.get(order=order)
    assert payment.status == "authorized"
    # The sync's answer was applied; the placement's own (the gateway's replay) is only logged.
    applied = list(PaymentTransaction.objects.filter(payment=payment).order_by("pk").values_list("applied", flat=True))
    assert applied == [True, False]
    assert events_of(order)[-1] == ("status", "M", "C", "system")
    assert OrderEvent.objects.filter(order=order, kind="payment", message__contains="authorized").count() == 1


def test_an_order_cancelled_meanwhile_stays_cancelled_and_its_authorization_is_voided(demo, monkeypatch):
    ask = payments.payment_authorization_ask

    def ask_then_cancel(*, payment):
        answer = ask(payment=payment)
        services.order_cancel(order=Order.objects.get(pk=payment.order_id), reason="Changed my mind")
        return answer

    monkeypatch.setattr(payments, "payment_authorization_ask", ask_then_cancel)

    with pytest.raises(PaymentDeclined):  # the payment no longer holds the money: the request says so
        services.order_place(data=placement(3))

    order = Order.objects.get(customer__user__username="alice", status=S.CANCELLED)
    assert order.events.filter(reason="Changed my mind").exists()
    payment = Payment.objects.get(order=order)
    assert payment.status == "voided"
    assert not OrderEvent.objects.filter(order=order, from_status=S.PAYMENT_PENDING, to_status=S.AUTHORIZED).exists()
