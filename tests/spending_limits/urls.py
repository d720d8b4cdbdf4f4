"""This app's routes mounted where the product mounts them, so its tests do not load other apps' views."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("spending_limits.api.urls")),
]
