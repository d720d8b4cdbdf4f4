from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from commerce.api.auth import LoginView
from commerce.api.products import ProductListView

api_v1 = [
    path("auth/token/", LoginView.as_view(), name="api-token"),
    path("products/", ProductListView.as_view(), name="product-list"),
    path("", include("orders.api.urls")),
    path("", include("payments.api.urls")),
    path("", include("fulfillment.api.urls")),
    path("", include("spending_limits.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

handler404 = "commerce.views.not_found"
handler500 = "commerce.views.server_error"
