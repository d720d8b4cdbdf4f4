"""Webhook endpoints per store, and the delivery log with its attempts and a redeliver button."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from commerce.admin_base import ModelAdmin, ReadOnlyAdmin, ReadOnlyInline
from commerce.webhooks.delivery import webhook_redeliver
from commerce.webhooks.models import EventType, WebhookAttempt, WebhookDelivery, WebhookEndpoint

REDELIVER_PERMISSION = "webhooks.redeliver_webhookdelivery"


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(choices=EventType.choices, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = WebhookEndpoint
        fields = ["store", "url", "event_types", "description", "active", "secret"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "store", "events", "active", "created_at"]
    list_filter = ["active", "store"]
    list_select_related = ["store"]
    search_fields = ["url", "description"]

    @admin.display(description="Events")
    def events(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.event_types)


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ["number", "requested_at", "status_code", "error", "duration_ms", "response_body"]
    readonly_fields = fields
    extra = 0


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event_type", "event_id", "endpoint", "status", "attempts", "last_status_code", "created_at"]
    list_filter = ["status", "event__type", "endpoint__store"]
    list_select_related = ["event", "endpoint__store"]
    search_fields = ["event__event_id", "endpoint__url"]
    fields = [
        "event_id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
        "payload",
        "redeliver",
    ]
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["redeliver_selected"]

    @admin.display(description="Event", ordering="event__type")
    def event_type(self, delivery: WebhookDelivery) -> str:
        return delivery.event.type

    @admin.display(description="Event id")
    def event_id(self, delivery: WebhookDelivery) -> str:
        return delivery.event.event_id

    @admin.display(description="Payload")
    def payload(self, delivery: WebhookDelivery) -> str:
        import json

        return format_html("<pre>{}</pre>", json.dumps(delivery.event.envelope(), indent=2, sort_keys=True))

    @admin.display(description="Send again")
    def redeliver(self, delivery: WebhookDelivery) -> str:
        url = reverse("admin:webhooks_webhookdelivery_redeliver", args=[delivery.pk])
        return format_html(
            '<button type="submit" formaction="{}" formmethod="post" class="button">Redeliver</button>', url
        )

    def has_redeliver_permission(self, request) -> bool:
        return request.user.has_perm(REDELIVER_PERMISSION)

    @admin.action(description="Redeliver the selected deliveries", permissions=["redeliver"])
    def redeliver_selected(self, request, queryset) -> None:
        count = 0
        for delivery in queryset:
            webhook_redeliver(delivery=delivery)
            count += 1
        self.message_user(request, f"{count} deliveries queued to be sent again.", messages.SUCCESS)

    def get_urls(self):
        urls = [
            path(
                "<int:pk>/redeliver/",
                self.admin_site.admin_view(self.redeliver_view),
                name="webhooks_webhookdelivery_redeliver",
            ),
        ]
        return urls + super().get_urls()

    def redeliver_view(self, request, pk: int):
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:webhooks_webhookdelivery_change", args=[pk]))
        if not self.has_redeliver_permission(request):
            raise PermissionDenied
        delivery = get_object_or_404(WebhookDelivery, pk=pk)
        webhook_redeliver(delivery=delivery)
        self.message_user(request, "The delivery is queued to be sent again.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:webhooks_webhookdelivery_change", args=[pk]))
