from decimal import Decimal

import pytest

from commerce.errors import NoExchangeRate
from spending_limits.approvals import order_requires_approval, organization_approvers, user_can_approve
from tests.factories.commerce import CurrencyFactory, ExchangeRateFactory, OrganizationFactory, UserFactory
from tests.factories.spending_limits import b2b_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return OrganizationFactory(
        code="acme", approval_threshold=Decimal("5000.00"), approval_currency=CurrencyFactory(code="USD")
    )


@pytest.mark.parametrize(("total", "required"), [("4999.99", False), ("5000.00", False), ("5000.01", True)])
def test_order_above_the_threshold_requires_approval(org, total, required):
    assert order_requires_approval(order=b2b_order(org, [(total, None)])) is required


def test_the_grand_total_is_converted_into_the_approval_currency(org):
    org.approval_currency = CurrencyFactory(code="EUR")
    org.approval_threshold = Decimal("1000.00")
    org.save()
    ExchangeRateFactory(
        from_currency=CurrencyFactory(code="USD"), to_currency=CurrencyFactory(code="EUR"), rate=Decimal("0.92")
    )

    # 1086.95 USD = 999.99 EUR; 1086.97 USD = 1000.01 EUR.
    assert order_requires_approval(order=b2b_order(org, [("1086.95", None)])) is False
    assert order_requires_approval(order=b2b_order(org, [("1086.97", None)])) is True


def test_missing_rate_to_the_approval_currency_is_a_clear_error(org):
    org.approval_currency = CurrencyFactory(code="JPY")
    org.save()

    with pytest.raises(NoExchangeRate):
        order_requires_approval(order=b2b_order(org, [("10.00", None)]))


def test_no_threshold_or_no_organization_never_requires_approval():
    assert order_requires_approval(order=b2b_order(OrganizationFactory(), [("99999.00", None)])) is False
    assert order_requires_approval(order=b2b_order(None, [("99999.00", None)])) is False


def test_only_active_approvers_of_the_orders_organization_can_approve(org):
    approver = UserFactory()
    retired = UserFactory(is_active=False)
    other_org_approver = UserFactory()
    org.approvers.add(approver, retired)
    OrganizationFactory(code="other").approvers.add(other_org_approver)
    order = b2b_order(org, [("6000.00", None)])

    assert user_can_approve(user=approver, order=order) is True
    assert user_can_approve(user=retired, order=order) is False
    assert user_can_approve(user=other_org_approver, order=order) is False
    assert user_can_approve(user=order.customer.user, order=order) is False
    assert list(organization_approvers(organization=org)) == [approver]


def test_nobody_approves_a_consumer_order():
    approver = UserFactory()
    OrganizationFactory().approvers.add(approver)

    assert user_can_approve(user=approver, order=b2b_order(None, [("10.00", None)])) is False
