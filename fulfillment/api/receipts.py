"""Back-office inventory receipts."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce.api.fields import KeyRelatedField
from commerce.api.permissions import staff_with
from commerce.models import Product
from fulfillment.models import FulfillmentCenter
from fulfillment.services import inventory_receive


class ReceiptRequestSerializer(serializers.Serializer):
    fulfillment_center = KeyRelatedField(
        slug_field="code", queryset=FulfillmentCenter.objects.all(), help_text="Fulfillment center code."
    )
    sku = KeyRelatedField(slug_field="sku", queryset=Product.objects.all(), source="product")
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)


class ReceiptResponseSerializer(serializers.Serializer):
    fulfillment_center = serializers.CharField(source="stock.fulfillment_center.code")
    sku = serializers.CharField(source="stock.product.sku")
    quantity = serializers.IntegerField()
    on_hand = serializers.IntegerField(source="stock.on_hand")
    allocated = serializers.IntegerField(source="stock.allocated")
    available = serializers.IntegerField(source="stock.available")
    closed_lines = serializers.ListField(child=serializers.CharField())
    promised_to_backorders = serializers.IntegerField()


class ReceiptCreateView(APIView):
    """Receive goods into a fulfillment center."""

    permission_classes = [staff_with("fulfillment.receive_inventory")]

    @extend_schema(request=ReceiptRequestSerializer, responses={201: ReceiptResponseSerializer})
    def post(self, request):
        serializer = ReceiptRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = inventory_receive(**serializer.validated_data)
        return Response(ReceiptResponseSerializer(result).data, status=status.HTTP_201_CREATED)
