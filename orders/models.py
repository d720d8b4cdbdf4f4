"""Orders, their items, the order state machine and the order event log."""

from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from commerce.models import (
    MONEY,
    Currency,
    Customer,
    Organization,
    Product,
    ShipMode,
    ShipToAddress,
    Store,
    random_code,
)

ZERO = Decimal("0")


class OrderStatus(models.TextChoices):
    PENDING = "P", "Pending"
    SUBMITTED = "I", "Submitted"
    AWAITING_APPROVAL = "W", "Awaiting approval"
    APPROVAL_DENIED = "N", "Approval denied"
    PAYMENT_PENDING = "M", "Payment pending"
    PAYMENT_REVIEW = "A", "Payment review"
    BACKORDERED = "B", "Backordered"
    AUTHORIZED = "C", "Authorized"
    RELEASED = "R", "Released"
    SHIPPED = "S", "Shipped"
    DEPOSITED = "D", "Deposited"
    CANCELLED = "X", "Cancelled"


class InventoryStatus(models.TextChoices):
    NOT_ALLOCATED = "NALC", "Not allocated"
    ALLOCATED = "ALLC", "Allocated"
    BACKORDERED = "BO", "Backordered"
    FULFILLED = "FUL", "Shipped"


S = OrderStatus
# Statuses an order may be cancelled from, while none of its items is released.
CANCELLABLE = [
    S.PENDING,
    S.AWAITING_APPROVAL,
    S.APPROVAL_DENIED,
    S.PAYMENT_PENDING,
    S.PAYMENT_REVIEW,
    S.BACKORDERED,
    S.AUTHORIZED,
    S.SUBMITTED,
]
# Statuses an order's items follow it through before they are released.
PRE_RELEASE = CANCELLABLE
FINAL = frozenset({S.DEPOSITED, S.CANCELLED})


def new_order_number() -> str:
    return f"{timezone.now():%y%m%d}-{random_code(6)}"


class OrderQuerySet(models.QuerySet):
    def for_customer(self, customer):
        return self.filter(customer=customer)

    def ready_to_release(self):
        return self.filter(status__in=[S.AUTHORIZED, S.BACKORDERED])

    def in_status(self, *statuses):
        return self.filter(status__in=statuses)


class Order(ConcurrentTransitionMixin, ShipToAddress):
    number = models.CharField(max_length=32, unique=True, default=new_order_number, editable=False)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="orders")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    status = FSMField(max_length=1, choices=OrderStatus.choices, default=S.PENDING, protected=True, db_index=True)
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT)
    ship_mode = models.CharField(max_length=16, choices=ShipMode.choices, default=ShipMode.STANDARD)

    # ship_to_* from ShipToAddress.

    purchase_order_number = models.CharField(max_length=64, blank=True)
    purchase_order = models.ForeignKey(
        "spending_limits.PurchaseOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    shipping_note = models.TextField(blank=True)
    promotion = models.ForeignKey(
        "orders.Promotion", on_delete=models.PROTECT, null=True, blank=True, related_name="orders"
    )
    coupon_code = models.CharField(max_length=32, blank=True)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The staff user who placed the order on the customer's behalf.",
    )
    payment_check_due = models.BooleanField(
        default=False, help_text="Back from a failed fulfillment: the next release asks the gateway first."
    )
    payment_review_declined_at = models.DateTimeField(
        null=True, blank=True, help_text="A released or shipped order whose reauthorization staff declined."
    )
    invoice_note = models.TextField(blank=True)

    product_total = models.DecimalField(**MONEY, default=ZERO)
    tax_total = models.DecimalField(**MONEY, default=ZERO)
    shipping_total = models.DecimalField(**MONEY, default=ZERO)
    shipping_tax_total = models.DecimalField(**MONEY, default=ZERO)
    adjustment_total = models.DecimalField(**MONEY, default=ZERO)
    grand_total = models.DecimalField(**MONEY, default=ZERO)

    idempotency_key = models.CharField(max_length=255, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    placement_response = models.JSONField(
        null=True, blank=True, editable=False, help_text="The placement's answer, replayed to a keyed retry."
    )

    placed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    deposited_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(blank=True, help_text="Why the order was rejected or cancelled.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The jobs' failures on this order (the kernel's generic record): deleted with it, searchable by number.
    job_failures = GenericRelation("commerce.JobItemFailure", related_query_name="order")

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "placed_at"], name="order_status_placed"),
            models.Index(fields=["customer", "updated_at"], name="order_customer_updated"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="order_unique_idempotency_key",
            ),
            models.CheckConstraint(condition=Q(grand_total__gte=0), name="order_grand_total_not_negative"),
        ]
        permissions = [
            ("approve_order", "Can approve or reject orders awaiting approval"),
            ("review_payment", "Can approve or decline payments in review"),
            ("cancel_order", "Can cancel orders"),
            ("release_order", "Can release orders to fulfillment"),
            ("view_exceptions", "Can view the exceptions queue"),
        ]

    def __str__(self) -> str:
        return self.number

    # Conditions: pure predicates over the instance and its (prefetched) items.

    def no_item_released(self) -> bool:
        return all(item.status in PRE_RELEASE for item in self.items.all())

    def every_item_released(self) -> bool:
        return all(item.status in (S.RELEASED, S.SHIPPED, S.CANCELLED) for item in self.items.all())

    def every_item_shipped(self) -> bool:
        return all(item.status in (S.SHIPPED, S.CANCELLED) for item in self.items.all())

    def _mark_placed(self) -> None:
        if self.placed_at is None:
            self.placed_at = timezone.now()

    # The transitions of docs/order-flow.md. They touch only this instance; services do the rest.

    @transition(field=status, source=S.PENDING, target=S.AWAITING_APPROVAL)
    def submit_for_approval(self) -> None:
        self._mark_placed()

    @transition(field=status, source=[S.PENDING, S.AWAITING_APPROVAL], target=S.PAYMENT_PENDING)
    def await_payment(self) -> None:
        self._mark_placed()

    @transition(
        field=status,
        source=[S.PENDING, S.AWAITING_APPROVAL, S.PAYMENT_PENDING, S.BACKORDERED, S.AUTHORIZED],
        target=S.PAYMENT_REVIEW,
    )
    def hold_for_review(self) -> None:
        self._mark_placed()

    @transition(
        field=status,
        source=[S.PENDING, S.AWAITING_APPROVAL, S.PAYMENT_PENDING, S.PAYMENT_REVIEW],
        target=S.BACKORDERED,
    )
    def backorder(self) -> None:
        self._mark_placed()

    @transition(
        field=status,
        source=[S.PENDING, S.AWAITING_APPROVAL, S.PAYMENT_PENDING, S.PAYMENT_REVIEW, S.BACKORDERED],
        target=S.AUTHORIZED,
    )
    def authorize(self) -> None:
        self._mark_placed()

    # Status I (DESIGN section 18): submitted, every item allocated, under a payment rule that approves later.
    @transition(field=status, source=[S.PENDING, S.AWAITING_APPROVAL, S.BACKORDERED], target=S.SUBMITTED)
    def submit_unpaid(self) -> None:
        self._mark_placed()

    @transition(field=status, source=S.AWAITING_APPROVAL, target=S.APPROVAL_DENIED)
    def reject(self, reason: str = "") -> None:
        self.status_reason = reason

    @transition(
        field=status,
        source=[S.AUTHORIZED, S.BACKORDERED, S.SUBMITTED],
        target=S.RELEASED,
        conditions=[every_item_released],
    )
    def release(self) -> None:
        self.released_at = timezone.now()

    # An order without inventory (digital goods, services) is fulfilled once paid for or reserved.
    @transition(field=status, source=[S.AUTHORIZED, S.RELEASED], target=S.SHIPPED)
    def fulfill_without_shipment(self) -> None:
        self.shipped_at = timezone.now()

    @transition(field=status, source=S.RELEASED, target=S.SHIPPED, conditions=[every_item_shipped])
    def ship(self) -> None:
        self.shipped_at = timezone.now()

    @transition(field=status, source=S.RELEASED, target=S.AUTHORIZED, conditions=[no_item_released])
    def return_from_fulfillment(self) -> None:
        self.released_at = None

    @transition(field=status, source=S.SHIPPED, target=S.DEPOSITED)
    def deposit(self) -> None:
        self.deposited_at = timezone.now()

    @transition(field=status, source=CANCELLABLE, target=S.CANCELLED, conditions=[no_item_released])
    def cancel(self, reason: str = "") -> None:
        self.cancelled_at = timezone.now()
        self.status_reason = reason

    @property
    def is_final(self) -> bool:
        return self.status in FINAL


class OrderItem(ConcurrentTransitionMixin, models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_items")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)
    status = FSMField(max_length=1, choices=OrderStatus.choices, default=S.PENDING, protected=True)
    inventory_status = FSMField(
        max_length=4, choices=InventoryStatus.choices, default=InventoryStatus.NOT_ALLOCATED, protected=True
    )
    trading_agreement = models.ForeignKey(
        "spending_limits.TradingAgreement", on_delete=models.PROTECT, null=True, blank=True, related_name="items"
    )
    estimated_available_at = models.DateField(null=True, blank=True)

    product_total = models.DecimalField(**MONEY, default=ZERO)
    tax = models.DecimalField(**MONEY, default=ZERO)
    shipping_charge = models.DecimalField(**MONEY, default=ZERO)
    shipping_tax = models.DecimalField(**MONEY, default=ZERO)
    adjustment = models.DecimalField(**MONEY, default=ZERO)

    quantity_shipped = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_item_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=models.F("quantity")), name="order_item_shipped_lte_quantity"
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="order_item_unit_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def purchase_amount(self) -> Decimal:
        """Product total + tax + shipping + shipping tax - adjustment."""
        return self.product_total + self.tax + self.shipping_charge + self.shipping_tax - self.adjustment

    @property
    def quantity_unshipped(self) -> int:
        return self.quantity - self.quantity_shipped

    # Order status, item by item: items follow their order until they are released.

    @transition(field=status, source=PRE_RELEASE, target=RETURN_VALUE(*PRE_RELEASE))
    def follow_order(self, status: str) -> str:
        return status

    @transition(field=status, source=[S.AUTHORIZED, S.BACKORDERED, S.SUBMITTED], target=S.RELEASED)
    def release(self) -> None:
        pass

    @transition(field=status, source=[S.AUTHORIZED, S.RELEASED], target=S.SHIPPED)
    def fulfill_without_shipment(self) -> None:
        pass

    @transition(field=status, source=S.RELEASED, target=S.SHIPPED)
    def ship(self) -> None:
        pass

    @transition(field=status, source=S.RELEASED, target=S.AUTHORIZED)
    def return_from_fulfillment(self) -> None:
        pass

    @transition(field=status, source=S.SHIPPED, target=S.DEPOSITED)
    def deposit(self) -> None:
        pass

    @transition(field=status, source=CANCELLABLE, target=S.CANCELLED)
    def cancel(self) -> None:
        pass

    # Inventory status.

    @transition(
        field=inventory_status,
        source=[InventoryStatus.NOT_ALLOCATED, InventoryStatus.BACKORDERED],
        target=InventoryStatus.ALLOCATED,
    )
    def mark_allocated(self) -> None:
        self.estimated_available_at = None

    @transition(
        field=inventory_status,
        source=[InventoryStatus.NOT_ALLOCATED, InventoryStatus.BACKORDERED],
        target=InventoryStatus.BACKORDERED,
    )
    def mark_backordered(self, estimated_available_at=None) -> None:
        self.estimated_available_at = estimated_available_at

    @transition(
        field=inventory_status,
        source=[InventoryStatus.ALLOCATED, InventoryStatus.BACKORDERED],
        target=InventoryStatus.NOT_ALLOCATED,
    )
    def mark_unallocated(self) -> None:
        self.estimated_available_at = None

    @transition(field=inventory_status, source=InventoryStatus.ALLOCATED, target=InventoryStatus.FULFILLED)
    def mark_fulfilled(self) -> None:
        pass


class PromotionKind(models.TextChoices):
    PERCENT = "percent", "Percentage off the order"
    FIXED = "fixed", "Fixed amount off the order"


class Promotion(models.Model):
    """A store's promotion: an amount off the order, automatic or with a coupon code (DESIGN section 16)."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="promotions")
    name = models.CharField(max_length=128)
    code = models.CharField(
        max_length=32, blank=True, help_text="Coupon code (kept upper case). Empty: applies automatically."
    )
    kind = models.CharField(max_length=8, choices=PromotionKind.choices, default=PromotionKind.PERCENT)
    value = models.DecimalField(
        **MONEY, help_text="Percent off (e.g. 10 for 10 %), or the amount off in the store currency."
    )
    minimum_amount = models.DecimalField(
        **MONEY, default=ZERO, help_text="The order's product total must reach this (store currency)."
    )
    active = models.BooleanField(default=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["store", "code", "name"]
        constraints = [
            models.UniqueConstraint(fields=["store", "code"], condition=~Q(code=""), name="promotion_unique_code"),
            models.CheckConstraint(condition=Q(value__gt=0), name="promotion_value_positive"),
            models.CheckConstraint(
                condition=~Q(kind="percent") | Q(value__lte=100), name="promotion_percent_at_most_100"
            ),
            models.CheckConstraint(condition=Q(minimum_amount__gte=0), name="promotion_minimum_not_negative"),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_from__lt=models.F("valid_until")),
                name="promotion_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.code or self.name

    def save(self, *args, **kwargs):
        self.code = (self.code or "").strip().upper()
        super().save(*args, **kwargs)

    def is_current(self, when) -> bool:
        """Active, and ``when`` falls inside the window (open ends are unbounded)."""
        return (
            self.active
            and (self.valid_from is None or self.valid_from <= when)
            and (self.valid_until is None or when < self.valid_until)
        )


class OrderEvent(models.Model):
    """One entry of an order's history: a transition or another notable step."""

    class Kind(models.TextChoices):
        STATUS = "status", "Status change"
        PAYMENT = "payment", "Payment"
        INVENTORY = "inventory", "Inventory"
        SPENDING_LIMIT = "spending_limit", "Spending limit"
        FULFILLMENT = "fulfillment", "Fulfillment"
        NOTE = "note", "Note"

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STATUS)
    from_status = models.CharField(max_length=1, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=1, choices=OrderStatus.choices, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True, help_text="User name or job name.")
    message = models.CharField(max_length=255, blank=True)
    reason = models.TextField(blank=True)
    extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["order", "created_at"], name="order_event_order_time")]

    def __str__(self) -> str:
        if self.from_status or self.to_status:
            return f"{self.order_id}: {self.from_status} -> {self.to_status}"
        return f"{self.order_id}: {self.message}"


# Returns live in their own subpackage; importing them here puts them in this app's migrations.
from orders.returns.models import ReturnEvent, ReturnItem, ReturnRequest  # noqa: E402, F401
