"""The shared kernel: stores and their flow settings, buyers, products, currencies."""

import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from commerce.money import ISO_MINOR_UNITS, quantize_money

MONEY = {"max_digits": 18, "decimal_places": 5}
RATE = {"max_digits": 18, "decimal_places": 8}

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def random_code(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


class ShipMode(models.TextChoices):
    STANDARD = "STANDARD", "Standard ground"
    EXPRESS = "EXPRESS", "Express (2 days)"
    OVERNIGHT = "OVERNIGHT", "Overnight"


EXPEDITED_SHIP_MODES = frozenset({ShipMode.EXPRESS, ShipMode.OVERNIGHT})


class PaperSize(models.TextChoices):
    A4 = "A4", "A4"
    LETTER = "Letter", "US Letter"


class Currency(models.Model):
    code = models.CharField(max_length=3, primary_key=True)
    name = models.CharField(max_length=64)
    minor_units = models.PositiveSmallIntegerField(default=2)

    class Meta:
        verbose_name_plural = "currencies"
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(minor_units__lte=4), name="currency_minor_units_lte_4"),
        ]

    def __str__(self) -> str:
        return self.code

    @classmethod
    def iso_minor_units(cls, code: str) -> int:
        return ISO_MINOR_UNITS.get(code.upper(), 2)


class ExchangeRate(models.Model):
    """One unit of ``from_currency`` buys ``rate`` units of ``to_currency``."""

    from_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="rates_from")
    to_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="rates_to")
    rate = models.DecimalField(**RATE, validators=[MinValueValidator(Decimal("0.00000001"))])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["from_currency", "to_currency"]
        constraints = [
            models.UniqueConstraint(fields=["from_currency", "to_currency"], name="exchange_rate_unique_pair"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
            models.CheckConstraint(
                condition=~Q(from_currency=models.F("to_currency")), name="exchange_rate_distinct_currencies"
            ),
        ]

    def __str__(self) -> str:
        return f"1 {self.from_currency_id} = {self.rate} {self.to_currency_id}"


def inventory_system_choices() -> list[tuple[str, str]]:
    """The inventory systems a store may use: the keys of the ``INVENTORY_SYSTEMS`` setting."""
    return [(name, name) for name in settings.INVENTORY_SYSTEMS]


def payment_system_choices() -> list[tuple[str, str]]:
    """The payment systems a store may use: the keys of the ``PAYMENT_SYSTEMS`` setting."""
    return [(name, name) for name in settings.PAYMENT_SYSTEMS]


class Store(models.Model):
    """A storefront and the settings of its order flow."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=128)
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT)
    email = models.EmailField(blank=True)
    address = models.TextField(blank=True, help_text="Shown on packing slips.")
    is_default = models.BooleanField(default=False)

    allocation_good_for = models.DurationField(
        default=timedelta(hours=12), help_text="How long stock stays held for an unsubmitted or unapproved order."
    )
    partial_release = models.BooleanField(
        default=False, help_text="Release the allocated items of a backordered order before the rest arrives."
    )
    batch_size = models.PositiveIntegerField(default=25, validators=[MinValueValidator(1)])
    reauthorize_before = models.DurationField(
        default=timedelta(hours=24), help_text="Reauthorize payments this long before they expire."
    )
    review_threshold = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Card payments above this amount go to review."
    )
    payment_cleanup_after = models.DurationField(
        default=timedelta(days=3), help_text="Cancel payment-pending orders whose payments all failed after this."
    )
    tax_rates = models.JSONField(
        default=dict, blank=True, help_text='Tax rate per destination country, e.g. {"US": "0.0825"}.'
    )
    shipping_charges = models.JSONField(
        default=dict, blank=True, help_text='Flat shipping charge per ship mode, e.g. {"STANDARD": "5.00"}.'
    )
    shipping_taxable = models.BooleanField(default=True)
    default_ship_mode = models.CharField(max_length=16, choices=ShipMode.choices, default=ShipMode.STANDARD)
    paper_size = models.CharField(max_length=8, choices=PaperSize.choices, default=PaperSize.A4)
    packing_slip_note = models.TextField(blank=True)
    return_window = models.DurationField(
        default=timedelta(days=30), help_text="How long after shipment a customer may ask to return goods."
    )
    return_auto_approve_limit = models.DecimalField(
        **MONEY,
        default=Decimal("200.00"),
        help_text="In the store's currency: a return crediting at most this is approved without staff.",
    )
    refund_shipping = models.BooleanField(
        default=False, help_text="A return's credit includes the returned share of shipping and its tax."
    )
    inventory_system = models.CharField(
        max_length=32,
        choices=inventory_system_choices,
        default="atp",
        help_text="ATP (allocations, backorders, pick batches), non-ATP (on-hand of one center) or none.",
    )
    payment_system = models.CharField(
        max_length=32,
        choices=payment_system_choices,
        default="commerce_payments",
        help_text="Commerce payments (authorize at submit, deposit shipped orders) or payment rules per method.",
    )
    payment_rules = models.JSONField(
        default=dict,
        blank=True,
        help_text='Under payment rules: the rule of each payment method, e.g. {"card": "early_approval", '
        '"bill_me": "approve_on_reservation", "cod": "deposit_only"}. A method without one uses early_approval.',
    )
    submitted_alert_after = models.DurationField(
        default=timedelta(hours=24),
        help_text="Submitted orders (I) waiting longer than this appear in the exceptions queue.",
    )
    has_automatic_promotions = models.BooleanField(
        default=False,
        editable=False,
        help_text="Kept by the orders app: an active promotion without a coupon code exists for this store.",
    )
    webhook_event_types = models.JSONField(
        default=list, blank=True, editable=False, help_text="Event types some active webhook endpoint wants."
    )

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="store_one_default"),
            models.CheckConstraint(condition=Q(batch_size__gte=1), name="store_batch_size_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError
        from django.utils.module_loading import import_string

        # Loaded by its dotted path from settings: the kernel imports no app.
        path = settings.PAYMENT_SYSTEMS.get(self.payment_system)
        problems = import_string(path)().validate_rules(self.payment_rules) if path else []
        if problems:
            raise ValidationError({"payment_rules": problems})

    def tax_rate_for(self, country: str) -> Decimal:
        return Decimal(str(self.tax_rates.get(country.upper(), "0")))

    def shipping_charge_for(self, ship_mode: str) -> Decimal:
        return quantize_money(Decimal(str(self.shipping_charges.get(ship_mode, "0"))), self.currency)


class Organization(models.Model):
    """A B2B buyer organization with its order approval rule."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=128)
    approval_threshold = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Orders above this amount need an approver. Empty: never."
    )
    approval_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, null=True, blank=True)
    approvers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="approver_of")
    credit_limit = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="Credit line for bill-me and purchase-order payments. Empty: not checked.",
    )
    credit_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    credit_hold = models.BooleanField(default=False, help_text="On hold: bill-me and purchase-order payments declined.")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credit_limit__isnull=True) | (Q(credit_limit__gte=0) & Q(credit_currency__isnull=False)),
                name="organization_credit_limit_has_currency",
            ),
            models.CheckConstraint(
                condition=Q(approval_threshold__isnull=True) | Q(approval_currency__isnull=False),
                name="organization_threshold_has_currency",
            ),
            models.CheckConstraint(
                condition=Q(approval_threshold__isnull=True) | Q(approval_threshold__gte=0),
                name="organization_threshold_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.name


def new_customer_number() -> str:
    return f"C{random_code(8)}"


class Customer(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="customer")
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="customers"
    )
    number = models.CharField(max_length=16, unique=True, default=new_customer_number, editable=False)
    phone = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"{self.number} ({self.user.get_username()})"

    @property
    def email(self) -> str:
        return self.user.email


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    price = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0"))])
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT)
    backorderable = models.BooleanField(default=False)
    weight = models.DecimalField(max_digits=10, decimal_places=3, default=Decimal("0"))
    weight_unit = models.CharField(max_length=4, default="kg")
    active = models.BooleanField(default=True)
    returnable = models.BooleanField(default=True, help_text="Customers may ask to return it.")

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


# Ship-to addresses: one definition for every row that holds one (an order, a release).

SHIP_TO_PARTS = ("name", "line1", "line2", "city", "region", "postal_code", "country")


class ShipToAddress(models.Model):
    """The ship-to fields (``ship_to_<part>``) and how they print; abstract, the models add them."""

    ship_to_name = models.CharField(max_length=128)
    ship_to_line1 = models.CharField(max_length=200)
    ship_to_line2 = models.CharField(max_length=200, blank=True)
    ship_to_city = models.CharField(max_length=100)
    ship_to_region = models.CharField(max_length=100, blank=True)
    ship_to_postal_code = models.CharField(max_length=20)
    ship_to_country = models.CharField(max_length=2)

    class Meta:
        abstract = True

    @property
    def ship_to(self) -> dict[str, str]:
        """The address by part name (``name``, ``line1``, ...), as the API shows it."""
        return {part: getattr(self, f"ship_to_{part}") for part in SHIP_TO_PARTS}

    @property
    def ship_to_lines(self) -> list[str]:
        city_line = " ".join(p for p in [self.ship_to_postal_code, self.ship_to_city] if p)
        lines = [self.ship_to_name, self.ship_to_line1, self.ship_to_line2, city_line, self.ship_to_region]
        return [line for line in lines if line] + [self.ship_to_country]


def ship_to_copy(*, source, target: ShipToAddress) -> ShipToAddress:
    """Copy an address onto ``target``: from another ``ShipToAddress`` or from anything with the plain parts.

    The country code is kept in capitals, however it came in.
    """
    values = (
        source.ship_to if isinstance(source, ShipToAddress) else {part: getattr(source, part) for part in SHIP_TO_PARTS}
    )
    for part, value in values.items():
        setattr(target, f"ship_to_{part}", value.upper() if part == "country" else value)
    return target


# Scheduled jobs: one row per run, and the orders a job keeps failing on.

REPEATED_FAILURE_THRESHOLD = 3


class JobRun(models.Model):
    """One run of a scheduled job (or its management command), with its counts and errors."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Finished with failures"
        ABORTED = "aborted", "Aborted"

    name = models.CharField(max_length=64, db_index=True)
    worker = models.CharField(max_length=255, blank=True, help_text="Host and process that ran the job.")
    scope = models.CharField(max_length=255, blank=True, help_text="Stores the run was limited to; empty: all.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    dry_run = models.BooleanField(default=False)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    processed = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text='[{"id": item id, "error": "..."}]')
    item_type = models.ForeignKey(
        ContentType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="What the job walks (orders): the model of the ids in errors.",
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["name", "-started_at"], name="job_run_name_started")]
        constraints = [
            models.CheckConstraint(
                condition=Q(processed=models.F("succeeded") + models.F("failed") + models.F("skipped")),
                name="job_run_counts_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk}"

    @property
    def summary(self) -> str:
        return f"processed={self.processed} succeeded={self.succeeded} failed={self.failed} skipped={self.skipped}"

    @property
    def duration(self) -> timedelta | None:
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at


class JobItemFailureQuerySet(models.QuerySet):
    def repeated(self, threshold: int = REPEATED_FAILURE_THRESHOLD):
        """Items a job failed on at least ``threshold`` times in a row: the exceptions queue's share."""
        return self.filter(failures__gte=threshold)

    def of_model(self, model: type[models.Model]):
        """Failures on rows of ``model`` (by its label: a join, no content type lookup)."""
        return self.filter(content_type__app_label=model._meta.app_label, content_type__model=model._meta.model_name)


class JobItemFailure(models.Model):
    """An item (an order) a job failed on, until a later run of that job succeeds on it.

    The item is any row, by content type and id: the app owning it deletes its failures with it (a
    ``GenericRelation``) and shows them where it lists its rows.
    """

    job_name = models.CharField(max_length=64)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    item = GenericForeignKey("content_type", "object_id")
    item_label = models.CharField(max_length=255, blank=True, help_text="How the item reads (an order's number).")
    failures = models.PositiveIntegerField(default=1, help_text="Failed runs in a row.")
    last_error = models.TextField(blank=True)
    last_run = models.ForeignKey(JobRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    first_failed_at = models.DateTimeField(default=timezone.now)
    last_failed_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = JobItemFailureQuerySet.as_manager()

    class Meta:
        ordering = ["-failures", "-last_failed_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["job_name", "content_type", "object_id"], name="job_item_failure_unique_item"
            ),
            models.CheckConstraint(condition=Q(failures__gte=1), name="job_item_failure_failures_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.job_name}: {self.content_type.model} {self.object_id} failed {self.failures}x"

    @property
    def is_repeated(self) -> bool:
        return self.failures >= REPEATED_FAILURE_THRESHOLD
