from decimal import Decimal

import pytest

from commerce.models import Customer
from spending_limits.models import PurchaseOrder
from spending_limits.services import spending_limits_charge
from tests.conftest import client_for
from tests.factories.commerce import CurrencyFactory, CustomerFactory, OrganizationFactory, StaffUserFactory
from tests.factories.spending_limits import PurchaseOrderFactory, TradingAgreementFactory, b2b_order

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.spending_limits.urls")]

URL = "/api/v1/spending-limits/"


@pytest.fixture
def acme():
    org = OrganizationFactory(code="acme")
    TradingAgreementFactory(
        organization=org, number="ACME-TA-1", currency=CurrencyFactory(code="EUR"), limit_amount=Decimal("10000.00")
    )
    TradingAgreementFactory(
        organization=org, number="ACME-TA-JPY", currency=CurrencyFactory(code="JPY"), limit_amount=Decimal("1000000")
    )
    PurchaseOrderFactory(organization=org, number="ACME-PO-BLANKET", type=PurchaseOrder.Type.BLANKET)
    PurchaseOrderFactory(organization=org, number="ACME-PO-LIMITED", limit_amount=Decimal("2000.00"))
    return org


@pytest.fixture
def rival():
    org = OrganizationFactory(code="rival")
    TradingAgreementFactory(organization=org, number="RIVAL-TA")
    PurchaseOrderFactory(organization=org, number="RIVAL-PO")
    return org


def test_buyer_sees_their_organizations_agreements_and_purchase_orders(acme, rival):
    buyer = CustomerFactory(organization=acme)
    order = b2b_order(acme, [("150.00", None)], customer=buyer, purchase_order_number="ACME-PO-LIMITED")
    spending_limits_charge(order=order)

    response = client_for(buyer.user).get(URL)

    assert response.status_code == 200
    assert response.json() == [
        {
            "number": "ACME-TA-1",
            "kind": "trading_agreement",
            "type": "right_to_buy",
            "currency": "EUR",
            "limit": "10000.00",
            "remaining": "10000.00",
            "state": "active",
            "usable": True,
        },
        {
            "number": "ACME-TA-JPY",
            "kind": "trading_agreement",
            "type": "right_to_buy",
            "currency": "JPY",
            "limit": "1000000",
            "remaining": "1000000",
            "state": "active",
            "usable": True,
        },
        {
            "number": "ACME-PO-BLANKET",
            "kind": "purchase_order",
            "type": "blanket",
            "currency": "USD",
            "limit": None,
            "remaining": None,
            "state": "active",
            "usable": True,
        },
        {
            "number": "ACME-PO-LIMITED",
            "kind": "purchase_order",
            "type": "limited",
            "currency": "USD",
            "limit": "2000.00",
            "remaining": "1850.00",
            "state": "active",
            "usable": True,
        },
    ]


def test_another_organizations_limits_never_show(acme, rival):
    buyer = CustomerFactory(organization=rival)

    numbers = [row["number"] for row in client_for(buyer.user).get(URL).json()]

    assert numbers == ["RIVAL-TA", "RIVAL-PO"]


def test_consumer_without_organization_gets_an_empty_list(acme):
    consumer = CustomerFactory(organization=None)

    response = client_for(consumer.user).get(URL)

    assert response.status_code == 200
    assert response.json() == []


def test_user_without_customer_record_gets_an_empty_list(acme):
    staff = StaffUserFactory()
    assert not Customer.objects.filter(user=staff).exists()

    assert client_for(staff).get(URL).json() == []


def test_without_credentials_is_401(api_client):
    response = api_client.get(URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
