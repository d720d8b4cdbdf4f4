"""Storefront order API and back-office order actions (docs/api.md)."""

import hashlib
import json
from datetime import UTC

from django.utils.dateparse import parse_datetime
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce.api.exceptions import error_body
from commerce.api.permissions import staff_with
from commerce.errors import ValidationFailed
from orders import on_behalf, selectors, services
from orders.api.idempotency import placement_response_record, placement_response_replay
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
REPLAYED_HEADER = "Idempotent-Replayed"
# Where a payment is authorized and a decline answers 402.
AUTHORIZES = {"post": (402,)}


def customer_of(request):
    customer = getattr(request.user, "customer", None)
    if customer is None:
        raise PermissionDenied("This account has no customer profile; storefront endpoints are for customers.")
    return customer


def _fresh(order) -> dict:
    return OrderSerializer(selectors.order_by_number(number=order.number)).data


def _placed(order) -> dict:
    """The answer to a new placement: the order as placing wrote it, without reading it all again."""
    return OrderSerializer(selectors.order_as_placed(order=order)).data


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
        store=data.get("store"),
        idempotency_key=key,
        fingerprint=services.request_fingerprint(request.data) if key else "",
    )


def _place(request, *, customer, placement, place) -> Response:
    """Place an order with ``place``; a keyed retry gets the first answer again (status and body)."""
    key = placement.idempotency_key
    try:
        order, created = place(data=placement, acting_user=request.user)
    except PaymentDeclined as exc:
        if key and exc.details.get("order"):
            placement_response_record(
                order_number=exc.details["order"],
                customer=customer,
                status_code=exc.status_code,
                body=error_body(exc.code, exc.message, exc.details),
            )
        raise
    if not created:
        status_code, body = placement_response_replay(order=order, current_body=lambda: _fresh(order))
        return Response(body, status=status_code, headers={REPLAYED_HEADER: "true"})
    body = _placed(order)
    if key:
        placement_response_record(order_number=order.number, customer=customer, status_code=201, body=body)
    return Response(body, status=status.HTTP_201_CREATED)


IDEMPOTENCY_PARAMETERS = [
    OpenApiParameter(
        "Idempotency-Key",
        str,
        OpenApiParameter.HEADER,
        required=False,
        description="A retry with the same key and body answers the first answer again (status and "
        "body) with the header Idempotent-Replayed: true; another body with the key is a 409.",
    ),
    OpenApiParameter(
        REPLAYED_HEADER,
        str,
        OpenApiParameter.HEADER,
        response=[201, 402],
        description='"true" when this is the stored answer to an earlier request with the same key.',
    ),
]


def _updated_since(request):
    if "updated_since" not in request.query_params:
        return None
    text = request.query_params["updated_since"]
    try:
        moment = parse_datetime(text)
        # In UTC: the database refuses some offsets a parser takes (+17:59).
        moment = moment.astimezone(UTC) if moment is not None and moment.tzinfo is not None else None
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise ValidationFailed(
            "updated_since: use an ISO 8601 date and time with its offset, e.g. 2026-01-31T12:00:00Z.",
            details={"updated_since": ["Not a date and time with an offset."]},
        )
    return moment


def etag_of(data) -> str:
    """A strong ETag of a response body: equal bodies, equal tags."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return f'"{digest[:32]}"'


class OrderListCreateView(APIView):
    """The customer's orders; placing an order."""

    pagination_class = PageNumberPagination
    error_statuses = AUTHORIZES

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=OrderStatus.values, required=False),
            OpenApiParameter(
                "updated_since",
                OpenApiTypes.DATETIME,
                required=False,
                description="Only orders changed at or after this time, oldest change first (incremental sync).",
            ),
        ],
        responses=OrderSerializer(many=True),
    )
    def get(self, request):
        status_filter = request.query_params.get("status") or None
        if status_filter and status_filter not in OrderStatus.values:
            raise ValidationFailed(
                f"status: must be one of {', '.join(OrderStatus.values)}.", details={"status": ["Unknown status."]}
            )
        paginator = self.pagination_class()
        orders = selectors.orders_for_customer(
            customer=customer_of(request), status=status_filter, updated_since=_updated_since(request)
        )
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(OrderSerializer(page, many=True).data)

    @extend_schema(request=PlaceOrderSerializer, responses={201: OrderSerializer}, parameters=IDEMPOTENCY_PARAMETERS)
    def post(self, request):
        customer = customer_of(request)
        serializer = PlaceOrderSerializer(data=request.data, context={"customer": customer})
        serializer.is_valid(raise_exception=True)
        placement = _placement(request, customer=customer, data=serializer.validated_data)
        return _place(request, customer=customer, placement=placement, place=services.order_place)


class OrderDetailView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "If-None-Match",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="The ETag of a copy the client holds: 304 while the order is unchanged.",
            ),
            OpenApiParameter(
                "ETag", str, OpenApiParameter.HEADER, response=[200, 304], description="The order's current version."
            ),
        ],
        responses={200: OrderSerializer, 304: OpenApiResponse(description="Not modified since the given ETag.")},
    )
    def get(self, request, number: str):
        order = selectors.order_for_customer(customer=customer_of(request), number=number)
        data = OrderSerializer(order).data
        etag = etag_of(data)
        held = parse_etags(request.headers.get("If-None-Match", ""))
        if etag in held or "*" in held:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(data, headers={"ETag": etag})


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

    pagination_class = PageNumberPagination

    @extend_schema(responses=OrderSerializer(many=True))
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.orders_awaiting_approval(user=request.user), request, view=self)
        return paginator.get_paginated_response(OrderSerializer(page, many=True).data)


class OrderApproveView(APIView):
    error_statuses = AUTHORIZES

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
        error_statuses = AUTHORIZES

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
    error_statuses = AUTHORIZES

    @extend_schema(
        request=PlaceOrderOnBehalfSerializer, responses={201: OrderSerializer}, parameters=IDEMPOTENCY_PARAMETERS
    )
    def post(self, request):
        customer_field = CustomerNumberSerializer(data=request.data)
        customer_field.is_valid(raise_exception=True)
        customer = customer_field.validated_data["customer"]
        serializer = PlaceOrderOnBehalfSerializer(data=request.data, context={"customer": customer})
        serializer.is_valid(raise_exception=True)
        placement = _placement(request, customer=customer, data=serializer.validated_data)
        return _place(request, customer=customer, placement=placement, place=on_behalf.order_place_on_behalf)
