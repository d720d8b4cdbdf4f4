"""Back-office API of webhook endpoints: ``/api/v1/backoffice/webhooks/``."""

from django.db import models
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import BasePermission

from commerce.api.fields import KeyRelatedField, TextField
from commerce.api.permissions import staff_with
from commerce.models import Store
from commerce.webhooks.models import EventType, WebhookEndpoint

METHOD_PERMISSIONS = {
    "GET": "webhooks.view_webhookendpoint",
    "HEAD": "webhooks.view_webhookendpoint",
    "OPTIONS": "webhooks.view_webhookendpoint",
    "POST": "webhooks.add_webhookendpoint",
    "PUT": "webhooks.change_webhookendpoint",
    "PATCH": "webhooks.change_webhookendpoint",
    "DELETE": "webhooks.delete_webhookendpoint",
}


class WebhookMethodPermission(BasePermission):
    """Besides seeing endpoints, the model permission of the method (add, change, delete)."""

    def has_permission(self, request, view) -> bool:
        permission = METHOD_PERMISSIONS.get(request.method)
        return bool(permission and request.user.has_perm(permission))


PERMISSIONS = [staff_with("webhooks.view_webhookendpoint"), WebhookMethodPermission]


class WebhookEndpointSerializer(serializers.ModelSerializer):
    store = KeyRelatedField(slug_field="code", queryset=Store.objects.all(), help_text="Store code.")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices), allow_empty=False, min_length=1
    )
    url = serializers.URLField(max_length=500)

    serializer_field_mapping = {**serializers.ModelSerializer.serializer_field_mapping, models.CharField: TextField}

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "store", "url", "event_types", "description", "active", "secret", "created_at", "updated_at"]
        read_only_fields = ["id", "secret", "created_at", "updated_at"]

    def validate_event_types(self, value: list[str]) -> list[str]:
        return sorted(set(value))


@extend_schema(tags=["backoffice"])
class WebhookEndpointListCreateView(generics.ListCreateAPIView):
    """The webhook endpoints of every store; register one (its signing secret is generated)."""

    permission_classes = PERMISSIONS
    serializer_class = WebhookEndpointSerializer
    queryset = WebhookEndpoint.objects.select_related("store").order_by("pk")


@extend_schema(tags=["backoffice"])
class WebhookEndpointDetailView(generics.RetrieveUpdateDestroyAPIView):
    """One webhook endpoint: read, change (url, events, active) or remove it."""

    permission_classes = PERMISSIONS
    serializer_class = WebhookEndpointSerializer
    queryset = WebhookEndpoint.objects.select_related("store")
