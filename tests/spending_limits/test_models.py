from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from spending_limits.models import TradingAgreementPurchase
from tests.factories.commerce import OrganizationFactory
from tests.factories.spending_limits import TradingAgreementFactory, b2b_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def charged():
    org = OrganizationFactory()
    agreement = TradingAgreementFactory(organization=org)
    order = b2b_order(org, [("10.00", agreement), ("20.00", agreement)])
    return agreement, order


def purchase(agreement, order, order_item=None, amount="10.00"):
    return TradingAgreementPurchase.objects.create(
        trading_agreement=agreement,
        order=order,
        order_item=order_item,
        amount=Decimal(amount),
        currency_id="USD",
        order_amount=Decimal(amount),
        order_currency_id="USD",
        exchange_rate=Decimal("1"),
    )


def test_a_second_order_level_row_for_the_same_agreement_and_order_is_refused(charged):
    agreement, order = charged
    purchase(agreement, order)

    with pytest.raises(IntegrityError), transaction.atomic():
        purchase(agreement, order)


def test_a_second_row_for_the_same_item_is_refused_but_other_items_are_fine(charged):
    agreement, order = charged
    first, second = order.items.order_by("pk")
    purchase(agreement, order, first)
    purchase(agreement, order, second)

    with pytest.raises(IntegrityError), transaction.atomic():
        purchase(agreement, order, first)

    assert TradingAgreementPurchase.objects.count() == 2


def test_a_negative_amount_is_refused(charged):
    agreement, order = charged

    with pytest.raises(IntegrityError), transaction.atomic():
        purchase(agreement, order, amount="-1.00")
