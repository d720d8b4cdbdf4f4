from django.urls import path

from fulfillment.api.availability import ProductAvailabilityView
from fulfillment.api.packages import PackageConfirmShipmentView, ReleasePackageCreateView
from fulfillment.api.pick_batches import PackingSlipsView, PickBatchCreateView, PickBatchDetailView, PickTicketView
from fulfillment.api.receipts import ReceiptCreateView

urlpatterns = [
    path("products/<key:sku>/availability/", ProductAvailabilityView.as_view(), name="product-availability"),
    path("backoffice/inventory/receipts/", ReceiptCreateView.as_view(), name="inventory-receipt-create"),
    path("backoffice/pick-batches/", PickBatchCreateView.as_view(), name="pick-batch-create"),
    path("backoffice/pick-batches/<int:pk>/", PickBatchDetailView.as_view(), name="pick-batch-detail"),
    path("backoffice/pick-batches/<int:pk>/pick-ticket.pdf", PickTicketView.as_view(), name="pick-batch-pick-ticket"),
    path(
        "backoffice/pick-batches/<int:pk>/packing-slips.pdf",
        PackingSlipsView.as_view(),
        name="pick-batch-packing-slips",
    ),
    path("backoffice/releases/<int:pk>/packages/", ReleasePackageCreateView.as_view(), name="release-package-create"),
    path(
        "backoffice/packages/<int:pk>/confirm-shipment/",
        PackageConfirmShipmentView.as_view(),
        name="package-confirm-shipment",
    ),
]
