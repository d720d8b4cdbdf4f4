from django.urls import path

from fulfillment.api.receipts import ReceiptCreateView

urlpatterns = [
    path("backoffice/inventory/receipts/", ReceiptCreateView.as_view(), name="inventory-receipt-create"),
]
