"""Back-office pick batches: create one, read it, print its pick ticket and packing slips."""

from django.db.models import Prefetch
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from commerce.api.exceptions import error_body
from commerce.api.fields import KeyRelatedField
from commerce.api.permissions import staff_with
from commerce.api.schema import ErrorResponseSerializer
from fulfillment.batches import pick_batch_create
from fulfillment.documents import DocumentNotReady, document_print
from fulfillment.models import Document, FulfillmentCenter, PickBatch, Release


class PickBatchCreateSerializer(serializers.Serializer):
    fulfillment_center = KeyRelatedField(
        slug_field="code", queryset=FulfillmentCenter.objects.filter(active=True), help_text="Fulfillment center code."
    )


class ShipToSerializer(serializers.Serializer):
    name = serializers.CharField(source="ship_to_name")
    line1 = serializers.CharField(source="ship_to_line1")
    line2 = serializers.CharField(source="ship_to_line2")
    city = serializers.CharField(source="ship_to_city")
    region = serializers.CharField(source="ship_to_region")
    postal_code = serializers.CharField(source="ship_to_postal_code")
    country = serializers.CharField(source="ship_to_country")


class ReleaseItemSerializer(serializers.Serializer):
    order_item = serializers.IntegerField(source="order_item_id")
    sku = serializers.CharField(source="order_item.sku")
    name = serializers.CharField(source="order_item.name")
    quantity = serializers.IntegerField()
    quantity_packed = serializers.IntegerField()
    quantity_shipped = serializers.IntegerField()


class ReleaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    order = serializers.CharField(source="order.number")
    status = serializers.CharField()
    fulfillment_center = serializers.CharField(source="fulfillment_center.code")
    ship_mode = serializers.CharField()
    tote = serializers.IntegerField(allow_null=True)
    ship_to = ShipToSerializer(source="*")
    items = ReleaseItemSerializer(many=True)


class DocumentSerializer(serializers.Serializer):
    kind = serializers.CharField()
    status = serializers.CharField()
    paper_size = serializers.CharField()
    pages = serializers.IntegerField()
    rendered_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()

    URL_NAMES = {
        Document.Kind.PICK_TICKET: "pick-batch-pick-ticket",
        Document.Kind.PACKING_SLIPS: "pick-batch-packing-slips",
    }

    def get_url(self, document: Document) -> str:
        path = reverse(self.URL_NAMES[document.kind], kwargs={"pk": document.batch_id})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class PickBatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.CharField()
    fulfillment_center = serializers.CharField(source="fulfillment_center.code")
    store = serializers.CharField(source="store.code")
    expedited = serializers.BooleanField()
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    printed_at = serializers.DateTimeField(allow_null=True)
    done_at = serializers.DateTimeField(allow_null=True)
    releases = ReleaseSerializer(many=True)
    documents = DocumentSerializer(many=True)


def _batch_with_details(pk: int) -> PickBatch:
    releases = Release.objects.select_related("order", "fulfillment_center").prefetch_related("items__order_item")
    return get_object_or_404(
        PickBatch.objects.select_related("fulfillment_center", "store", "created_by").prefetch_related(
            Prefetch("releases", queryset=releases.order_by("tote")), "documents"
        ),
        pk=pk,
    )


class PickBatchCreateView(APIView):
    """Batch the oldest ready releases of a fulfillment center."""

    permission_classes = [staff_with("fulfillment.add_pickbatch")]

    @extend_schema(request=PickBatchCreateSerializer, responses={201: PickBatchSerializer})
    def post(self, request):
        serializer = PickBatchCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        batch = pick_batch_create(**serializer.validated_data, acting_user=request.user)
        data = PickBatchSerializer(_batch_with_details(batch.pk), context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


class PickBatchDetailView(APIView):
    """A pick batch with its releases, their items and its documents."""

    permission_classes = [staff_with("fulfillment.view_pickbatch")]

    @extend_schema(responses={200: PickBatchSerializer})
    def get(self, request, pk: int):
        return Response(PickBatchSerializer(_batch_with_details(pk), context={"request": request}).data)


class PickBatchDocumentView(APIView):
    """The PDF of a pick batch, recorded as printed; 202 while a large batch still renders."""

    permission_classes = [staff_with("fulfillment.print_pickbatch")]
    kind: str = ""

    def perform_content_negotiation(self, request, force=False):
        # A PDF client asks for application/pdf; its errors still come as the JSON error body.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            202: OpenApiResponse(
                ErrorResponseSerializer, description="Still rendering: the error body with retry_after_seconds."
            ),
        }
    )
    def get(self, request, pk: int):
        batch = get_object_or_404(PickBatch.objects.select_related("store"), pk=pk)
        try:
            record = document_print(batch=batch, kind=self.kind, acting_user=request.user)
        except DocumentNotReady as exc:
            return Response(
                error_body(exc.code, exc.message, exc.details),
                status=status.HTTP_202_ACCEPTED,
                headers={"Retry-After": str(exc.details.get("retry_after_seconds", 10))},
            )
        document = record.document
        filename = f"{batch.number}-{self.kind.replace('_', '-')}.pdf"
        return FileResponse(document.file.open("rb"), content_type="application/pdf", filename=filename)


class PickTicketView(PickBatchDocumentView):
    kind = Document.Kind.PICK_TICKET


class PackingSlipsView(PickBatchDocumentView):
    kind = Document.Kind.PACKING_SLIPS
