from decimal import Decimal

import factory

from commerce.models import Organization
from commerce.money import quantize_money
from orders.models import Order
from spending_limits.models import PurchaseOrder, TradingAgreement
from tests.factories.commerce import CurrencyFactory, CustomerFactory, OrganizationFactory, ProductFactory
from tests.factories.orders import OrderFactory, OrderItemFactory, recompute_totals


class TradingAgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TradingAgreement
        django_get_or_create = ("number",)

    organization = factory.SubFactory(OrganizationFactory)
    number = factory.Sequence(lambda n: f"TA-{n:04d}")
    name = factory.LazyAttribute(lambda o: f"Agreement {o.number}")
    currency = factory.SubFactory(CurrencyFactory, code="USD")
    limit_amount = Decimal("1000.00")


class PurchaseOrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PurchaseOrder
        django_get_or_create = ("organization", "number")

    organization = factory.SubFactory(OrganizationFactory)
    number = factory.Sequence(lambda n: f"PO-{n:04d}")
    type = PurchaseOrder.Type.LIMITED
    limit_amount = factory.LazyAttribute(lambda o: None if o.type == PurchaseOrder.Type.BLANKET else Decimal("1000.00"))
    currency = factory.SubFactory(CurrencyFactory, code="USD")


def b2b_order(
    organization: Organization | None,
    lines: list[tuple[str, TradingAgreement | None]],
    *,
    currency: str = "USD",
    purchase_order_number: str = "",
    customer=None,
    tax_rate: str = "0",
    shipping: str = "0",
    shipping_tax: str = "0",
    adjustment: str = "0",
) -> Order:
    """A pending order of a buyer of ``organization`` with one item per (product total, agreement) line.

    Every item gets the same tax rate, shipping, shipping tax and adjustment; the order's totals are
    summed from the items as checkout does.
    """
    customer = customer or CustomerFactory(organization=organization)
    order = OrderFactory(
        customer=customer,
        organization=organization,
        currency=CurrencyFactory(code=currency),
        purchase_order_number=purchase_order_number,
    )
    for product_total, agreement in lines:
        total = Decimal(product_total)
        OrderItemFactory(
            order=order,
            product=ProductFactory(price=total),
            unit_price=total,
            product_total=total,
            tax=quantize_money(total * Decimal(tax_rate), currency),
            shipping_charge=Decimal(shipping),
            shipping_tax=Decimal(shipping_tax),
            adjustment=Decimal(adjustment),
            trading_agreement=agreement,
        )
    return recompute_totals(order)
