from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from commerce.models import Currency, Customer, ExchangeRate, Organization, Product, Store
from commerce.money import minor_units


class CurrencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Currency
        django_get_or_create = ("code",)

    code = "USD"
    name = factory.LazyAttribute(lambda o: o.code)
    minor_units = factory.LazyAttribute(lambda o: minor_units(o.code))


def currency(code: str) -> Currency:
    return CurrencyFactory(code=code)


class ExchangeRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExchangeRate
        django_get_or_create = ("from_currency", "to_currency")

    from_currency = factory.SubFactory(CurrencyFactory, code="USD")
    to_currency = factory.SubFactory(CurrencyFactory, code="EUR")
    rate = Decimal("0.92")


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ("code",)

    code = "test"
    name = "Test Store"
    currency = factory.SubFactory(CurrencyFactory, code="USD")
    email = "store@example.com"
    address = "Test Store\n1 Main St\nSpringfield\nUS"
    tax_rates = factory.LazyFunction(lambda: {"US": "0.0800"})
    shipping_charges = factory.LazyFunction(lambda: {"STANDARD": "5.00", "EXPRESS": "15.00", "OVERNIGHT": "30.00"})


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffUserFactory(UserFactory):
    is_staff = True


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"org{n}")
    name = factory.LazyAttribute(lambda o: o.code.upper())


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    user = factory.SubFactory(UserFactory)
    organization = None


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.LazyAttribute(lambda o: f"Product {o.sku}")
    price = Decimal("10.00")
    currency = factory.SubFactory(CurrencyFactory, code="USD")
    backorderable = False
    weight = Decimal("0.500")
