"""The buyer organization's spending limits."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce.api.fields import MoneyField
from spending_limits.selectors import KIND_PURCHASE_ORDER, KIND_TRADING_AGREEMENT, organization_spending_limits


class SpendingLimitSerializer(serializers.Serializer):
    number = serializers.CharField()
    kind = serializers.CharField(help_text=f"{KIND_TRADING_AGREEMENT} or {KIND_PURCHASE_ORDER}.")
    type = serializers.CharField(help_text="right_to_buy for an agreement; blanket, limited or single_use for a PO.")
    currency = serializers.CharField()
    limit = MoneyField(allow_null=True, help_text="Null when unlimited.")
    remaining = MoneyField(allow_null=True, help_text="Limit - purchases + refunds.")
    state = serializers.CharField()
    usable = serializers.BooleanField(help_text="Whether a new order can be placed against it now.")


class SpendingLimitListView(APIView):
    """The agreements and purchase orders of the caller's organization, with what is left of each."""

    @extend_schema(responses=SpendingLimitSerializer(many=True))
    def get(self, request):
        customer = getattr(request.user, "customer", None)
        organization = customer.organization if customer is not None else None
        limits = organization_spending_limits(organization=organization)
        return Response(SpendingLimitSerializer(limits, many=True).data)
