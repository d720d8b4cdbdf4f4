"""Promotions: coupons and automatic promotions become item adjustments that count everywhere."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from commerce.models import Store
from orders.models import Order, Promotion, PromotionKind
from payments.selectors import payment_current
from spending_limits.models import TradingAgreementPurchase
from tests.orders.conftest import place

pytestmark = pytest.mark.django_db


def demo_store() -> Store:
    return Store.objects.get(code="demo")


def test_demo10_takes_ten_percent_off_and_the_payment_asks_for_the_reduced_total(as_user):
    # 3 hoodies: 135.00 product, 11.14 tax, 5.00 shipping, 0.41 shipping tax; 10 % off the product is 13.50.
    response = place(as_user("alice"), ("DEMO-HOODIE", 3), coupon="demo10")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["coupon"] == "DEMO10"
    assert body["totals"]["adjustment"] == "13.50"
    product, tax, shipping, shipping_tax = (
        Decimal(body["totals"][key]) for key in ("product", "tax", "shipping", "shipping_tax")
    )
    assert Decimal(body["totals"]["grand_total"]) == product + tax + shipping + shipping_tax - Decimal("13.50")
    order = Order.objects.get(number=body["number"])
    payment = payment_current(order=order)
    assert payment.amount == order.grand_total
    assert payment.approved_amount == order.grand_total
    assert order.events.filter(extra__coupon="DEMO10").exists()


def test_the_adjustment_is_spread_over_the_items_by_largest_remainder(as_user):
    Promotion.objects.create(
        store=demo_store(), name="Ten off", code="TENOFF", kind=PromotionKind.FIXED, value=Decimal("10.00")
    )
    # 19.00 + 12.50 + 8.00 = 39.50; 10.00 spread by product totals: 4.81, 3.16, 2.03 (4.81 gets the cent).
    response = place(as_user("alice"), ("DEMO-TSHIRT", 1), ("DEMO-MUG", 1), ("DEMO-POSTER", 1), coupon="TENOFF")

    assert response.status_code == 201, response.json()
    items = {item["sku"]: item["adjustment"] for item in response.json()["items"]}
    assert items == {"DEMO-TSHIRT": "4.81", "DEMO-MUG": "3.16", "DEMO-POSTER": "2.03"}
    assert response.json()["totals"]["adjustment"] == "10.00"


def test_a_fixed_amount_never_makes_an_item_negative(as_user):
    Promotion.objects.create(
        store=demo_store(), name="Big", code="BIG", kind=PromotionKind.FIXED, value=Decimal("500.00")
    )

    response = place(as_user("alice"), ("DEMO-POSTER", 2), coupon="BIG")

    body = response.json()
    assert response.status_code == 201, body
    assert body["totals"]["adjustment"] == body["totals"]["product"] == "16.00"
    assert Decimal(body["totals"]["grand_total"]) > 0


@pytest.mark.parametrize(
    ("coupon", "setup"),
    [
        ("NOPE", None),
        ("DEMO10", "expired"),
        ("DEMO10", "inactive"),
        ("DEMO10", "below_minimum"),
    ],
)
def test_an_unknown_expired_or_inapplicable_coupon_is_409_invalid_coupon(as_user, coupon, setup):
    promotion = Promotion.objects.get(code="DEMO10")
    if setup == "expired":
        promotion.valid_from = timezone.now() - timedelta(days=10)
        promotion.valid_until = timezone.now() - timedelta(days=1)
        promotion.save()
    elif setup == "inactive":
        promotion.active = False
        promotion.save()
    quantity = 1 if setup == "below_minimum" else 3

    response = place(as_user("alice"), ("DEMO-HOODIE", quantity), coupon=coupon)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_coupon"
    assert not Order.objects.exists()


def test_an_automatic_promotion_applies_without_a_coupon_and_its_change_is_seen_at_once(as_user):
    alice = as_user("alice")
    first = place(alice, ("DEMO-HOODIE", 2)).json()
    assert first["totals"]["adjustment"] == "0.00"

    Promotion.objects.create(store=demo_store(), name="Five off", kind=PromotionKind.FIXED, value=Decimal("5.00"))
    second = place(alice, ("DEMO-HOODIE", 2)).json()

    assert second["totals"]["adjustment"] == "5.00"
    assert Decimal(second["totals"]["grand_total"]) == Decimal(first["totals"]["grand_total"]) - Decimal("5.00")


def test_spending_limits_are_charged_the_reduced_purchase_amount(as_user):
    response = place(as_user("bob"), ("DEMO-HOODIE", 3, "ACME-TA-1"), coupon="DEMO10")

    assert response.status_code == 201, response.json()
    order = Order.objects.get(number=response.json()["number"])
    row = TradingAgreementPurchase.objects.get(order=order)
    # EUR at 0.92 of the order's purchase amount (product + tax + shipping + shipping tax - adjustment).
    assert row.order_amount == order.grand_total
    assert row.amount == (order.grand_total * Decimal("0.92")).quantize(Decimal("0.01"))


def test_a_fixed_amount_is_converted_to_the_order_currency(as_user):
    Promotion.objects.create(store=demo_store(), name="Five off", kind=PromotionKind.FIXED, value=Decimal("5.00"))

    response = place(as_user("alice"), ("DEMO-HOODIE", 1), currency="GBP")

    assert response.status_code == 201, response.json()
    assert response.json()["totals"]["adjustment"] == "3.95"  # 5.00 USD at 0.79


def test_a_keyed_retry_replays_its_order_after_the_coupon_expired(as_user):
    alice = as_user("alice")
    first = place(alice, ("DEMO-HOODIE", 3), coupon="DEMO10", key="checkout-41")
    assert first.status_code == 201, first.json()
    Promotion.objects.filter(code="DEMO10").update(active=False)

    retry = place(alice, ("DEMO-HOODIE", 3), coupon="DEMO10", key="checkout-41")

    assert retry.status_code == 201, retry.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert Order.objects.count() == 1
    # Without the key, the same body is refused now.
    assert place(alice, ("DEMO-HOODIE", 3), coupon="DEMO10").status_code == 409
