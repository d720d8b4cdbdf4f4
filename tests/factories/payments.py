from decimal import Decimal

import factory

from payments.models import AcceptPolicy, Payment
from tests.factories.commerce import StoreFactory
from tests.factories.orders import OrderFactory


class PaymentFactory(factory.django.DjangoModelFactory):
    """A new card payment for a 120.00 USD order; authorize it through the services."""

    class Meta:
        model = Payment

    order = factory.SubFactory(OrderFactory, grand_total=Decimal("120.00"))
    method = "card"
    gateway = "simulated"
    token = "tok_approve"
    amount = factory.LazyAttribute(lambda o: o.order.grand_total)
    currency = factory.LazyAttribute(lambda o: o.order.currency)


class AcceptPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AcceptPolicy
        django_get_or_create = ("store", "method")

    store = factory.SubFactory(StoreFactory)
    method = "card"
