"""The return contract of DESIGN section 17: request input, staff decisions, the RMA output."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from commerce.api.fields import KeyRelatedField, MoneyField, TextField
from fulfillment.models import FulfillmentCenter
from orders.returns.models import Disposition, ReturnItemStatus, ReturnReason, ReturnRequest, ReturnStatus
from orders.returns.services import ApprovalOverride, ReceiptLineInput, ReturnLineInput

MAX_LINES = 100
MAX_QUANTITY = 10_000


def _unique_skus(lines):
    skus = [line["sku"] for line in lines]
    if len(set(skus)) != len(skus):
        raise serializers.ValidationError("List each SKU once.")
    return lines


class ReturnLineSerializer(serializers.Serializer):
    sku = TextField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    reason = serializers.ChoiceField(choices=ReturnReason.choices)


class ReturnCreateSerializer(serializers.Serializer):
    items = ReturnLineSerializer(many=True, allow_empty=False, min_length=1, max_length=MAX_LINES)
    comment = TextField(max_length=2000, required=False, allow_blank=True, default="")

    def validate_items(self, lines):
        return [ReturnLineInput(**line) for line in _unique_skus(lines)]


class ReturnUpdateSerializer(serializers.Serializer):
    items = ReturnLineSerializer(many=True, allow_empty=False, min_length=1, max_length=MAX_LINES, required=False)
    comment = TextField(max_length=2000, required=False, allow_blank=True)

    def validate_items(self, lines):
        return [ReturnLineInput(**line) for line in _unique_skus(lines)]

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Change the items or the comment.")
        return attrs


class ApprovalItemSerializer(serializers.Serializer):
    sku = TextField(max_length=64)
    approve = serializers.BooleanField(default=True)
    reason = TextField(max_length=1000, required=False, allow_blank=True, default="")
    receipt_required = serializers.BooleanField(required=False, allow_null=True, default=None)


class ApproveSerializer(serializers.Serializer):
    items = ApprovalItemSerializer(many=True, required=False, default=list, max_length=MAX_LINES)
    reason = TextField(max_length=1000, required=False, allow_blank=True, default="")

    def validate_items(self, lines):
        return [ApprovalOverride(**line) for line in _unique_skus(lines)]


class ReceiptLineSerializer(serializers.Serializer):
    sku = TextField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    disposition = serializers.ChoiceField(choices=Disposition.choices)
    fulfillment_center = KeyRelatedField(
        slug_field="code", queryset=FulfillmentCenter.objects.all(), required=False, allow_null=True, default=None
    )

    def validate(self, attrs):
        if attrs["disposition"] == Disposition.RESTOCK and attrs.get("fulfillment_center") is None:
            raise serializers.ValidationError({"fulfillment_center": ["Required to restock."]})
        return attrs


class ReceiveSerializer(serializers.Serializer):
    items = ReceiptLineSerializer(many=True, allow_empty=False, min_length=1, max_length=MAX_LINES)

    def validate_items(self, lines):
        return [ReceiptLineInput(**line) for line in _unique_skus(lines)]


class ReturnItemOutSerializer(serializers.Serializer):
    sku = serializers.CharField(source="order_item.sku")
    quantity = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ReturnItemStatus.choices)
    status_display = serializers.CharField(source="get_status_display")
    reason = serializers.ChoiceField(choices=ReturnReason.choices)
    deny_reasons = serializers.ListField(child=serializers.CharField())
    receipt_required = serializers.BooleanField()
    received_quantity = serializers.IntegerField(source="quantity_received")
    disposition = serializers.CharField()
    credit_amount = MoneyField(currency="return_request.order.currency")


class ReturnEventSerializer(serializers.Serializer):
    from_status = serializers.ChoiceField(choices=ReturnStatus.choices, allow_blank=True)
    to_status = serializers.ChoiceField(choices=ReturnStatus.choices, allow_blank=True)
    message = serializers.CharField()
    reason = serializers.CharField()
    actor = serializers.CharField(source="actor_name")
    created_at = serializers.DateTimeField()


class ReturnSerializer(serializers.Serializer):
    number = serializers.CharField()
    order = serializers.CharField(source="order.number")
    store = serializers.CharField(source="order.store.code")
    status = serializers.ChoiceField(choices=ReturnStatus.choices)
    status_display = serializers.CharField(source="get_status_display")
    comment = serializers.CharField()
    items = serializers.SerializerMethodField()
    credit_total = MoneyField(currency="order.currency")
    refunded_amount = MoneyField(currency="order.currency")
    deposit_reduction = MoneyField(currency="order.currency")
    currency = serializers.CharField(source="order.currency_id")
    created_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField(allow_null=True)
    credited_at = serializers.DateTimeField(allow_null=True)
    events = ReturnEventSerializer(many=True)

    @extend_schema_field(ReturnItemOutSerializer(many=True))
    def get_items(self, rma: ReturnRequest) -> list[dict]:
        items = list(rma.items.all())
        for item in items:
            item.return_request = rma
        return ReturnItemOutSerializer(items, many=True).data
