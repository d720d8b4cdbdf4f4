"""Endpoints a store registers, the events emitted for them, and each delivery with its attempts."""

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone

from commerce.models import Store


class EventType(models.TextChoices):
    ORDER_STATUS_CHANGED = "order.status_changed", "Order status changed"
    ORDER_SHIPPED = "order.shipped", "Order shipped (with tracking)"
    RETURN_UPDATED = "return.updated", "Return updated"


def new_secret() -> str:
    return f"whsec_{secrets.token_hex(24)}"


def new_event_id() -> str:
    return f"evt_{secrets.token_hex(12)}"


class WebhookEndpoint(models.Model):
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500, help_text="Receives a POST of each event as JSON.")
    secret = models.CharField(max_length=80, default=new_secret, help_text="Signs each delivery (X-Signature).")
    event_types = models.JSONField(default=list, help_text="The event types sent to this endpoint.")
    description = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["store", "pk"]

    def __str__(self) -> str:
        return f"{self.store.code}: {self.url}"


class WebhookEvent(models.Model):
    """One event as emitted: the envelope's ``id`` (receivers dedupe by it), type and data."""

    event_id = models.CharField(max_length=40, unique=True, default=new_event_id, editable=False)
    type = models.CharField(max_length=40, choices=EventType.choices)
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"

    def envelope(self) -> dict:
        return {"id": self.event_id, "type": self.type, "created": int(self.created_at.timestamp()), "data": self.data}


class WebhookDelivery(models.Model):
    """An event on its way to one endpoint: attempted until a 2xx answer, at most ``MAX_ATTEMPTS`` times."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed (attempts exhausted)"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once_per_endpoint"),
            models.CheckConstraint(
                condition=~Q(status="succeeded") | Q(delivered_at__isnull=False), name="webhook_delivered_has_time"
            ),
        ]
        permissions = [("redeliver_webhookdelivery", "Can redeliver webhook deliveries")]

    def __str__(self) -> str:
        return f"{self.event} -> {self.endpoint.url}"


class WebhookAttempt(models.Model):
    """One POST of a delivery: what the receiver answered, or why there was no answer."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    requested_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_body = models.TextField(blank=True, help_text="The first 1000 characters of the answer.")

    class Meta:
        ordering = ["delivery", "number", "pk"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
