"""The order contract (docs/api.md): placement input, order output."""

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from commerce.api.fields import MoneyField, TextField
from commerce.models import Currency, Customer, Product, ShipMode, Store
from fulfillment.selectors import shipments_for_order
from orders.models import InventoryStatus, Order, OrderStatus
from orders.services import AddressInput, ItemInput
from spending_limits.models import TradingAgreement

MAX_ITEMS = 100
MAX_QUANTITY = 10_000


class PlaceItemSerializer(serializers.Serializer):
    sku = TextField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    trading_agreement = TextField(max_length=32, required=False, allow_blank=True)


class PaymentInputSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=[])
    token = TextField(max_length=128, required=False, allow_blank=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Settings are read at call time: a deployment may register more methods.
        self.fields["method"].choices = sorted(settings.PAYMENT_METHODS)

    def validate(self, attrs):
        if attrs["method"] == "card" and not attrs.get("token"):
            raise serializers.ValidationError({"token": ["A card payment needs a token."]})
        return attrs


class AddressSerializer(serializers.Serializer):
    name = TextField(max_length=128)
    line1 = TextField(max_length=200)
    line2 = TextField(max_length=200, required=False, allow_blank=True)
    city = TextField(max_length=100)
    region = TextField(max_length=100, required=False, allow_blank=True)
    postal_code = TextField(max_length=20)
    country = serializers.RegexField(
        r"^[A-Za-z]{2}$", error_messages={"invalid": "Use the two-letter ISO country code, e.g. US."}
    )


class PlaceOrderSerializer(serializers.Serializer):
    items = PlaceItemSerializer(many=True, allow_empty=False, min_length=1, max_length=MAX_ITEMS)
    payment = PaymentInputSerializer()
    shipping_address = AddressSerializer()
    ship_mode = serializers.ChoiceField(choices=ShipMode.choices, required=False)
    purchase_order_number = TextField(max_length=64, required=False, allow_blank=True)
    currency = TextField(max_length=3, required=False)
    shipping_note = TextField(max_length=500, required=False, allow_blank=True)
    coupon = TextField(max_length=32, required=False, allow_blank=True)
    store = TextField(
        max_length=32, required=False, allow_blank=True, help_text="Store code; the default store when left out."
    )

    def validate_store(self, value: str):
        store = Store.objects.select_related("currency").filter(code=value).first() if value else None
        if value and store is None:
            raise serializers.ValidationError(f"Unknown store {value!r}.")
        return store

    def validate_currency(self, value: str) -> str:
        code = value.upper()
        if not Currency.objects.filter(code=code).exists():
            raise serializers.ValidationError(f"Unknown currency {value!r}.")
        return code

    def validate_items(self, items):
        skus = [item["sku"] for item in items]
        if len(set(skus)) != len(skus):
            raise serializers.ValidationError("List each SKU once, with its total quantity.")
        products = {p.sku: p for p in Product.objects.filter(sku__in=skus, active=True).select_related("currency")}
        missing = [sku for sku in skus if sku not in products]
        if missing:
            raise serializers.ValidationError(f"Unknown SKU: {', '.join(missing)}.")
        customer = self.context["customer"]
        numbers = {item["trading_agreement"] for item in items if item.get("trading_agreement")}
        agreements = {}
        if numbers:
            agreements = {
                a.number: a
                for a in TradingAgreement.objects.filter(
                    number__in=numbers, organization_id=customer.organization_id
                ).select_related("currency")
            }
            unknown = sorted(numbers - set(agreements))
            if unknown or customer.organization_id is None:
                raise serializers.ValidationError(
                    f"Unknown trading agreement: {', '.join(unknown or sorted(numbers))}."
                )
        return [
            ItemInput(
                product=products[item["sku"]],
                quantity=item["quantity"],
                trading_agreement=agreements.get(item.get("trading_agreement") or ""),
            )
            for item in items
        ]

    def validate_shipping_address(self, value) -> AddressInput:
        return AddressInput(**{**value, "country": value["country"].upper()})


class CustomerNumberSerializer(serializers.Serializer):
    """The customer a staff user places an order for, by customer number."""

    customer = TextField(max_length=16)

    def validate_customer(self, value: str):
        customer = Customer.objects.select_related("user", "organization").filter(number=value.strip()).first()
        if customer is None:
            raise serializers.ValidationError(f"Unknown customer {value!r}.")
        return customer


class PlaceOrderOnBehalfSerializer(PlaceOrderSerializer):
    customer = TextField(max_length=16, help_text="The customer number of the customer served.")


class ItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = MoneyField(currency="order.currency")
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    inventory_status = serializers.ChoiceField(choices=InventoryStatus.choices)
    estimated_available_at = serializers.DateField(allow_null=True)
    trading_agreement = serializers.SerializerMethodField()
    adjustment = MoneyField(currency="order.currency")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_trading_agreement(self, item) -> str | None:
        return item.trading_agreement.number if item.trading_agreement_id else None


class TotalsSerializer(serializers.Serializer):
    product = MoneyField(source="product_total")
    tax = MoneyField(source="tax_total")
    shipping = MoneyField(source="shipping_total")
    shipping_tax = MoneyField(source="shipping_tax_total")
    adjustment = MoneyField(source="adjustment_total")
    grand_total = MoneyField()


class PaymentSummarySerializer(serializers.Serializer):
    method = serializers.CharField()
    status = serializers.CharField()
    approved_amount = MoneyField(currency="order.currency", allow_null=True)


class ShipmentSerializer(serializers.Serializer):
    release = serializers.CharField()
    carrier = serializers.CharField()
    tracking_number = serializers.CharField()
    shipped_at = serializers.DateTimeField(allow_null=True)


class EventSerializer(serializers.Serializer):
    from_status = serializers.ChoiceField(choices=OrderStatus.choices, allow_blank=True)
    to_status = serializers.ChoiceField(choices=OrderStatus.choices, allow_blank=True)
    message = serializers.CharField()
    reason = serializers.CharField()
    actor = serializers.CharField(source="actor_name")
    created_at = serializers.DateTimeField()


class OrderSerializer(serializers.Serializer):
    number = serializers.CharField()
    store = serializers.CharField(source="store.code")
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    status_display = serializers.CharField(source="get_status_display")
    currency = serializers.CharField(source="currency_id")
    ship_mode = serializers.CharField()
    purchase_order_number = serializers.CharField()
    coupon = serializers.CharField(source="coupon_code")
    totals = serializers.SerializerMethodField()
    items = ItemSerializer(many=True)
    payment = serializers.SerializerMethodField()
    shipments = serializers.SerializerMethodField()
    shipping_address = serializers.SerializerMethodField()
    placed_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()
    events = EventSerializer(many=True)

    @extend_schema_field(TotalsSerializer)
    def get_totals(self, order: Order) -> dict:
        return TotalsSerializer(order).data

    @extend_schema_field(PaymentSummarySerializer(allow_null=True))
    def get_payment(self, order: Order) -> dict | None:
        payments = sorted(order.payments.all(), key=lambda p: p.pk)
        if not payments:
            return None
        return PaymentSummarySerializer(payments[-1]).data

    @extend_schema_field(ShipmentSerializer(many=True))
    def get_shipments(self, order: Order) -> list[dict]:
        if order.no_item_released():
            # Packages ship from releases: an order none of whose items was released has none to read (by
            # its items, not its status: a partly released backorder stays B while its first part ships).
            return []
        return shipments_for_order(order=order)

    @extend_schema_field(AddressSerializer)
    def get_shipping_address(self, order: Order) -> dict:
        return order.ship_to


class ReasonSerializer(serializers.Serializer):
    reason = TextField(max_length=1000, required=False, allow_blank=True, default="")


class RequiredReasonSerializer(serializers.Serializer):
    reason = TextField(max_length=1000)
