from decimal import Decimal

import factory

from commerce.money import quantize_money
from orders.models import Order, OrderItem
from tests.factories.commerce import CurrencyFactory, CustomerFactory, ProductFactory, StoreFactory


class OrderFactory(factory.django.DjangoModelFactory):
    """An order in any status (pass ``status=``); items are added with OrderItemFactory."""

    class Meta:
        model = Order

    store = factory.SubFactory(StoreFactory)
    customer = factory.SubFactory(CustomerFactory)
    organization = factory.LazyAttribute(lambda o: o.customer.organization)
    currency = factory.SubFactory(CurrencyFactory, code="USD")
    ship_to_name = "Ada Buyer"
    ship_to_line1 = "12 Elm Street"
    ship_to_city = "Springfield"
    ship_to_region = "IL"
    ship_to_postal_code = "62701"
    ship_to_country = "US"


class OrderItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderItem

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    sku = factory.LazyAttribute(lambda o: o.product.sku)
    name = factory.LazyAttribute(lambda o: o.product.name)
    quantity = 1
    unit_price = factory.LazyAttribute(lambda o: o.product.price)
    product_total = factory.LazyAttribute(lambda o: quantize_money(o.unit_price * o.quantity, o.order.currency))
    status = factory.LazyAttribute(lambda o: o.order.status)


def recompute_totals(order: Order) -> Order:
    """Sum the items into the order's totals, as checkout does."""
    items = list(order.items.all())
    order.product_total = sum((i.product_total for i in items), Decimal("0"))
    order.tax_total = sum((i.tax for i in items), Decimal("0"))
    order.shipping_total = sum((i.shipping_charge for i in items), Decimal("0"))
    order.shipping_tax_total = sum((i.shipping_tax for i in items), Decimal("0"))
    order.adjustment_total = sum((i.adjustment for i in items), Decimal("0"))
    order.grand_total = sum((i.purchase_amount for i in items), Decimal("0"))
    order.save()
    return order
