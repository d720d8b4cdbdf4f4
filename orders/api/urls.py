from django.urls import include, path

from orders import payment_lifecycle, services
from orders.api import shipping, views

urlpatterns = [
    path("orders/", views.OrderListCreateView.as_view(), name="order-list"),
    path("orders/<key:number>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<key:number>/cancel/", views.OrderCancelView.as_view(), name="order-cancel"),
    path("orders/<key:number>/approve/", views.OrderApproveView.as_view(), name="order-approve"),
    path("orders/<key:number>/reject/", views.OrderRejectView.as_view(), name="order-reject"),
    path("approvals/", views.ApprovalListView.as_view(), name="approval-list"),
    path("backoffice/orders/", views.BackofficeOrderCreateView.as_view(), name="backoffice-order-create"),
    path("backoffice/orders/<key:number>/", views.BackofficeOrderDetailView.as_view(), name="backoffice-order"),
    path(
        "backoffice/orders/<key:number>/fulfillment-failed/",
        views.backoffice_action(
            "orders.release_order", payment_lifecycle.order_fulfillment_failed, default_reason="Fulfillment failed"
        ).as_view(),
        name="backoffice-order-fulfillment-failed",
    ),
    path(
        "backoffice/orders/<key:number>/approve/",
        views.backoffice_action(
            "orders.approve_order", services.order_approve, default_reason="Approved by staff"
        ).as_view(),
        name="backoffice-order-approve",
    ),
    path(
        "backoffice/orders/<key:number>/reject/",
        views.backoffice_action("orders.approve_order", services.order_reject, reason_required=True).as_view(),
        name="backoffice-order-reject",
    ),
    path(
        "backoffice/orders/<key:number>/approve-payment/",
        views.backoffice_action("orders.review_payment", services.order_approve_payment).as_view(),
        name="backoffice-order-approve-payment",
    ),
    path(
        "backoffice/orders/<key:number>/decline-payment/",
        views.backoffice_action(
            "orders.review_payment", services.order_decline_payment, reason_required=True
        ).as_view(),
        name="backoffice-order-decline-payment",
    ),
    path(
        "backoffice/orders/<key:number>/cancel/",
        views.backoffice_action(
            "orders.cancel_order", services.order_cancel, default_reason="Cancelled by staff"
        ).as_view(),
        name="backoffice-order-cancel",
    ),
]

# Shipping from the order itself, without pick batches (non-ATP stores).
urlpatterns += [
    path(
        "backoffice/orders/<key:number>/packages/",
        shipping.OrderPackageCreateView.as_view(),
        name="backoffice-order-packages",
    ),
    path(
        "backoffice/orders/<key:number>/shipments/",
        shipping.OrderShipmentReportView.as_view(),
        name="backoffice-order-shipments",
    ),
]

# Returns (RMA): their own routes beside the orders'.
urlpatterns += [path("", include("orders.returns.api.urls"))]
