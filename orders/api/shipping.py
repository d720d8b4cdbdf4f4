"""Back-office shipping of orders without pick batches (non-ATP stores, DESIGN section 18)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce.api.permissions import staff_with
from fulfillment.api.packages import PackageItemRequestSerializer, PackageSerializer
from fulfillment.models import Package
from orders import flow_variants, selectors
from orders.api.serializers import OrderSerializer


class OrderShippingSerializer(serializers.Serializer):
    carrier = serializers.CharField(max_length=64)
    tracking_number = serializers.CharField(max_length=64)
    items = PackageItemRequestSerializer(
        many=True, required=False, allow_empty=False, help_text="Leave out for everything not shipped yet."
    )


class OrderPackagesSerializer(serializers.Serializer):
    packages = PackageSerializer(many=True)


def _shipping_input(request) -> dict:
    serializer = OrderShippingSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    items = data.get("items")
    return {
        "carrier": data["carrier"],
        "tracking_number": data["tracking_number"],
        "items": None if items is None else [(item["order_item"], item["quantity"]) for item in items],
    }


class OrderPackageCreateView(APIView):
    """Pack a non-ATP order for shipment (one package per center); confirm each package after."""

    permission_classes = [staff_with("fulfillment.add_package")]

    @extend_schema(request=OrderShippingSerializer, responses={201: OrderPackagesSerializer})
    def post(self, request, number: str):
        order = selectors.order_by_number(number=number)
        packages = flow_variants.order_packages_create(
            order=order, acting_user=request.user, **_shipping_input(request)
        )
        loaded = (
            Package.objects.filter(pk__in=[package.pk for package in packages])
            .select_related("release__order")
            .prefetch_related("items__order_item")
            .order_by("pk")
        )
        return Response({"packages": PackageSerializer(loaded, many=True).data}, status=status.HTTP_201_CREATED)


class OrderShipmentReportView(APIView):
    """An external fulfillment system reports a non-ATP order (or part of it) shipped."""

    permission_classes = [staff_with("fulfillment.add_package", "fulfillment.ship_package")]

    @extend_schema(request=OrderShippingSerializer, responses={200: OrderSerializer})
    def post(self, request, number: str):
        order = selectors.order_by_number(number=number)
        flow_variants.order_shipment_report(order=order, acting_user=request.user, **_shipping_input(request))
        return Response(OrderSerializer(selectors.order_by_number(number=number)).data)
