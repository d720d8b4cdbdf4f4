"""Storefront product catalogue (availability is fulfillment's: ``fulfillment.api.availability``)."""

from rest_framework import generics, serializers

from commerce.models import Product


class ProductSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="currency_id")

    class Meta:
        model = Product
        fields = ["sku", "name", "description", "price", "currency", "backorderable", "weight", "weight_unit"]


class ProductListView(generics.ListAPIView):
    """The active products."""

    serializer_class = ProductSerializer
    queryset = Product.objects.filter(active=True).order_by("sku")
