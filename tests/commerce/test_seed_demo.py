from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from commerce.models import ExchangeRate, Organization, Product, Store
from fulfillment.models import ExpectedReceiptLine, Stock
from spending_limits.models import PurchaseOrder, TradingAgreement

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def stock_of(sku: str, *, inventory_system: str = "atp") -> dict[str, int]:
    """On hand per center of one inventory system (the Demo Store's: ATP; demo-nonatp's: non-ATP)."""
    rows = Stock.objects.filter(product__sku=sku, fulfillment_center__inventory_system=inventory_system)
    return dict(rows.values_list("fulfillment_center__code", "on_hand"))


def test_seed_demo_creates_the_contract_data():
    output = seed()

    store = Store.objects.get(name="Demo Store")
    assert store.currency_id == "USD"
    assert stock_of("DEMO-TSHIRT") == {"EAST": 100, "WEST": 50}
    assert stock_of("DEMO-MUG") == {"EAST": 5, "WEST": 0}
    assert stock_of("DEMO-POSTER") == {"EAST": 10, "WEST": 0}
    assert stock_of("DEMO-LAPTOP") == {"EAST": 3, "WEST": 2}
    assert Product.objects.get(sku="DEMO-MUG").price == Decimal("12.50")
    assert Product.objects.get(sku="DEMO-POSTER").backorderable is False
    line = ExpectedReceiptLine.objects.get(product__sku="DEMO-MUG")
    assert (line.receipt.fulfillment_center.code, line.quantity_ordered) == ("EAST", 20)
    rates = {(r.from_currency_id, r.to_currency_id): r.rate for r in ExchangeRate.objects.all()}
    assert rates == {("USD", "EUR"): Decimal("0.92"), ("EUR", "USD"): Decimal("1.087"), ("USD", "GBP"): Decimal("0.79")}
    acme = Organization.objects.get(name="ACME")
    assert acme.approval_threshold == Decimal("5000.00")
    assert list(acme.approvers.values_list("username", flat=True)) == ["carol"]
    assert TradingAgreement.objects.get(number="ACME-TA-1").limit_amount == Decimal("10000.00")
    assert TradingAgreement.objects.get(number="ACME-TA-JPY").currency_id == "JPY"
    assert PurchaseOrder.objects.get(number="ACME-PO-SINGLE").type == "single_use"
    users = get_user_model().objects
    for username in ["alice", "dave", "bob", "carol", "admin", "clerk", "payments", "warehouse", "supervisor"]:
        assert users.get(username=username).check_password("demo-password")
        assert username in output
    assert users.get(username="admin").is_superuser
    assert users.get(username="warehouse").groups.filter(name="Warehouse").exists()
    assert store.tax_rate_for("US") > 0
    assert store.shipping_charge_for("STANDARD") > 0


def test_seed_demo_twice_changes_nothing():
    seed()
    Stock.objects.filter(product__sku="DEMO-MUG", fulfillment_center__code="EAST").update(on_hand=7)
    counts = (Product.objects.count(), Stock.objects.count(), get_user_model().objects.count())

    output = seed()

    assert "nothing changed" in output
    assert (Product.objects.count(), Stock.objects.count(), get_user_model().objects.count()) == counts
    assert stock_of("DEMO-MUG")["EAST"] == 7


def test_demo_orders_are_placed_once_and_leave_the_contract_stock_alone():
    from orders.models import Order

    out = StringIO()
    call_command("seed_demo", "--with-orders", stdout=out)
    call_command("seed_demo", "--with-orders", stdout=StringIO())

    assert sorted(Order.objects.values_list("status", flat=True)) == ["A", "C", "C", "M", "W"]
    assert out.getvalue().count("Placed demo order") == 5
    for sku in ("DEMO-TSHIRT", "DEMO-MUG", "DEMO-POSTER", "DEMO-LAPTOP"):
        assert not Stock.objects.filter(product__sku=sku, allocated__gt=0).exists()


def test_seed_demo_adds_acmes_credit_line_and_the_demo10_coupon():
    from orders.models import Promotion

    seed()
    seed()

    acme = Organization.objects.get(name="ACME")
    assert (acme.credit_limit, acme.credit_currency_id, acme.credit_hold) == (Decimal("50000.00"), "USD", False)
    promotion = Promotion.objects.get(code="DEMO10")
    assert (promotion.store.name, promotion.kind, promotion.value) == ("Demo Store", "percent", Decimal("10"))
    assert promotion.minimum_amount == Decimal("50.00")
    assert promotion.active and promotion.valid_from is None and promotion.valid_until is None


def test_seed_demo_adds_the_flow_variant_stores_on_the_same_products():
    seed()
    seed()

    stores = {
        store.code: (store.name, store.inventory_system, store.payment_system, store.payment_rules)
        for store in Store.objects.filter(code__in=["demo-nonatp", "demo-rules", "demo-digital"])
    }
    assert stores == {
        "demo-nonatp": ("Demo Non-ATP Store", "non_atp", "commerce_payments", {}),
        "demo-rules": (
            "Demo Payment Rules Store",
            "atp",
            "payment_rules",
            {"card": "early_approval", "bill_me": "approve_on_reservation", "cod": "deposit_only"},
        ),
        "demo-digital": ("Demo Digital Store", "none", "payment_rules", {"card": "early_approval"}),
    }
    assert Store.objects.get(is_default=True).code == "demo"
    for sku in ("DEMO-TSHIRT", "DEMO-MUG", "DEMO-POSTER", "DEMO-LAPTOP"):
        assert stock_of(sku, inventory_system="non_atp") == {"NONATP": 50}
    assert list(Store.objects.get(code="demo-nonatp").fulfillment_centers.values_list("code", flat=True)) == ["NONATP"]
