"""Return API (DESIGN section 17): the customer's own RMAs, and the back office's decisions."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce.api.permissions import staff_with
from commerce.errors import ValidationFailed
from orders import selectors as order_selectors
from orders.api.serializers import ReasonSerializer, RequiredReasonSerializer
from orders.api.views import customer_of
from orders.returns import selectors, services
from orders.returns.api.serializers import (
    ApproveSerializer,
    ReceiveSerializer,
    ReturnCreateSerializer,
    ReturnSerializer,
    ReturnUpdateSerializer,
)
from orders.returns.crediting import return_request_credit
from orders.returns.models import ReturnStatus


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _out(rma, *, code: int = status.HTTP_200_OK) -> Response:
    return Response(ReturnSerializer(selectors.return_by_number(number=rma.number)).data, status=code)


class OrderReturnCreateView(APIView):
    """Ask to return goods of one of the customer's shipped orders."""

    @extend_schema(request=ReturnCreateSerializer, responses={201: ReturnSerializer})
    def post(self, request, number: str):
        order = order_selectors.order_for_customer(customer=customer_of(request), number=number)
        data = _valid(ReturnCreateSerializer, request)
        rma = services.return_request_create(
            order=order, lines=data["items"], comment=data["comment"], acting_user=request.user
        )
        return _out(rma, code=status.HTTP_201_CREATED)


class ReturnListView(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=ReturnStatus.values, required=False)],
        responses=ReturnSerializer(many=True),
    )
    def get(self, request):
        wanted = request.query_params.get("status") or None
        if wanted and wanted not in ReturnStatus.values:
            raise ValidationFailed(
                f"status: must be one of {', '.join(ReturnStatus.values)}.", details={"status": ["Unknown status."]}
            )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.returns_for_customer(customer=customer_of(request), status=wanted), request, view=self
        )
        return paginator.get_paginated_response(ReturnSerializer(page, many=True).data)


class ReturnDetailView(APIView):
    @extend_schema(responses=ReturnSerializer)
    def get(self, request, number: str):
        return Response(
            ReturnSerializer(selectors.return_for_customer(customer=customer_of(request), number=number)).data
        )

    @extend_schema(request=ReturnUpdateSerializer, responses=ReturnSerializer)
    def patch(self, request, number: str):
        rma = selectors.return_for_customer(customer=customer_of(request), number=number)
        data = _valid(ReturnUpdateSerializer, request)
        rma = services.return_request_update(
            return_request=rma, lines=data.get("items"), comment=data.get("comment"), acting_user=request.user
        )
        return _out(rma)


class ReturnCancelView(APIView):
    @extend_schema(request=ReasonSerializer, responses=ReturnSerializer)
    def post(self, request, number: str):
        rma = selectors.return_for_customer(customer=customer_of(request), number=number)
        reason = _valid(ReasonSerializer, request)["reason"]
        return _out(services.return_request_cancel(return_request=rma, acting_user=request.user, reason=reason))


# The back office: each action needs its Django permission.


class BackofficeReturnDetailView(APIView):
    permission_classes = [staff_with("orders.view_returnrequest")]

    @extend_schema(responses=ReturnSerializer)
    def get(self, request, number: str):
        return Response(ReturnSerializer(selectors.return_by_number(number=number)).data)


class BackofficeReturnApproveView(APIView):
    permission_classes = [staff_with("orders.approve_returnrequest")]

    @extend_schema(request=ApproveSerializer, responses=ReturnSerializer)
    def post(self, request, number: str):
        rma = selectors.return_by_number(number=number)
        data = _valid(ApproveSerializer, request)
        rma = services.return_request_approve(
            return_request=rma, overrides=data["items"], reason=data["reason"], acting_user=request.user
        )
        return _out(rma)


class BackofficeReturnDenyView(APIView):
    permission_classes = [staff_with("orders.approve_returnrequest")]

    @extend_schema(request=RequiredReasonSerializer, responses=ReturnSerializer)
    def post(self, request, number: str):
        rma = selectors.return_by_number(number=number)
        reason = _valid(RequiredReasonSerializer, request)["reason"]
        return _out(services.return_request_deny(return_request=rma, reason=reason, acting_user=request.user))


class BackofficeReturnReceiveView(APIView):
    permission_classes = [staff_with("orders.receive_returnrequest")]

    @extend_schema(request=ReceiveSerializer, responses=ReturnSerializer)
    def post(self, request, number: str):
        rma = selectors.return_by_number(number=number)
        data = _valid(ReceiveSerializer, request)
        return _out(services.return_request_receive(return_request=rma, lines=data["items"], acting_user=request.user))


class BackofficeReturnCreditView(APIView):
    permission_classes = [staff_with("orders.credit_returnrequest")]

    @extend_schema(request=None, responses=ReturnSerializer)
    def post(self, request, number: str):
        rma = selectors.return_by_number(number=number)
        return _out(return_request_credit(return_request=rma, acting_user=request.user, partial=True))
