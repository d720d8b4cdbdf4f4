"""Order totals: pluggable tax and shipping calculators, stored per item and summed per order.

``settings.TAX_CALCULATOR`` and ``settings.SHIPPING_CALCULATOR`` name the classes. The defaults read the
store: a flat shipping charge per ship mode (spread over the items in proportion to their value, so
the items add up to the charge exactly) and a tax rate per destination country.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from commerce.currency import convert
from commerce.money import ZERO, minor_units, quantize_money
from orders.models import Order, OrderItem


class ShippingCalculator(Protocol):
    def item_charges(self, *, order: Order, items: Sequence[OrderItem]) -> list[Decimal]: ...


class TaxCalculator(Protocol):
    def item_taxes(
        self, *, order: Order, items: Sequence[OrderItem], shipping: Sequence[Decimal]
    ) -> list[tuple[Decimal, Decimal]]: ...


def spread(amount: Decimal, weights: Sequence[Decimal], currency) -> list[Decimal]:
    """Split a non-negative amount over weights in whole minor units that add up to it exactly.

    Largest remainder: each share is rounded down, and the units left go to the shares that lost
    the most by it (the earlier share on a tie), so no share is negative or off by more than a unit.
    """
    if not weights:
        return []
    total = sum(weights, ZERO)
    if total == 0:
        weights, total = [Decimal(1)] * len(weights), Decimal(len(weights))
    unit = Decimal(1).scaleb(-minor_units(currency))
    units = int(quantize_money(amount, currency) / unit)
    exact = [Decimal(units) * weight / total for weight in weights]
    floors = [int(share) for share in exact]
    left = units - sum(floors)
    by_loss = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for index in by_loss[:left]:
        floors[index] += 1
    return [Decimal(share) * unit for share in floors]


class StoreShippingCalculator:
    """A flat charge per order and ship mode, from the store's settings, in the order currency."""

    def item_charges(self, *, order: Order, items: Sequence[OrderItem]) -> list[Decimal]:
        store = order.store
        charge = store.shipping_charge_for(order.ship_mode)
        if store.currency_id != order.currency_id:
            charge = convert(charge, from_currency=store.currency_id, to_currency=order.currency).amount
        return spread(quantize_money(charge, order.currency), [item.product_total for item in items], order.currency)


class StoreTaxCalculator:
    """The store's tax rate for the destination country, on goods and (when taxable) on shipping."""

    def item_taxes(
        self, *, order: Order, items: Sequence[OrderItem], shipping: Sequence[Decimal]
    ) -> list[tuple[Decimal, Decimal]]:
        rate = order.store.tax_rate_for(order.ship_to_country)
        taxable_shipping = order.store.shipping_taxable
        return [
            (
                quantize_money(item.product_total * rate, order.currency),
                quantize_money(charge * rate, order.currency) if taxable_shipping else ZERO,
            )
            for item, charge in zip(items, shipping, strict=True)
        ]


def shipping_calculator() -> ShippingCalculator:
    return import_string(settings.SHIPPING_CALCULATOR)()


def tax_calculator() -> TaxCalculator:
    return import_string(settings.TAX_CALCULATOR)()


def apply_totals(*, order: Order, items: Sequence[OrderItem]) -> None:
    """Compute each item's amounts and the order's sums, on the instances (the caller saves)."""
    for item in items:
        item.product_total = quantize_money(item.unit_price * item.quantity, order.currency)
    shipping = shipping_calculator().item_charges(order=order, items=items)
    taxes = tax_calculator().item_taxes(order=order, items=items, shipping=shipping)
    for item, charge, (tax, shipping_tax) in zip(items, shipping, taxes, strict=True):
        item.shipping_charge = charge
        item.tax = tax
        item.shipping_tax = shipping_tax
    order.product_total = sum((i.product_total for i in items), ZERO)
    order.tax_total = sum((i.tax for i in items), ZERO)
    order.shipping_total = sum((i.shipping_charge for i in items), ZERO)
    order.shipping_tax_total = sum((i.shipping_tax for i in items), ZERO)
    order.adjustment_total = sum((i.adjustment for i in items), ZERO)
    order.grand_total = sum((i.purchase_amount for i in items), ZERO)
