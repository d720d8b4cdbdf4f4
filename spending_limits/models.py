"""B2B trading agreements and purchase orders with spending limits."""

from django.db import models
from django.db.models import Q

from commerce.models import MONEY, Currency, Organization


class AgreementState(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CLOSED = "closed", "Closed"


class TradingAgreement(models.Model):
    """A buyer organization's contract; its right-to-buy-by-amount term is the spending limit."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="trading_agreements")
    number = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=128, blank=True)
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT)
    limit_amount = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Right-to-buy limit in the agreement currency. Empty: unlimited."
    )
    requires_purchase_order = models.BooleanField(default=False)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=12, choices=AgreementState.choices, default=AgreementState.ACTIVE)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(limit_amount__isnull=True) | Q(limit_amount__gte=0), name="agreement_limit_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.number


class PurchaseOrder(models.Model):
    class Type(models.TextChoices):
        BLANKET = "blanket", "Blanket (no limit)"
        LIMITED = "limited", "Limited"
        SINGLE_USE = "single_use", "Single use"

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        CLOSED = "closed", "Closed"

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="purchase_orders")
    number = models.CharField(max_length=64)
    type = models.CharField(max_length=12, choices=Type.choices)
    limit_amount = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT)
    state = models.CharField(max_length=8, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization", "number"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="purchase_order_unique_number"),
            models.CheckConstraint(
                condition=Q(type="blanket") | Q(limit_amount__isnull=False), name="purchase_order_limited_has_limit"
            ),
            models.CheckConstraint(
                condition=Q(limit_amount__isnull=True) | Q(limit_amount__gte=0),
                name="purchase_order_limit_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.number
