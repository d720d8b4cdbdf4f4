"""Back-office packing and shipping: a package for a release, and the confirmation it shipped."""

from decimal import Decimal

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce.api.fields import MoneyField, TextField
from commerce.api.permissions import staff_with
from commerce.models import MONEY
from fulfillment.models import Package, Release, WeightUnit
from fulfillment.shipping import package_confirm_shipment, package_create


class PackageItemRequestSerializer(serializers.Serializer):
    order_item = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)


class PackageCreateSerializer(serializers.Serializer):
    items = PackageItemRequestSerializer(
        many=True,
        required=False,
        allow_empty=False,
        min_length=1,
        help_text="Leave out to pack everything not packed yet.",
    )
    carrier = TextField(max_length=64)
    tracking_number = TextField(max_length=64)
    weight = serializers.DecimalField(
        max_digits=10, decimal_places=3, min_value=Decimal("0.001"), required=False, allow_null=True
    )
    weight_unit = serializers.ChoiceField(choices=WeightUnit.choices, default=WeightUnit.KG)
    shipping_cost = serializers.DecimalField(**MONEY, min_value=Decimal("0"), required=False, allow_null=True)


class PackageItemSerializer(serializers.Serializer):
    order_item = serializers.IntegerField(source="order_item_id")
    sku = serializers.CharField(source="order_item.sku")
    quantity = serializers.IntegerField()


class PackageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    release = serializers.CharField(source="release.number")
    release_id = serializers.IntegerField()
    order = serializers.CharField(source="release.order.number")
    status = serializers.CharField()
    carrier = serializers.CharField()
    tracking_number = serializers.CharField()
    weight = serializers.DecimalField(max_digits=10, decimal_places=3, allow_null=True)
    weight_unit = serializers.CharField()
    shipping_cost = MoneyField(allow_null=True)
    currency = serializers.CharField(source="currency_id", allow_null=True)
    items = PackageItemSerializer(many=True)
    created_at = serializers.DateTimeField()
    shipped_at = serializers.DateTimeField(allow_null=True)


def _package_data(pk: int) -> dict:
    package = Package.objects.select_related("release__order").prefetch_related("items__order_item").get(pk=pk)
    return PackageSerializer(package).data


class ReleasePackageCreateView(APIView):
    """Pack items of a picked release; without items, everything not packed yet."""

    permission_classes = [staff_with("fulfillment.add_package")]

    @extend_schema(request=PackageCreateSerializer, responses={201: PackageSerializer})
    def post(self, request, pk: int):
        release = get_object_or_404(Release, pk=pk)
        serializer = PackageCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        items = data.get("items")
        package = package_create(
            release=release,
            items=None if items is None else [(item["order_item"], item["quantity"]) for item in items],
            carrier=data["carrier"],
            tracking_number=data["tracking_number"],
            weight=data.get("weight"),
            weight_unit=data["weight_unit"],
            shipping_cost=data.get("shipping_cost"),
            acting_user=request.user,
        )
        return Response(_package_data(package.pk), status=status.HTTP_201_CREATED)


class PackageConfirmShipmentView(APIView):
    """Confirm a package shipped; confirming it again changes nothing."""

    permission_classes = [staff_with("fulfillment.ship_package")]

    @extend_schema(request=None, responses={200: PackageSerializer})
    def post(self, request, pk: int):
        package = get_object_or_404(Package, pk=pk)
        package = package_confirm_shipment(package=package, acting_user=request.user)
        return Response(_package_data(package.pk))
