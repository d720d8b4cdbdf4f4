from django.urls import path

from spending_limits.api.limits import SpendingLimitListView

urlpatterns = [
    path("spending-limits/", SpendingLimitListView.as_view(), name="spending-limit-list"),
]
