"""Storefront product catalogue and availability."""

from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce.api.fields import MoneyField
from commerce.models import Product
from fulfillment.selectors import product_availability

SEARCH_MAX = 100


class ProductSerializer(serializers.ModelSerializer):
    price = MoneyField()
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


def active_products():
    return Product.objects.filter(active=True).select_related("currency").order_by("sku")


@extend_schema(
    parameters=[OpenApiParameter("search", str, required=False, description="Part of the SKU or the name, any case.")]
)
class ProductListView(generics.ListAPIView):
    """The active products; ``?search=`` finds them by part of the SKU or name."""

    serializer_class = ProductSerializer

    def get_queryset(self):
        products = active_products()
        search = self.request.query_params.get("search", "").strip()[:SEARCH_MAX]
        if search:
            products = products.filter(Q(sku__icontains=search) | Q(name__icontains=search))
        return products


class ProductDetailView(generics.RetrieveAPIView):
    """One active product by its SKU."""

    serializer_class = ProductSerializer
    lookup_field = "sku"

    def get_queryset(self):
        return active_products()


class ProductAvailabilityView(APIView):
    """Available-to-promise quantity now, and the earliest date more arrives."""

    @extend_schema(responses=AvailabilitySerializer)
    def get(self, request, sku: str):
        product = get_object_or_404(Product, sku=sku, active=True)
        return Response(AvailabilitySerializer(product_availability(product=product)).data)
