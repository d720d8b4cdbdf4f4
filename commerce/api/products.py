"""Storefront product catalogue (availability is fulfillment's: ``fulfillment.api.availability``)."""

from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers

from commerce.api.fields import MoneyField
from commerce.models import Product

SEARCH_MAX = 100


class ProductSerializer(serializers.ModelSerializer):
    price = MoneyField()
    currency = serializers.CharField(source="currency_id")

    class Meta:
        model = Product
        fields = ["sku", "name", "description", "price", "currency", "backorderable", "weight", "weight_unit"]


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
