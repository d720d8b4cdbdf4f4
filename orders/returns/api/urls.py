from django.urls import path

from orders.returns.api import views

urlpatterns = [
    path("orders/<key:number>/returns/", views.OrderReturnCreateView.as_view(), name="order-returns"),
    path("returns/", views.ReturnListView.as_view(), name="return-list"),
    path("returns/<key:number>/", views.ReturnDetailView.as_view(), name="return-detail"),
    path("returns/<key:number>/cancel/", views.ReturnCancelView.as_view(), name="return-cancel"),
    path("backoffice/returns/<key:number>/", views.BackofficeReturnDetailView.as_view(), name="backoffice-return"),
    path(
        "backoffice/returns/<key:number>/approve/",
        views.BackofficeReturnApproveView.as_view(),
        name="backoffice-return-approve",
    ),
    path(
        "backoffice/returns/<key:number>/deny/", views.BackofficeReturnDenyView.as_view(), name="backoffice-return-deny"
    ),
    path(
        "backoffice/returns/<key:number>/receive/",
        views.BackofficeReturnReceiveView.as_view(),
        name="backoffice-return-receive",
    ),
    path(
        "backoffice/returns/<key:number>/credit/",
        views.BackofficeReturnCreditView.as_view(),
        name="backoffice-return-credit",
    ),
]
