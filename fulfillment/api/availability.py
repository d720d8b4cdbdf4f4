"""Storefront product availability: the available-to-promise quantity and the next receipt."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce.models import Product
from commerce.stores import store_from_code
from fulfillment.selectors import product_availability


class AvailabilitySerializer(serializers.Serializer):
    sku = serializers.CharField()
    available_quantity = serializers.IntegerField(allow_null=True, help_text="null: the store holds no inventory.")
    backorderable = serializers.BooleanField()
    expected_quantity = serializers.IntegerField()
    estimated_available_at = serializers.DateField(allow_null=True)


class ProductAvailabilityView(APIView):
    """Available-to-promise quantity now, and the earliest date more arrives."""

    @extend_schema(
        responses=AvailabilitySerializer,
        parameters=[OpenApiParameter("store", str, description="Store code; the default store when left out.")],
    )
    def get(self, request, sku: str):
        product = get_object_or_404(Product, sku=sku, active=True)
        store = store_from_code(request.query_params.get("store"), field="store")
        return Response(AvailabilitySerializer(product_availability(product=product, store=store)).data)
