"""Fulfillment centers and available-to-promise inventory."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from commerce.models import (
    EXPEDITED_SHIP_MODES,
    MONEY,
    Currency,
    PaperSize,
    Product,
    ShipMode,
    ShipToAddress,
    Store,
    random_code,
)


class FulfillmentCenter(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=128)
    address = models.TextField(blank=True)
    priority = models.PositiveIntegerField(default=1, help_text="Lower numbers are allocated from first.")
    active = models.BooleanField(default=True)
    inventory_system = models.CharField(
        max_length=32,
        default="atp",
        help_text="The inventory system of the stores this center serves: its stock counts for that one only.",
    )
    stores = models.ManyToManyField(
        Store,
        blank=True,
        related_name="fulfillment_centers",
        help_text="The stores this center serves (non-ATP stores take on-hand from their own centers).",
    )

    class Meta:
        ordering = ["priority", "code"]

    def __str__(self) -> str:
        return self.code


class StockQuerySet(models.QuerySet):
    def in_active_centers(self):
        """Stock of the active ATP centers: a non-ATP center's on-hand belongs to its own stores."""
        return self.filter(fulfillment_center__active=True, fulfillment_center__inventory_system="atp")


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
        ON_HAND = "on_hand", "Taken from on-hand (non-ATP)"

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
                condition=(Q(kind__in=["stock", "on_hand"]) & Q(receipt_line__isnull=True))
                | (Q(kind="expected") & Q(receipt_line__isnull=False)),
                name="allocation_kind_matches_receipt_line",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x item {self.order_item_id} at {self.fulfillment_center_id} ({self.kind})"


# Fulfillment after release: releases, pick batches, their documents, packages.


def new_pick_batch_number() -> str:
    return f"PB-{timezone.now():%y%m%d}-{random_code(5)}"


class WeightUnit(models.TextChoices):
    KG = "kg", "kilograms"
    G = "g", "grams"
    LB = "lb", "pounds"
    OZ = "oz", "ounces"


class PickBatch(ConcurrentTransitionMixin, models.Model):
    """Ready releases of one store and center, picked together in one walk through the warehouse."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PRINTED = "printed", "Printed"
        DONE = "done", "Done"

    number = models.CharField(max_length=32, unique=True, default=new_pick_batch_number, editable=False)
    fulfillment_center = models.ForeignKey(FulfillmentCenter, on_delete=models.PROTECT, related_name="pick_batches")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="pick_batches")
    status = FSMField(max_length=8, choices=Status.choices, default=Status.OPEN, protected=True, db_index=True)
    expedited = models.BooleanField(default=False, help_text="Holds at least one release with an expedited ship mode.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    printed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "pick batches"
        ordering = ["-created_at", "-pk"]
        permissions = [("print_pickbatch", "Can print pick tickets and packing slips")]

    def __str__(self) -> str:
        return self.number

    @transition(field=status, source=Status.OPEN, target=Status.PRINTED)
    def mark_printed(self) -> None:
        self.printed_at = timezone.now()

    @transition(field=status, source=[Status.OPEN, Status.PRINTED], target=Status.DONE)
    def complete(self) -> None:
        self.done_at = timezone.now()


class ReleaseQuerySet(models.QuerySet):
    def ready(self):
        return self.filter(status=Release.Status.READY)

    def oldest_first(self):
        return self.order_by("created_at", "pk")


class Release(ConcurrentTransitionMixin, ShipToAddress):
    """The part of an order one center ships to one address by one ship mode."""

    class Status(models.TextChoices):
        READY = "ready", "Ready"
        BATCHED = "batched", "In a pick batch"
        SHIPPED = "shipped", "Shipped"
        CANCELLED = "cancelled", "Cancelled"

    number = models.CharField(max_length=48, unique=True)
    sequence = models.PositiveIntegerField(help_text="The n of the number <order number>-<n>.")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="releases")
    fulfillment_center = models.ForeignKey(FulfillmentCenter, on_delete=models.PROTECT, related_name="releases")
    ship_mode = models.CharField(max_length=16, choices=ShipMode.choices)
    # The address as released (ship_to_* from ShipToAddress): a later change to the order does not
    # redirect goods already picked.
    status = FSMField(max_length=10, choices=Status.choices, default=Status.READY, protected=True)
    batch = models.ForeignKey(PickBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="releases")
    tote = models.PositiveIntegerField(null=True, blank=True, help_text="Position in the pick batch.")
    created_at = models.DateTimeField(default=timezone.now)
    batched_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = ReleaseQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["fulfillment_center", "status", "created_at"], name="release_center_status")]
        constraints = [
            models.UniqueConstraint(fields=["order", "sequence"], name="release_unique_order_sequence"),
            models.UniqueConstraint(fields=["batch", "tote"], name="release_unique_batch_tote"),
            models.CheckConstraint(condition=Q(sequence__gte=1), name="release_sequence_positive"),
            models.CheckConstraint(
                # A non-ATP release ships without a pick batch: shipped with neither batch nor tote.
                condition=Q(status__in=["ready", "cancelled"])
                | Q(batch__isnull=False, tote__isnull=False)
                | Q(status="shipped", batch__isnull=True, tote__isnull=True),
                name="release_batched_has_batch",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @transition(field=status, source=Status.READY, target=Status.BATCHED)
    def add_to_batch(self, batch: PickBatch, tote: int) -> None:
        self.batch = batch
        self.tote = tote
        self.batched_at = timezone.now()

    # A release of a store without pick batches (non-ATP) ships straight from ready.
    @transition(field=status, source=[Status.READY, Status.BATCHED], target=Status.SHIPPED)
    def ship(self) -> None:
        self.shipped_at = timezone.now()

    @transition(field=status, source=[Status.READY, Status.BATCHED], target=Status.CANCELLED)
    def cancel(self) -> None:
        self.cancelled_at = timezone.now()

    @property
    def is_expedited(self) -> bool:
        return self.ship_mode in EXPEDITED_SHIP_MODES


class ReleaseItem(models.Model):
    """How much of an order item a release ships, and how much of that is packed and shipped."""

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="items")
    order_item = models.ForeignKey("orders.OrderItem", on_delete=models.PROTECT, related_name="release_items")
    quantity = models.PositiveIntegerField()
    quantity_packed = models.PositiveIntegerField(default=0)
    quantity_shipped = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["release", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["release", "order_item"], name="release_item_unique_order_item"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="release_item_quantity_positive"),
            models.CheckConstraint(condition=Q(quantity_packed__lte=F("quantity")), name="release_item_packed_lte_qty"),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=F("quantity_packed")), name="release_item_shipped_lte_packed"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x item {self.order_item_id} in release {self.release_id}"

    @property
    def quantity_unpacked(self) -> int:
        return self.quantity - self.quantity_packed


class Document(ConcurrentTransitionMixin, models.Model):
    """A rendered PDF of a pick batch: its pick ticket or its packing slips."""

    class Kind(models.TextChoices):
        PICK_TICKET = "pick_ticket", "Pick ticket"
        PACKING_SLIPS = "packing_slips", "Packing slips"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RENDERING = "rendering", "Rendering"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    batch = models.ForeignKey(PickBatch, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    file = models.FileField(upload_to="pick-batches/%Y/%m/", blank=True)
    paper_size = models.CharField(max_length=8, choices=PaperSize.choices, default=PaperSize.A4)
    status = FSMField(max_length=10, choices=Status.choices, default=Status.PENDING, protected=True)
    pages = models.PositiveIntegerField(default=0)
    render_requested_at = models.DateTimeField(null=True, blank=True, help_text="When a render task was queued.")
    render_started_at = models.DateTimeField(null=True, blank=True)
    rendered_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["batch", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "kind"], name="document_unique_batch_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.batch_id}"

    def render_is_stale(self) -> bool:
        """A render that started longer ago than a task may run has died with its worker."""
        if self.render_started_at is None:
            return True
        return timezone.now() - self.render_started_at > timedelta(seconds=settings.Q_CLUSTER.get("timeout", 600))

    def not_rendering_now(self) -> bool:
        return self.status != self.Status.RENDERING or self.render_is_stale()

    @transition(
        field=status,
        source=[Status.PENDING, Status.FAILED, Status.RENDERING],
        target=Status.RENDERING,
        conditions=[not_rendering_now],
    )
    def start_rendering(self) -> None:
        self.render_started_at = timezone.now()
        self.error = ""

    @transition(field=status, source=Status.RENDERING, target=Status.READY)
    def finish_rendering(self, pages: int) -> None:
        self.pages = pages
        self.rendered_at = timezone.now()

    @transition(field=status, source=Status.RENDERING, target=Status.FAILED)
    def fail_rendering(self, error: str) -> None:
        self.error = error

    def mark_render_requested(self) -> None:
        self.render_requested_at = timezone.now()


class PrintRecord(models.Model):
    """Someone printed (downloaded for printing) a document."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="prints")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    printed_at = models.DateTimeField(default=timezone.now)
    reprint = models.BooleanField(default=False)

    class Meta:
        ordering = ["printed_at", "pk"]

    def __str__(self) -> str:
        return f"{self.document} printed at {self.printed_at:%Y-%m-%d %H:%M}"


class Package(ConcurrentTransitionMixin, models.Model):
    """A box of a release, with its carrier and tracking number."""

    class Status(models.TextChoices):
        PACKED = "packed", "Packed"
        SHIPPED = "shipped", "Shipped"

    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="packages")
    carrier = models.CharField(max_length=64)
    tracking_number = models.CharField(max_length=64)
    weight = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    weight_unit = models.CharField(max_length=2, choices=WeightUnit.choices, default=WeightUnit.KG)
    shipping_cost = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = FSMField(max_length=8, choices=Status.choices, default=Status.PACKED, protected=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    shipped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    shipped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        permissions = [("ship_package", "Can confirm the shipment of packages")]
        constraints = [
            models.CheckConstraint(condition=Q(weight__isnull=True) | Q(weight__gt=0), name="package_weight_positive"),
            models.CheckConstraint(
                condition=Q(shipping_cost__isnull=True) | (Q(shipping_cost__gte=0) & Q(currency__isnull=False)),
                name="package_shipping_cost_has_currency",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}"

    @transition(field=status, source=Status.PACKED, target=Status.SHIPPED)
    def ship(self, acting_user=None) -> None:
        self.shipped_at = timezone.now()
        self.shipped_by = acting_user if getattr(acting_user, "is_authenticated", False) else None


class PackageItem(models.Model):
    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="items")
    order_item = models.ForeignKey("orders.OrderItem", on_delete=models.PROTECT, related_name="package_items")
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["package", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["package", "order_item"], name="package_item_unique_order_item"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="package_item_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x item {self.order_item_id} in package {self.package_id}"
