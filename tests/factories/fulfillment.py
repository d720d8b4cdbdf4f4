from datetime import timedelta

import factory
from django.utils import timezone

from fulfillment.models import ExpectedReceipt, ExpectedReceiptLine, FulfillmentCenter, Stock
from tests.factories.commerce import ProductFactory


class FulfillmentCenterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FulfillmentCenter
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"FC{n}")
    name = factory.LazyAttribute(lambda o: f"Center {o.code}")
    address = "1 Warehouse Rd\nNewark\nUS"
    priority = 1


class StockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stock

    fulfillment_center = factory.SubFactory(FulfillmentCenterFactory)
    product = factory.SubFactory(ProductFactory)
    on_hand = 10
    allocated = 0
    bin = factory.Sequence(lambda n: f"A-{n:02d}-01")


class ExpectedReceiptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExpectedReceipt

    number = factory.Sequence(lambda n: f"ER-{n:05d}")
    fulfillment_center = factory.SubFactory(FulfillmentCenterFactory)
    vendor = "Vendor Inc."
    expected_at = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=7))


class ExpectedReceiptLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExpectedReceiptLine

    receipt = factory.SubFactory(ExpectedReceiptFactory)
    product = factory.SubFactory(ProductFactory)
    quantity_ordered = 20
