"""Storefront product availability: the available-to-promise quantity and the next receipt."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce.models import Product
from fulfillment.selectors import product_availability


class AvailabilitySerializer(serializers.Serializer):
    sku = serializers.CharField()
    available_quantity = serializers.IntegerField()
    backorderable = serializers.BooleanField()
    expected_quantity = serializers.IntegerField()
    estimated_available_at = serializers.DateField(allow_null=True)


class ProductAvailabilityView(APIView):
    """Available-to-promise quantity now, and the earliest date more arrives."""

    @extend_schema(responses=AvailabilitySerializer)
    def get(self, request, sku: str):
        product = get_object_or_404(Product, sku=sku, active=True)
        return Response(AvailabilitySerializer(product_availability(product=product)).data)
