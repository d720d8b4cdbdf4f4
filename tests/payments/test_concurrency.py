"""Payments under real concurrency (PostgreSQL row locks, threads with their own connections)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from commerce.errors import ApplicationError
from payments.models import Payment, PaymentStatus, SimulatedAuthorization
from payments.services import payment_authorize, payment_capture, payment_create, payment_sync, payment_void
from tests.factories.commerce import StoreFactory
from tests.factories.orders import OrderFactory
from tests.payments.helpers import at_gateway, ledger_matches

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

S = PaymentStatus


def run_together(calls) -> list[str]:
    """Run the calls in threads released at the same moment; return each one's outcome."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = [""] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            call()
            outcomes[index] = "done"
        except ApplicationError as exc:
            outcomes[index] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def new_payments(count: int, token: str) -> list[Payment]:
    store = StoreFactory()
    payments = []
    for _ in range(count):
        payment = payment_create(
            order=OrderFactory(store=store, grand_total=Decimal("120.00")), method="card", token=token
        )
        payment_authorize(payment=payment)
        payments.append(payment)
    return payments


def test_capture_racing_void_exactly_one_wins_and_the_ledger_agrees():
    payments = new_payments(10, "tok_approve")
    calls = []
    for payment in payments:
        calls.append(lambda pk=payment.pk: payment_capture(payment=Payment.objects.get(pk=pk)))
        calls.append(lambda pk=payment.pk: payment_void(payment=Payment.objects.get(pk=pk)))

    outcomes = run_together(calls)

    for index, payment in enumerate(payments):
        capture, void = outcomes[2 * index], outcomes[2 * index + 1]
        assert sorted([capture, void]) in (["done", "invalid_transition"], ["done", "payment_error"])
        payment.refresh_from_db()
        gateway = at_gateway(payment)
        if capture == "done":
            assert (payment.status, payment.captured_amount) == (S.DEPOSITED, Decimal("120.00"))
            assert (gateway.state, gateway.captured_amount) == ("captured", Decimal("120.00"))
        else:
            assert (payment.status, payment.captured_amount) == (S.VOIDED, 0)
            assert (gateway.state, gateway.captured_amount) == ("voided", 0)
        assert ledger_matches(payment)
        assert payment.transactions.filter(kind__in=["capture", "void"], applied=True).count() == 1
        assert payment.pending_operation == ""


def test_concurrent_captures_with_one_key_capture_once():
    (payment,) = new_payments(1, "tok_approve")

    outcomes = run_together(
        [lambda: payment_capture(payment=Payment.objects.get(pk=payment.pk), idempotency_key="deposit")] * 10
    )

    payment.refresh_from_db()
    assert "done" in outcomes
    assert set(outcomes) <= {"done", "payment_error"}  # a repeat while the first is in flight is told to wait
    assert payment.captured_amount == Decimal("120.00")
    assert at_gateway(payment).captured_amount == Decimal("120.00")
    assert payment.transactions.filter(kind="capture", applied=True).count() == 1
    assert ledger_matches(payment)


def test_concurrent_syncs_of_a_timed_out_authorization_authorize_once():
    (payment,) = new_payments(1, "tok_timeout")

    outcomes = run_together([lambda: payment_sync(payment=Payment.objects.get(pk=payment.pk))] * 10)

    payment.refresh_from_db()
    assert set(outcomes) == {"done"}
    assert payment.status == S.AUTHORIZED
    assert SimulatedAuthorization.objects.count() == 1
    assert payment.transactions.filter(kind="authorize", applied=True).count() == 1
