"""Storefront order API and back-office order actions (docs/api.md)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce.api.permissions import staff_with
from commerce.errors import ValidationFailed
from orders import on_behalf, selectors, services
from orders.api.serializers import (
    CustomerNumberSerializer,
    OrderSerializer,
    PlaceOrderOnBehalfSerializer,
    PlaceOrderSerializer,
    ReasonSerializer,
    RequiredReasonSerializer,
)
from orders.models import OrderStatus
from payments.errors import PaymentDeclined

IDEMPOTENCY_KEY_MAX = 255


def customer_of(request):
    customer = getattr(request.user, "customer", None)
    if customer is None:
        raise PermissionDenied("This account has no customer profile; storefront endpoints are for customers.")
    return customer


def _fresh(order) -> dict:
    return OrderSerializer(selectors.order_by_number(number=order.number)).data


def _reason(request, *, required: bool = False) -> str:
    serializer = (RequiredReasonSerializer if required else ReasonSerializer)(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data["reason"]


def _placement(request, *, customer, data) -> "services.PlacementInput":
    """The placement input of a storefront body (validated), with the request's idempotency key."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise ValidationFailed(
            f"Idempotency-Key: at most {IDEMPOTENCY_KEY_MAX} characters.",
            details={"Idempotency-Key": ["Too long."]},
        )
    return services.PlacementInput(
        customer=customer,
        items=data["items"],
        payment_method=data["payment"]["method"],
        payment_token=data["payment"].get("token", ""),
        shipping_address=data["shipping_address"],
        ship_mode=data.get("ship_mode", ""),
        purchase_order_number=data.get("purchase_order_number", ""),
        currency=data.get("currency", ""),
        shipping_note=data.get("shipping_note", ""),
        coupon=data.get("coupon", ""),
        idempotency_key=key,
        fingerprint=services.request_fingerprint(request.data) if key else "",
    )


def _placed(order, created: bool) -> Response:
    if not created and order.status == OrderStatus.CANCELLED and order.payments.filter(status="declined").exists():
        raise PaymentDeclined("The payment was declined.", details={"order": order.number, "status": order.status})
    return Response(_fresh(order), status=status.HTTP_201_CREATED)


class OrderListCreateView(APIView):
    """The customer's orders; placing an order."""

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=OrderStatus.values, required=False)],
        responses=OrderSerializer(many=True),
    )
    def get(self, request):
        status_filter = request.query_params.get("status") or None
        if status_filter and status_filter not in OrderStatus.values:
            raise ValidationFailed(
                f"status: must be one of {', '.join(OrderStatus.values)}.", details={"status": ["Unknown status."]}
            )
        paginator = PageNumberPagination()
        orders = selectors.orders_for_customer(customer=customer_of(request), status=status_filter)
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(OrderSerializer(page, many=True).data)

    @extend_schema(
        request=PlaceOrderSerializer,
        responses={201: OrderSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
    )
    def post(self, request):
        customer = customer_of(request)
        serializer = PlaceOrderSerializer(data=request.data, context={"customer": customer})
        serializer.is_valid(raise_exception=True)
        placement = _placement(request, customer=customer, data=serializer.validated_data)
        order, created = services.order_place(data=placement, acting_user=request.user)
        return _placed(order, created)


class OrderDetailView(APIView):
    @extend_schema(responses=OrderSerializer)
    def get(self, request, number: str):
        order = selectors.order_for_customer(customer=customer_of(request), number=number)
        return Response(OrderSerializer(order).data)


class OrderCancelView(APIView):
    @extend_schema(request=ReasonSerializer, responses=OrderSerializer)
    def post(self, request, number: str):
        order = selectors.order_for_customer(customer=customer_of(request), number=number)
        order = services.order_cancel(
            order=order, acting_user=request.user, reason=_reason(request) or "Cancelled by the customer"
        )
        return Response(_fresh(order))


class ApprovalListView(APIView):
    """Orders of the caller's organization waiting for the caller's approval."""

    @extend_schema(responses=OrderSerializer(many=True))
    def get(self, request):
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.orders_awaiting_approval(user=request.user), request, view=self)
        return paginator.get_paginated_response(OrderSerializer(page, many=True).data)


class OrderApproveView(APIView):
    @extend_schema(request=ReasonSerializer, responses=OrderSerializer)
    def post(self, request, number: str):
        order = selectors.order_for_approver(user=request.user, number=number)
        order = services.order_approve(order=order, acting_user=request.user, reason=_reason(request))
        return Response(_fresh(order))


class OrderRejectView(APIView):
    @extend_schema(request=ReasonSerializer, responses=OrderSerializer)
    def post(self, request, number: str):
        order = selectors.order_for_approver(user=request.user, number=number)
        order = services.order_reject(order=order, acting_user=request.user, reason=_reason(request))
        return Response(_fresh(order))


def backoffice_action(permission: str, service, *, reason_required: bool = False, default_reason: str = ""):
    """A back-office order action: staff with ``permission`` call one service on the order."""

    class BackofficeOrderAction(APIView):
        permission_classes = [staff_with(permission)]

        @extend_schema(
            request=RequiredReasonSerializer if reason_required else ReasonSerializer, responses=OrderSerializer
        )
        def post(self, request, number: str):
            order = selectors.order_by_number(number=number)
            reason = _reason(request, required=reason_required) or default_reason
            order = service(order=order, acting_user=request.user, reason=reason)
            return Response(_fresh(order))

    BackofficeOrderAction.__name__ = f"Backoffice{service.__name__.title().replace('_', '')}View"
    return BackofficeOrderAction


class BackofficeOrderDetailView(APIView):
    permission_classes = [staff_with("orders.view_order")]

    @extend_schema(responses=OrderSerializer)
    def get(self, request, number: str):
        return Response(OrderSerializer(selectors.order_by_number(number=number)).data)


class BackofficeOrderCreateView(APIView):
    """Staff place an order on behalf of a customer: the storefront body plus ``customer``."""

    permission_classes = [staff_with("orders.add_order")]

    @extend_schema(
        request=PlaceOrderOnBehalfSerializer,
        responses={201: OrderSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
    )
    def post(self, request):
        customer_field = CustomerNumberSerializer(data=request.data)
        customer_field.is_valid(raise_exception=True)
        customer = customer_field.validated_data["customer"]
        serializer = PlaceOrderOnBehalfSerializer(data=request.data, context={"customer": customer})
        serializer.is_valid(raise_exception=True)
        placement = _placement(request, customer=customer, data=serializer.validated_data)
        order, created = on_behalf.order_place_on_behalf(data=placement, acting_user=request.user)
        return _placed(order, created)
