"""Serializer fields every app's API shares: money, and natural keys typed by a client."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import get_attribute

from commerce.money import quantize_money

MONEY_SCHEMA = {
    "type": "string",
    "format": "decimal",
    "pattern": r"^-?\d+(\.\d+)?$",
    "description": "An amount with as many decimals as its currency has (19.00 USD, 1500 JPY).",
    "example": "19.00",
}


@extend_schema_field(MONEY_SCHEMA)
class MoneyField(serializers.Field):
    """An amount as a string rounded to its currency's minor unit: ``19.00`` for USD, ``1500`` for JPY.

    ``currency`` names where the currency is found on the same object (dotted, as ``source``): a
    ``Currency`` row or an ISO code.
    """

    def __init__(self, *, currency: str = "currency", **kwargs):
        kwargs["read_only"] = True
        self.currency_source = currency.split(".")
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        amount = super().get_attribute(instance)
        try:
            currency = get_attribute(instance, self.currency_source)
        except (AttributeError, KeyError):
            currency = None
        return amount, currency

    def to_representation(self, value) -> str | None:
        amount, currency = value
        if amount is None:
            return None
        return str(quantize_money(amount, currency))


class TextField(serializers.CharField):
    """A text input that must be a JSON string: ``0`` or ``true`` where text is expected is refused."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class KeyRelatedField(serializers.SlugRelatedField):
    """A related object named by its natural key (a code, a SKU) in a request body.

    The key is checked as text first (no NUL byte, at most ``max_length`` characters), so a key that
    cannot name anything is a validation error before any query; the database never sees it.
    """

    def __init__(self, *, max_length: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.key_field = serializers.CharField(max_length=max_length, trim_whitespace=False)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        self.key_field.run_validation(data)
        return super().to_internal_value(data)
