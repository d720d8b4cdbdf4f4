"""A limit's currency is frozen once it has ledger rows: by the service and by the database."""

import pytest
from django.db import IntegrityError, transaction

from commerce.models import Currency
from spending_limits.currency_freeze import CurrencyFrozen, spending_limit_set_currency
from spending_limits.models import PurchaseOrder, TradingAgreement
from tests.orders.conftest import place

pytestmark = pytest.mark.django_db


@pytest.fixture
def charged(as_user):
    response = place(as_user("bob"), ("DEMO-HOODIE", 1, "ACME-TA-1"))
    assert response.status_code == 201, response.json()
    return TradingAgreement.objects.get(number="ACME-TA-1")


def test_the_service_refuses_to_change_a_used_agreements_currency(charged):
    with pytest.raises(CurrencyFrozen) as refused:
        spending_limit_set_currency(holder=charged, currency="USD")

    assert refused.value.code == "currency_frozen"
    assert TradingAgreement.objects.get(pk=charged.pk).currency_id == "EUR"


def test_the_service_changes_an_unused_limits_currency(demo):
    unused = TradingAgreement.objects.get(number="ACME-TA-JPY")

    assert spending_limit_set_currency(holder=unused, currency="USD").currency_id == "USD"
    assert TradingAgreement.objects.get(pk=unused.pk).currency_id == "USD"


def test_the_database_refuses_it_through_the_orm_save(charged):
    charged.currency = Currency.objects.get(code="USD")

    with pytest.raises(IntegrityError), transaction.atomic():
        charged.save()

    assert TradingAgreement.objects.get(pk=charged.pk).currency_id == "EUR"


def test_the_database_refuses_a_bulk_update_too(charged):
    with pytest.raises(IntegrityError), transaction.atomic():
        TradingAgreement.objects.filter(pk=charged.pk).update(currency="USD")


def test_the_database_refuses_it_for_a_used_purchase_order(as_user):
    response = place(
        as_user("bob"), ("DEMO-CAP", 1), method="purchase_order", token=None, purchase_order_number="ACME-PO-LIMITED"
    )
    assert response.status_code == 201, response.json()

    with pytest.raises(IntegrityError), transaction.atomic():
        PurchaseOrder.objects.filter(number="ACME-PO-LIMITED").update(currency="EUR")
    # Other fields of a used limit still change.
    assert PurchaseOrder.objects.filter(number="ACME-PO-LIMITED").update(limit_amount="2500.00") == 1
