"""Return requests (RMAs), their items and their history."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from commerce.models import MONEY

ZERO = Decimal("0")


class ReturnStatus(models.TextChoices):
    PENDING = "PND", "Pending approval"
    APPROVED = "APP", "Approved"
    CLOSED = "CLO", "Credited and closed"
    CANCELLED = "CAN", "Cancelled"


class ReturnItemStatus(models.TextChoices):
    PENDING = "PND", "Pending approval"
    APPROVED = "APP", "Approved automatically"
    MANUAL = "MAN", "Approved by staff"
    DENIED = "DNY", "Denied"


class ReturnReason(models.TextChoices):
    DAMAGED = "damaged", "Damaged"
    WRONG_ITEM = "wrong_item", "Wrong item"
    NOT_NEEDED = "not_needed", "Not needed"
    OTHER = "other", "Other"


class Disposition(models.TextChoices):
    RESTOCK = "restock", "Restock"
    SCRAP = "scrap", "Scrap"


R = ReturnStatus
I = ReturnItemStatus  # noqa: E741
APPROVED_ITEM_STATUSES = (I.APPROVED, I.MANUAL)
OPEN_STATUSES = (R.PENDING, R.APPROVED)


class ReturnRequestQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def for_customer(self, customer):
        return self.filter(order__customer=customer)

    def ready_to_credit(self):
        """Approved returns whose approved items all came back (or need no receipt)."""
        waiting = ReturnItem.objects.filter(
            return_request=models.OuterRef("pk"),
            status__in=APPROVED_ITEM_STATUSES,
            receipt_required=True,
            quantity_received__lt=F("quantity"),
        )
        return self.filter(status=R.APPROVED).exclude(models.Exists(waiting))


class ReturnRequest(ConcurrentTransitionMixin, models.Model):
    """An RMA: ``<order number>-R<n>``, what the customer sends back and what they get for it."""

    number = models.CharField(max_length=40, unique=True, editable=False)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="returns")
    sequence = models.PositiveIntegerField(help_text="The n of R<n>: this order's nth return.")
    status = FSMField(max_length=3, choices=ReturnStatus.choices, default=R.PENDING, protected=True, db_index=True)
    comment = models.TextField(blank=True)
    status_reason = models.TextField(blank=True, help_text="Why it was denied or cancelled.")

    credit_total = models.DecimalField(**MONEY, default=ZERO, help_text="In the order's currency.")
    refunded_amount = models.DecimalField(**MONEY, default=ZERO, help_text="Given back on the captured payment.")
    deposit_reduction = models.DecimalField(**MONEY, default=ZERO, help_text="Left out of the order's deposit.")
    credit_key = models.CharField(max_length=64, blank=True, help_text="Idempotency key of the credit's refund.")

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True, help_text="When the first goods came back.")
    credited_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = ReturnRequestQuerySet.as_manager()

    class Meta:
        verbose_name = "return (RMA)"
        verbose_name_plural = "returns (RMA)"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["order", "sequence"], name="return_unique_sequence_per_order"),
            models.CheckConstraint(condition=Q(credit_total__gte=0), name="return_credit_not_negative"),
            models.CheckConstraint(condition=Q(refunded_amount__gte=0), name="return_refunded_not_negative"),
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=F("credit_total")), name="return_refunded_lte_credit"
            ),
            models.CheckConstraint(
                condition=Q(deposit_reduction__gte=0) & Q(deposit_reduction__lte=F("credit_total")),
                name="return_deposit_reduction_lte_credit",
            ),
            models.CheckConstraint(
                condition=~Q(status="CLO") | Q(credited_at__isnull=False), name="return_closed_is_credited"
            ),
        ]
        permissions = [
            ("approve_returnrequest", "Can approve or deny returns"),
            ("receive_returnrequest", "Can receive returned goods"),
            ("credit_returnrequest", "Can credit returns"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_locked(self) -> bool:
        """Goods received or credit issued: the customer may no longer change it."""
        return self.received_at is not None or self.credited_at is not None

    # Transitions: this instance's own fields only; the services do the rest.

    @transition(field=status, source=R.PENDING, target=R.APPROVED)
    def approve(self) -> None:
        self.approved_at = timezone.now()

    @transition(field=status, source=R.APPROVED, target=R.PENDING, conditions=[lambda rma: not rma.is_locked])
    def reopen(self) -> None:
        self.approved_at = None

    @transition(field=status, source=OPEN_STATUSES, target=R.CANCELLED, conditions=[lambda rma: not rma.is_locked])
    def cancel(self, reason: str = "") -> None:
        self.cancelled_at = timezone.now()
        self.status_reason = reason

    @transition(field=status, source=R.APPROVED, target=R.CLOSED)
    def close(self) -> None:
        self.credited_at = timezone.now()


class ReturnItem(ConcurrentTransitionMixin, models.Model):
    return_request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="items")
    order_item = models.ForeignKey("orders.OrderItem", on_delete=models.PROTECT, related_name="return_items")
    quantity = models.PositiveIntegerField()
    reason = models.CharField(max_length=16, choices=ReturnReason.choices)
    status = FSMField(max_length=3, choices=ReturnItemStatus.choices, default=I.PENDING, protected=True)
    deny_reasons = models.JSONField(
        default=list, blank=True, help_text="Why it was not approved automatically, or why staff denied it."
    )
    receipt_required = models.BooleanField(
        default=True, help_text="Off: credited without waiting for the goods (staff decide)."
    )
    quantity_received = models.PositiveIntegerField(default=0)
    quantity_restocked = models.PositiveIntegerField(default=0)
    disposition = models.CharField(max_length=8, choices=Disposition.choices, blank=True)
    fulfillment_center = models.ForeignKey(
        "fulfillment.FulfillmentCenter", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    credit_amount = models.DecimalField(**MONEY, default=ZERO)

    class Meta:
        ordering = ["return_request", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["return_request", "order_item"], name="return_item_unique_order_item"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="return_item_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=F("quantity")), name="return_item_received_lte_quantity"
            ),
            models.CheckConstraint(
                condition=Q(quantity_restocked__lte=F("quantity_received")), name="return_item_restocked_lte_received"
            ),
            models.CheckConstraint(condition=Q(credit_amount__gte=0), name="return_item_credit_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.order_item.sku}"

    @property
    def is_approved(self) -> bool:
        return self.status in APPROVED_ITEM_STATUSES

    @property
    def quantity_to_credit(self) -> int:
        """What this item's credit pays for: the goods received, or all of it without receipt."""
        if not self.is_approved:
            return 0
        return self.quantity_received if self.receipt_required else self.quantity

    @transition(field=status, source=I.PENDING, target=I.APPROVED)
    def approve_automatically(self) -> None:
        self.deny_reasons = []

    @transition(field=status, source=[I.PENDING, I.DENIED], target=I.MANUAL)
    def approve_by_staff(self) -> None:
        pass

    @transition(field=status, source=[I.PENDING, I.APPROVED, I.MANUAL], target=I.DENIED)
    def deny(self, reasons: list[str]) -> None:
        self.deny_reasons = reasons

    @transition(field=status, source=[I.PENDING, I.APPROVED, I.MANUAL, I.DENIED], target=I.PENDING)
    def hold(self, reasons: list[str]) -> None:
        self.deny_reasons = reasons


class ReturnEvent(models.Model):
    """One entry of a return's history."""

    return_request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=3, choices=ReturnStatus.choices, blank=True)
    to_status = models.CharField(max_length=3, choices=ReturnStatus.choices, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    message = models.CharField(max_length=255, blank=True)
    reason = models.TextField(blank=True)
    extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.return_request_id}: {self.message or f'{self.from_status} -> {self.to_status}'}"
