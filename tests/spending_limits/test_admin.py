from decimal import Decimal

import pytest

from spending_limits.models import PurchaseOrder, TradingAgreementPurchase
from spending_limits.services import spending_limits_charge
from tests.factories.commerce import CurrencyFactory, OrganizationFactory, StaffUserFactory
from tests.factories.spending_limits import PurchaseOrderFactory, TradingAgreementFactory, b2b_order

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.spending_limits.urls")]


@pytest.fixture
def admin_client(client):
    client.force_login(StaffUserFactory(is_superuser=True))
    return client


@pytest.fixture
def org():
    return OrganizationFactory(code="acme")


def test_agreement_list_shows_remaining_balances_in_constant_queries(admin_client, org, django_assert_max_num_queries):
    for n in range(6):
        agreement = TradingAgreementFactory(organization=org, number=f"TA-{n}", currency=CurrencyFactory(code="USD"))
        spending_limits_charge(order=b2b_order(org, [("100.00", agreement)]))
    TradingAgreementFactory(organization=org, number="TA-FREE", limit_amount=None)

    with django_assert_max_num_queries(12):
        response = admin_client.get("/admin/spending_limits/tradingagreement/")

    content = response.content.decode()
    assert response.status_code == 200
    assert content.count("900.00 USD") == 6
    assert "unlimited" in content


def test_purchase_order_list_and_page_show_the_ledger(admin_client, org):
    purchase_order = PurchaseOrderFactory(organization=org, number="PO-1", limit_amount=Decimal("500.00"))
    order = b2b_order(org, [("120.00", None)], purchase_order_number="PO-1")
    spending_limits_charge(order=order)

    listing = admin_client.get("/admin/spending_limits/purchaseorder/")
    page = admin_client.get(f"/admin/spending_limits/purchaseorder/{purchase_order.pk}/change/")

    assert "380.00 USD" in listing.content.decode()
    assert page.status_code == 200
    assert order.number in page.content.decode()


def test_currency_cannot_change_once_a_limit_was_charged(admin_client, org):
    purchase_order = PurchaseOrderFactory(organization=org, number="PO-1")
    spending_limits_charge(order=b2b_order(org, [("10.00", None)], purchase_order_number="PO-1"))

    response = admin_client.post(
        f"/admin/spending_limits/purchaseorder/{purchase_order.pk}/change/",
        {
            "organization": org.pk,
            "number": "PO-1",
            "type": PurchaseOrder.Type.LIMITED,
            "limit_amount": "1500.00",
            "currency": CurrencyFactory(code="EUR").pk,
            "state": PurchaseOrder.State.ACTIVE,
            "purchases-TOTAL_FORMS": "0",
            "purchases-INITIAL_FORMS": "0",
            "refunds-TOTAL_FORMS": "0",
            "refunds-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    purchase_order.refresh_from_db()
    assert purchase_order.limit_amount == Decimal("1500.00")
    assert purchase_order.currency_id == "USD"


def test_ledgers_are_read_only(admin_client, org):
    agreement = TradingAgreementFactory(organization=org)
    spending_limits_charge(order=b2b_order(org, [("10.00", agreement)]))
    row = TradingAgreementPurchase.objects.get()

    listing = admin_client.get("/admin/spending_limits/tradingagreementpurchase/")
    add = admin_client.get("/admin/spending_limits/tradingagreementpurchase/add/")
    delete = admin_client.post(f"/admin/spending_limits/tradingagreementpurchase/{row.pk}/delete/", {"post": "yes"})

    assert listing.status_code == 200
    assert add.status_code == 403
    assert delete.status_code == 403
    assert TradingAgreementPurchase.objects.filter(pk=row.pk).exists()


def test_ledger_rows_show_money_in_the_currency_minor_unit_and_link_their_order(admin_client, org):
    agreement = TradingAgreementFactory(
        organization=org, currency=CurrencyFactory(code="JPY", minor_units=0), limit_amount=Decimal("1000000")
    )
    order = b2b_order(org, [("1500", agreement)], currency="JPY")
    spending_limits_charge(order=order)
    row = TradingAgreementPurchase.objects.get()

    listing = admin_client.get("/admin/spending_limits/tradingagreementpurchase/").content.decode()
    page = admin_client.get(f"/admin/spending_limits/tradingagreementpurchase/{row.pk}/change/").content.decode()
    agreements = admin_client.get("/admin/spending_limits/tradingagreement/").content.decode()

    assert "1500 JPY" in listing
    assert "1500.00000" not in listing
    assert f'<a href="/admin/orders/order/{order.pk}/change/">{order.number}</a>' in listing
    assert f'<a href="/admin/orders/order/{order.pk}/change/">{order.number}</a>' in page
    assert "998500 JPY" in agreements  # remaining, no decimals
