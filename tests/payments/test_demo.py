"""The demo store's accept policies (DESIGN section 13)."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from commerce.models import Store
from payments.demo import seed_payment_policies
from payments.models import AcceptPolicy
from payments.policies import PaymentDecision
from payments.services import payment_authorize, payment_create
from tests.factories.orders import OrderFactory

pytestmark = pytest.mark.django_db

D = PaymentDecision


@pytest.fixture
def demo_store():
    call_command("seed_demo", stdout=StringIO())
    return Store.objects.get(code="demo")


def decision(store, *, method="card", token="tok_approve", total="120.00") -> PaymentDecision:
    order = OrderFactory(store=store, currency=store.currency, grand_total=Decimal(total))
    return payment_authorize(payment=payment_create(order=order, method=method, token=token))


def test_seed_demo_gives_the_demo_store_its_policies(demo_store):
    assert set(AcceptPolicy.objects.filter(store=demo_store).values_list("method", flat=True)) == {
        "card",
        "cod",
        "bill_me",
    }


def test_seeding_again_leaves_the_policies_as_they_are(demo_store):
    AcceptPolicy.objects.filter(store=demo_store, method="card").update(needs_approval=True)

    seed_payment_policies(store=demo_store)
    call_command("seed_demo", stdout=StringIO())

    assert AcceptPolicy.objects.filter(store=demo_store).count() == 3
    assert AcceptPolicy.objects.get(store=demo_store, method="card").needs_approval


@pytest.mark.parametrize(
    ("method", "token", "total", "expected"),
    [
        ("card", "tok_approve", "120.00", D.YES),
        ("card", "tok_approve", "20000.00", D.YES),
        ("card", "tok_approve", "20000.01", D.REVIEW),
        ("card", "tok_review", "120.00", D.REVIEW),
        ("cod", "", "25000.00", D.YES),
        ("bill_me", "", "25000.00", D.YES),
    ],
)
def test_demo_card_payments_go_to_review_only_on_a_mismatch_or_above_20000(demo_store, method, token, total, expected):
    assert decision(demo_store, method=method, token=token, total=total) == expected
