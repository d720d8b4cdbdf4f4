from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from payments.models import PaymentStatus
from payments.selectors import payment_current, payment_ledger, payments_expiring, payments_in_flight
from payments.services import payment_capture, payment_reauthorize, payment_refund
from tests.factories.orders import OrderFactory

pytestmark = pytest.mark.django_db


def test_current_payment_of_an_order(order, authorized):
    assert payment_current(order=order) is None
    first = authorized("tok_approve")

    payment_reauthorize(payment=first)

    current = payment_current(order=order)
    assert current != first
    assert (current.replaces, current.status) == (first, PaymentStatus.AUTHORIZED)


def test_expiring_selects_current_authorizations_lapsing_before_the_time(store, authorized):
    soon = authorized("tok_expiring")
    later = authorized("tok_approve", for_order=OrderFactory(store=store, grand_total=Decimal("5.00")))
    authorized("tok_review", for_order=OrderFactory(store=store, grand_total=Decimal("5.00")))
    authorized("tok_expiring", method="cod", for_order=OrderFactory(store=store, grand_total=Decimal("5.00")))

    assert list(payments_expiring(before=timezone.now() + timedelta(hours=2))) == [soon]
    assert list(payments_expiring(before=timezone.now() + timedelta(days=8))) == [soon, later]


def test_in_flight_lists_payments_waiting_for_an_answer(store, authorized):
    pending = authorized("tok_pending")
    authorized("tok_approve", for_order=OrderFactory(store=store, grand_total=Decimal("5.00")))

    assert list(payments_in_flight(started_before=timezone.now() - timedelta(minutes=5))) == []
    assert list(payments_in_flight(started_before=timezone.now() + timedelta(minutes=5))) == [pending]


def test_ledger_adds_up_the_confirmed_captures_and_refunds(authorized):
    payment = authorized("tok_approve")
    payment = payment_capture(payment=payment)
    payment = payment_refund(payment=payment, amount=Decimal("20.00"))
    payment = payment_refund(payment=payment, amount=Decimal("5.50"))

    ledger = payment_ledger(payment=payment)

    assert (ledger.captured, ledger.refunded) == (Decimal("120.00"), Decimal("25.50"))
    assert ledger.matches(payment)
