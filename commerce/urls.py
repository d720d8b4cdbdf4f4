from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from commerce.api.auth import LoginView
from commerce.api.products import ProductDetailView, ProductListView
from commerce.webhooks.api import WebhookEndpointDetailView, WebhookEndpointListCreateView

api_v1 = [
    path("auth/token/", LoginView.as_view(), name="api-token"),
    path("products/", ProductListView.as_view(), name="product-list"),
    path("products/<key:sku>/", ProductDetailView.as_view(), name="product-detail"),
    path("backoffice/webhooks/", WebhookEndpointListCreateView.as_view(), name="webhook-list"),
    path("backoffice/webhooks/<int:pk>/", WebhookEndpointDetailView.as_view(), name="webhook-detail"),
    path("", include("orders.api.urls")),
    path("", include("payments.api.urls")),
    path("", include("fulfillment.api.urls")),
    path("", include("spending_limits.api.urls")),
]

urlpatterns = [
    # The admin's "View site" link leads here: where the admin and the API documentation are.
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
]

handler404 = "commerce.views.not_found"
handler500 = "commerce.views.server_error"
