"""Crediting returns: a smaller deposit, a refund that times out, two credits at once, B2B ledgers."""

import threading
from contextlib import suppress
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.db.models import Sum

from orders.models import Order
from orders.returns.crediting import return_request_credit
from orders.returns.models import ReturnRequest
from payments.models import Payment, PaymentTransaction
from spending_limits.models import (
    PurchaseOrder,
    PurchaseOrderPurchase,
    PurchaseOrderRefund,
    TradingAgreement,
    TradingAgreementPurchase,
    TradingAgreementRefund,
)
from tests.orders.returns.conftest import ask_return, login, place_and_ship

pytestmark = pytest.mark.django_db


def receive_all(number: str, sku: str, quantity: int, disposition: str = "scrap") -> None:
    line = {"sku": sku, "quantity": quantity, "disposition": disposition}
    if disposition == "restock":
        line["fulfillment_center"] = "EAST"
    answer = login("warehouse").post(f"/api/v1/backoffice/returns/{number}/receive/", {"items": [line]}, format="json")
    assert answer.status_code == 200, answer.content


def run_job() -> str:
    out = StringIO()
    with suppress(CommandError):
        call_command("return_credit_and_close", stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_a_return_before_the_deposit_makes_the_deposit_smaller(demo):
    order = place_and_ship("alice", ("DEMO-TSHIRT", 4))
    rma = ask_return(login("alice"), order.number, ("DEMO-TSHIRT", 1, "damaged")).json()
    receive_all(rma["number"], "DEMO-TSHIRT", 1)
    assert run_job() == "processed=1 succeeded=1 failed=0 skipped=0"
    rma = ReturnRequest.objects.get(number=rma["number"])
    assert rma.status == "CLO"
    assert rma.deposit_reduction == rma.credit_total > 0
    assert rma.refunded_amount == 0
    assert not PaymentTransaction.objects.filter(payment__order=order, kind="refund").exists()

    call_command("balance_payment", stdout=StringIO(), stderr=StringIO())
    payment = Payment.objects.get(order=order, is_current=True)
    assert payment.captured_amount == order.grand_total - rma.credit_total
    assert payment.refunded_amount == 0
    assert Order.objects.get(pk=order.pk).status == "D"
    assert run_job() == "processed=0 succeeded=0 failed=0 skipped=0"


def test_a_gateway_timeout_during_the_refund_leaves_the_return_approved_and_a_rerun_finishes(demo):
    order = place_and_ship("alice", ("DEMO-TSHIRT", 2), token="tok_timeout", deposit=True)
    rma = ask_return(login("alice"), order.number, ("DEMO-TSHIRT", 2, "damaged")).json()
    receive_all(rma["number"], "DEMO-TSHIRT", 2, "restock")

    first = login("clerk").post(f"/api/v1/backoffice/returns/{rma['number']}/credit/")
    assert first.status_code == 502
    assert first.json()["error"]["code"] == "payment_error"
    stuck = ReturnRequest.objects.get(number=rma["number"])
    assert stuck.status == "APP"
    payment = Payment.objects.get(order=order, is_current=True)
    assert payment.refunded_amount == 0
    assert payment.pending_operation == "refund"

    assert run_job() == "processed=1 succeeded=1 failed=0 skipped=0"
    done = ReturnRequest.objects.get(pk=stuck.pk)
    payment = Payment.objects.get(pk=payment.pk)
    assert done.status == "CLO"
    assert payment.refunded_amount == done.credit_total == done.refunded_amount
    assert payment.pending_operation == ""
    applied = PaymentTransaction.objects.filter(payment=payment, kind="refund", applied=True)
    assert [t.amount for t in applied] == [done.credit_total]


def b2b_shipped_order(**kwargs) -> Order:
    return place_and_ship(
        "bob", ("DEMO-TSHIRT", 5, "ACME-TA-1"), purchase_order_number="ACME-PO-LIMITED", deposit=True, **kwargs
    )


def test_the_ledgers_after_a_b2b_return_equal_the_purchase_minus_the_credit(demo):
    order = b2b_shipped_order()
    bob = login("bob")
    limits_before = {row["number"]: row for row in bob.get("/api/v1/spending-limits/").json()}
    rma = ask_return(bob, order.number, ("DEMO-TSHIRT", 2, "wrong_item")).json()
    receive_all(rma["number"], "DEMO-TSHIRT", 2)
    assert run_job() == "processed=1 succeeded=1 failed=0 skipped=0"
    rma = ReturnRequest.objects.get(number=rma["number"])
    credit = rma.credit_total
    assert credit > 0

    agreement = TradingAgreement.objects.get(number="ACME-TA-1")
    (purchase,) = TradingAgreementPurchase.objects.filter(order=order, trading_agreement=agreement)
    (refund,) = TradingAgreementRefund.objects.filter(order=order, trading_agreement=agreement)
    assert (refund.return_request_id, refund.order_item_id, refund.purchase_id) == (rma.pk, None, purchase.pk)
    assert refund.exchange_rate == purchase.exchange_rate
    assert refund.currency_id == "EUR"
    assert refund.amount == (credit * purchase.exchange_rate).quantize(Decimal("0.01"))
    assert purchase.order_amount - refund.order_amount == order.grand_total - credit

    po = PurchaseOrder.objects.get(number="ACME-PO-LIMITED")
    purchased = PurchaseOrderPurchase.objects.filter(purchase_order=po, order=order).aggregate(s=Sum("amount"))["s"]
    refunded = PurchaseOrderRefund.objects.filter(purchase_order=po, order=order).aggregate(s=Sum("amount"))["s"]
    assert purchased - refunded == order.grand_total - credit

    limits_after = {row["number"]: row for row in bob.get("/api/v1/spending-limits/").json()}
    assert Decimal(limits_after["ACME-PO-LIMITED"]["remaining"]) == (
        Decimal(limits_before["ACME-PO-LIMITED"]["remaining"]) + credit
    )
    assert Decimal(limits_after["ACME-TA-1"]["remaining"]) == (
        Decimal(limits_before["ACME-TA-1"]["remaining"]) + refund.amount
    )
    # A second credit changes nothing: one row per (agreement, return, order).
    return_request_credit(return_request=rma, partial=True)
    assert TradingAgreementRefund.objects.filter(order=order).count() == 1
    assert PurchaseOrderRefund.objects.filter(order=order).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_credit_runs_at_once_credit_once(demo):
    order = b2b_shipped_order()
    rma = ask_return(login("bob"), order.number, ("DEMO-TSHIRT", 3, "damaged")).json()
    receive_all(rma["number"], "DEMO-TSHIRT", 3)
    rma = ReturnRequest.objects.get(number=rma["number"])
    barrier = threading.Barrier(2)
    errors = []

    def credit():
        try:
            barrier.wait(timeout=10)
            return_request_credit(return_request=rma, actor_name="test", partial=False)
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=credit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    rma = ReturnRequest.objects.get(pk=rma.pk)
    payment = Payment.objects.get(order=order, is_current=True)
    assert rma.status == "CLO"
    assert payment.refunded_amount == rma.credit_total
    assert PaymentTransaction.objects.filter(payment=payment, kind="refund", applied=True).count() == 1
    assert TradingAgreementRefund.objects.filter(order=order).count() == 1
    assert PurchaseOrderRefund.objects.filter(order=order).count() == 1
    assert rma.events.filter(to_status="CLO").count() == 1
