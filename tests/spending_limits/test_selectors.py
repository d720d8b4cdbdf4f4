from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from spending_limits.models import AgreementState, PurchaseOrder
from spending_limits.selectors import (
    organization_spending_limits,
    purchase_order_remaining,
    remaining_balance,
    trading_agreement_remaining,
)
from spending_limits.services import spending_limits_charge, spending_limits_credit
from tests.factories.commerce import OrganizationFactory
from tests.factories.spending_limits import PurchaseOrderFactory, TradingAgreementFactory, b2b_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return OrganizationFactory(code="acme")


def test_remaining_is_limit_minus_purchases_plus_refunds_in_the_limit_currency():
    remaining = remaining_balance(
        limit=Decimal("1000.00"), purchased=Decimal("400.10"), refunded=Decimal("100.05"), currency="JPY"
    )

    assert remaining == Decimal("700")


def test_remaining_of_an_agreement_follows_its_ledger(org):
    agreement = TradingAgreementFactory(organization=org, limit_amount=Decimal("500.00"))
    kept = b2b_order(org, [("120.00", agreement)])
    cancelled = b2b_order(org, [("80.00", agreement)])
    spending_limits_charge(order=kept)
    spending_limits_charge(order=cancelled)

    spending_limits_credit(order=cancelled, reason="Order cancelled")

    assert trading_agreement_remaining(agreement=agreement) == Decimal("380.00")


def test_unlimited_agreement_and_blanket_po_have_no_remaining(org):
    agreement = TradingAgreementFactory(organization=org, limit_amount=None)
    blanket = PurchaseOrderFactory(organization=org, type=PurchaseOrder.Type.BLANKET)

    assert trading_agreement_remaining(agreement=agreement) is None
    assert purchase_order_remaining(purchase_order=blanket) is None


def test_organization_limits_show_what_can_be_used_now(org):
    TradingAgreementFactory(organization=org, number="TA-ACTIVE")
    TradingAgreementFactory(organization=org, number="TA-SUSPENDED", state=AgreementState.SUSPENDED)
    TradingAgreementFactory(organization=org, number="TA-EXPIRED", valid_until=timezone.now() - timedelta(hours=1))
    PurchaseOrderFactory(organization=org, number="PO-CLOSED", state=PurchaseOrder.State.CLOSED)
    PurchaseOrderFactory(organization=org, number="PO-SINGLE-FRESH", type=PurchaseOrder.Type.SINGLE_USE)
    PurchaseOrderFactory(organization=org, number="PO-SINGLE-USED", type=PurchaseOrder.Type.SINGLE_USE)
    spending_limits_charge(order=b2b_order(org, [("10.00", None)], purchase_order_number="PO-SINGLE-USED"))
    TradingAgreementFactory(organization=OrganizationFactory(code="other"), number="TA-OTHER")

    limits = {limit.number: limit for limit in organization_spending_limits(organization=org)}

    assert {number: limit.usable for number, limit in limits.items()} == {
        "TA-ACTIVE": True,
        "TA-EXPIRED": False,
        "TA-SUSPENDED": False,
        "PO-CLOSED": False,
        "PO-SINGLE-FRESH": True,
        "PO-SINGLE-USED": False,
    }
    assert limits["PO-SINGLE-USED"].remaining == Decimal("990.00")


def test_organization_limits_take_a_constant_number_of_queries(org, django_assert_num_queries):
    for n in range(5):
        agreement = TradingAgreementFactory(organization=org, number=f"TA-{n}")
        PurchaseOrderFactory(organization=org, number=f"PO-{n}")
        spending_limits_charge(order=b2b_order(org, [("10.00", agreement)], purchase_order_number=f"PO-{n}"))

    with django_assert_num_queries(2):
        limits = organization_spending_limits(organization=org)

    assert len(limits) == 10
    assert {limit.remaining for limit in limits} == {Decimal("990.00")}


def test_no_organization_has_no_limits():
    assert organization_spending_limits(organization=None) == []
