"""Fulfillment centers and available-to-promise inventory."""

from django.db import models
from django.db.models import F, Q

from commerce.models import Product


class FulfillmentCenter(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=128)
    address = models.TextField(blank=True)
    priority = models.PositiveIntegerField(default=1, help_text="Lower numbers are allocated from first.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "code"]

    def __str__(self) -> str:
        return self.code


class StockQuerySet(models.QuerySet):
    def in_active_centers(self):
        return self.filter(fulfillment_center__active=True)


class Stock(models.Model):
    """What one center holds of one product; ``allocated`` is promised but not shipped."""

    fulfillment_center = models.ForeignKey(FulfillmentCenter, on_delete=models.PROTECT, related_name="stock")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock")
    on_hand = models.IntegerField(default=0)
    allocated = models.IntegerField(default=0)
    bin = models.CharField(max_length=32, blank=True, help_text="Pick location.")
    updated_at = models.DateTimeField(auto_now=True)

    objects = StockQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "stock"
        ordering = ["product__sku", "fulfillment_center__priority"]
        constraints = [
            models.UniqueConstraint(fields=["fulfillment_center", "product"], name="stock_unique_center_product"),
            models.CheckConstraint(condition=Q(allocated__gte=0), name="stock_allocated_not_negative"),
            models.CheckConstraint(condition=Q(allocated__lte=F("on_hand")), name="stock_allocated_lte_on_hand"),
        ]
        permissions = [
            ("receive_inventory", "Can receive goods into stock"),
            ("check_inventory", "Can check and repair allocated stock"),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}@{self.fulfillment_center_id}: {self.on_hand} on hand, {self.allocated} allocated"

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated


class ExpectedReceipt(models.Model):
    """A vendor purchase order expected at a center."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    number = models.CharField(max_length=32, unique=True)
    fulfillment_center = models.ForeignKey(
        FulfillmentCenter, on_delete=models.PROTECT, related_name="expected_receipts"
    )
    vendor = models.CharField(max_length=128, blank=True)
    expected_at = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["expected_at", "number"]

    def __str__(self) -> str:
        return f"{self.number} due {self.expected_at}"


class ExpectedReceiptLineQuerySet(models.QuerySet):
    def open(self):
        return self.filter(
            receipt__status=ExpectedReceipt.Status.OPEN,
            receipt__fulfillment_center__active=True,
            quantity_received__lt=F("quantity_ordered"),
        )

    def with_unpromised(self):
        return self.annotate(
            unpromised=F("quantity_ordered") - F("quantity_received") - F("quantity_allocated")
        ).filter(unpromised__gt=0)


class ExpectedReceiptLine(models.Model):
    receipt = models.ForeignKey(ExpectedReceipt, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="expected_receipt_lines")
    quantity_ordered = models.PositiveIntegerField()
    quantity_received = models.PositiveIntegerField(default=0)
    quantity_allocated = models.PositiveIntegerField(default=0, help_text="Promised to backorders.")

    objects = ExpectedReceiptLineQuerySet.as_manager()

    class Meta:
        ordering = ["receipt__expected_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["receipt", "product"], name="receipt_line_unique_product"),
            models.CheckConstraint(
                condition=Q(quantity_received__lte=F("quantity_ordered")), name="receipt_line_received_lte_ordered"
            ),
            models.CheckConstraint(
                condition=Q(quantity_allocated__lte=F("quantity_ordered") - F("quantity_received")),
                name="receipt_line_allocated_lte_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.receipt.number}: {self.quantity_ordered} x {self.product_id}"

    @property
    def open_quantity(self) -> int:
        return self.quantity_ordered - self.quantity_received

    @property
    def unpromised_quantity(self) -> int:
        return self.open_quantity - self.quantity_allocated


class Allocation(models.Model):
    """Quantity of an order item held in a center, from stock or against an expected receipt."""

    class Kind(models.TextChoices):
        STOCK = "stock", "Stock"
        EXPECTED = "expected", "Expected receipt"

    order_item = models.ForeignKey("orders.OrderItem", on_delete=models.CASCADE, related_name="allocations")
    fulfillment_center = models.ForeignKey(FulfillmentCenter, on_delete=models.PROTECT, related_name="allocations")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    receipt_line = models.ForeignKey(
        ExpectedReceiptLine, on_delete=models.PROTECT, null=True, blank=True, related_name="allocations"
    )
    quantity = models.PositiveIntegerField()
    expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="allocation_quantity_positive"),
            models.CheckConstraint(
                condition=(Q(kind="stock") & Q(receipt_line__isnull=True))
                | (Q(kind="expected") & Q(receipt_line__isnull=False)),
                name="allocation_kind_matches_receipt_line",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x item {self.order_item_id} at {self.fulfillment_center_id} ({self.kind})"
