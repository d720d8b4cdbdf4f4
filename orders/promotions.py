"""Promotions: an amount off the order, spread over its items as their adjustments (DESIGN section 16).

A store's promotion takes a percentage or a fixed amount off the order's product total, when that
total reaches the promotion's minimum, inside its active window. A promotion with a coupon code
applies when the order names the code; one without applies by itself (the largest one, when
several do). A named coupon replaces the automatic promotions. The amount is spread over the items
in proportion to their product totals by largest remainder, so no item's adjustment exceeds its
product total and the adjustments add up to the amount exactly.

The store row says whether it has automatic promotions at all (``Store.has_automatic_promotions``,
kept here whenever a promotion is saved or deleted), so placing an order without a coupon in a store
without them costs no statement; the store's automatic promotions are cached for a minute otherwise.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Exists
from django.utils import timezone

from commerce.currency import convert
from commerce.errors import ApplicationError, NoExchangeRate
from commerce.models import Store
from commerce.money import ZERO, quantize_money
from commerce.stores import default_store_cache_clear
from orders.models import Order, OrderItem, Promotion, PromotionKind
from orders.totals import spread

PROMOTION_CACHE_SECONDS = 60
HUNDRED = Decimal(100)


class InvalidCoupon(ApplicationError):
    code = "invalid_coupon"
    status_code = 409


@dataclass(frozen=True)
class AppliedPromotion:
    promotion: Promotion
    amount: Decimal


def _cache_key(store_id: int) -> str:
    return f"orders:automatic-promotions:{store_id}"


def promotions_cache_clear(*, store_id: int) -> None:
    """Forget a store's cached automatic promotions (on every save or delete of a promotion)."""
    cache.delete(_cache_key(store_id))


def promotions_changed(*, store_id: int) -> None:
    """Keep the store's automatic-promotions flag and cache in step with its promotions."""
    automatic = Promotion.objects.filter(store_id=store_id, code="", active=True)
    Store.objects.filter(pk=store_id).update(has_automatic_promotions=Exists(automatic))
    promotions_cache_clear(store_id=store_id)
    default_store_cache_clear()


def _automatic_promotions(store_id: int) -> list[Promotion]:
    key = _cache_key(store_id)
    promotions = cache.get(key)
    if promotions is None:
        promotions = list(
            Promotion.objects.filter(store_id=store_id, code="", active=True).select_related("store__currency")
        )
        cache.set(key, promotions, PROMOTION_CACHE_SECONDS)
    return promotions


def _in_order_currency(amount: Decimal, promotion: Promotion, order: Order) -> Decimal:
    store_currency = promotion.store.currency_id
    if store_currency == order.currency_id:
        return amount
    return convert(amount, from_currency=store_currency, to_currency=order.currency).amount


def promotion_amount(*, promotion: Promotion, order: Order) -> Decimal | None:
    """What the promotion takes off the order (its product total computed), or None if it does not apply.

    An order in a currency the store's amounts cannot be converted to gets no promotion.
    """
    base = order.product_total
    try:
        if base < _in_order_currency(promotion.minimum_amount, promotion, order):
            return None
        if promotion.kind == PromotionKind.PERCENT:
            amount = base * promotion.value / HUNDRED
        else:
            amount = _in_order_currency(promotion.value, promotion, order)
    except NoExchangeRate:
        return None
    return quantize_money(min(amount, base), order.currency)


def _coupon_promotion(order: Order, coupon: str, now: datetime) -> AppliedPromotion:
    code = coupon.strip().upper()
    promotion = Promotion.objects.filter(store_id=order.store_id, code=code).select_related("store__currency").first()
    details = {"coupon": coupon}
    if promotion is None or not promotion.is_current(now):
        raise InvalidCoupon(f"Coupon {coupon!r} is unknown or not active.", details=details)
    amount = promotion_amount(promotion=promotion, order=order)
    if amount is None:
        minimum = quantize_money(promotion.minimum_amount, promotion.store.currency)
        converted = (
            "" if order.currency_id == promotion.store.currency_id else f" (in {order.currency_id} at today's rate)"
        )
        raise InvalidCoupon(
            f"Coupon {code} needs goods worth at least {minimum} {promotion.store.currency_id}{converted}.",
            details={**details, "minimum_amount": str(minimum)},
        )
    return AppliedPromotion(promotion, amount)


def promotion_for_order(*, order: Order, coupon: str = "", now: datetime | None = None) -> AppliedPromotion | None:
    """The promotion the order gets: the named coupon's (or ``InvalidCoupon``), else the best automatic one."""
    now = now or timezone.now()
    if coupon.strip():
        return _coupon_promotion(order, coupon, now)
    best = None
    if not order.store.has_automatic_promotions:
        return None
    for promotion in _automatic_promotions(order.store_id):
        if not promotion.is_current(now):
            continue
        amount = promotion_amount(promotion=promotion, order=order)
        if amount is not None and amount > 0 and (best is None or amount > best.amount):
            best = AppliedPromotion(promotion, amount)
    return best


def promotion_apply(*, order: Order, items: Sequence[OrderItem], coupon: str = "") -> AppliedPromotion | None:
    """Set the items' adjustments and the order's totals by the promotion it gets (the caller saves)."""
    applied = promotion_for_order(order=order, coupon=coupon)
    amount = applied.amount if applied else ZERO
    shares = spread(amount, [item.product_total for item in items], order.currency)
    for item, share in zip(items, shares, strict=True):
        item.adjustment = share
    order.promotion = applied.promotion if applied else None
    order.coupon_code = applied.promotion.code if applied else ""
    order.adjustment_total = sum((item.adjustment for item in items), ZERO)
    order.grand_total = sum((item.purchase_amount for item in items), ZERO)
    return applied
