"""Storefront product catalogue and availability."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce.models import Product
from fulfillment.selectors import product_availability


class ProductSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="currency_id")

    class Meta:
        model = Product
        fields = ["sku", "name", "description", "price", "currency", "backorderable", "weight", "weight_unit"]


class AvailabilitySerializer(serializers.Serializer):
    sku = serializers.CharField()
    available_quantity = serializers.IntegerField()
    backorderable = serializers.BooleanField()
    expected_quantity = serializers.IntegerField()
    estimated_available_at = serializers.DateField(allow_null=True)


class ProductListView(generics.ListAPIView):
    """The active products."""

    serializer_class = ProductSerializer
    queryset = Product.objects.filter(active=True).order_by("sku")


class ProductAvailabilityView(APIView):
    """Available-to-promise quantity now, and the earliest date more arrives."""

    @extend_schema(responses=AvailabilitySerializer)
    def get(self, request, sku: str):
        product = get_object_or_404(Product, sku=sku, active=True)
        return Response(AvailabilitySerializer(product_availability(product=product)).data)
