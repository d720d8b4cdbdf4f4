from decimal import Decimal

import pytest
from django.utils import timezone

from payments.models import Payment
from payments.services import payment_authorize, payment_create
from tests.factories.orders import OrderFactory


@pytest.fixture
def order(store):
    return OrderFactory(store=store, grand_total=Decimal("120.00"))


@pytest.fixture
def pay(order):
    """Create a payment for the order (a card with ``token`` by default)."""

    def make(token: str = "tok_approve", *, method: str = "card", amount=None, for_order=None) -> Payment:
        return payment_create(order=for_order or order, method=method, token=token, amount=amount)

    return make


@pytest.fixture
def authorized(pay):
    """Create a payment and authorize it through the services."""

    def make(token: str = "tok_approve", **kwargs) -> Payment:
        payment = pay(token, **kwargs)
        payment_authorize(payment=payment)
        return Payment.objects.get(pk=payment.pk)

    return make


@pytest.fixture
def travel(monkeypatch):
    """Move Django's clock to ``moment`` (the services and the simulated gateway both read it)."""

    def to(moment):
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return to
