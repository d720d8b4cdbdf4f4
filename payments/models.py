"""Payments, the log of their gateway calls, the stores' accept policies, and the simulated gateway's state."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from commerce.models import MONEY, Currency, Store
from payments.gateways.base import Outcome, Verification

ZERO = Decimal("0")


class PaymentStatus(models.TextChoices):
    NEW = "new", "New"
    PENDING = "pending", "Pending"  # the gateway's answer is outstanding (asynchronous or timed out)
    AUTHORIZED = "authorized", "Authorized"
    REVIEW = "review", "In review"  # authorized at the gateway, held for a person's decision
    DECLINED = "declined", "Declined"
    DEPOSITED = "deposited", "Deposited"
    PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
    REFUNDED = "refunded", "Refunded"
    VOIDED = "voided", "Voided"
    EXPIRED = "expired", "Expired"


S = PaymentStatus
# Payments that hold, or may come to hold, money of the buyer.
OPEN_STATUSES = (S.NEW, S.PENDING, S.AUTHORIZED, S.REVIEW, S.DEPOSITED, S.PARTIALLY_REFUNDED)
CAPTURED_STATUSES = (S.DEPOSITED, S.PARTIALLY_REFUNDED, S.REFUNDED)


class Operation(models.TextChoices):
    """A capture, void or refund sent to the gateway whose answer is not recorded yet."""

    NONE = "", "None"
    CAPTURE = "capture", "Capture"
    VOID = "void", "Void"
    REFUND = "refund", "Refund"


class TransactionKind(models.TextChoices):
    AUTHORIZE = "authorize", "Authorize"
    CAPTURE = "capture", "Capture"
    VOID = "void", "Void"
    REFUND = "refund", "Refund"
    STATUS = "status", "Status"


OUTCOME_CHOICES = [(outcome.value, outcome.name.capitalize()) for outcome in Outcome]
VERIFICATION_CHOICES = [(result.value, result.name.replace("_", " ").capitalize()) for result in Verification]


def new_payment_key() -> str:
    return uuid.uuid4().hex


class PaymentQuerySet(models.QuerySet):
    def current(self):
        return self.filter(is_current=True)

    def open(self):
        return self.filter(status__in=OPEN_STATUSES)


class Payment(ConcurrentTransitionMixin, models.Model):
    """One attempt to get an order's money; an order's later attempts (reauthorizations) replace it."""

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="payments")
    is_current = models.BooleanField(default=True, help_text="The order's payment of record.")
    replaces = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaced_by",
        help_text="The payment this reauthorization replaces.",
    )
    key = models.CharField(
        max_length=32,
        unique=True,
        default=new_payment_key,
        editable=False,
        help_text="Prefix of the idempotency keys of this payment's gateway calls.",
    )
    method = models.CharField(max_length=32)
    gateway = models.CharField(max_length=32, blank=True, help_text="Empty for methods that use no gateway.")
    status = FSMField(max_length=20, choices=PaymentStatus.choices, default=S.NEW, protected=True, db_index=True)
    status_reason = models.TextField(blank=True, help_text="Why it was declined, held for review or voided.")

    amount = models.DecimalField(**MONEY)
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT)
    approved_amount = models.DecimalField(**MONEY, default=ZERO)
    captured_amount = models.DecimalField(**MONEY, default=ZERO)
    refunded_amount = models.DecimalField(**MONEY, default=ZERO)
    deposit_reduction = models.DecimalField(
        **MONEY,
        default=ZERO,
        help_text="Returns credited before the deposit: the deposit captures this much less.",
    )

    token = models.CharField(max_length=128, blank=True, help_text="The gateway's card token, never a card number.")
    authorization_reference = models.CharField(max_length=128, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="When the authorization lapses.")
    avs_result = models.CharField("AVS result", max_length=12, choices=VERIFICATION_CHOICES, blank=True)
    cvv_result = models.CharField("CVV result", max_length=12, choices=VERIFICATION_CHOICES, blank=True)

    sequence = models.PositiveIntegerField(default=0, help_text="Numbers the idempotency keys of new operations.")
    authorize_key = models.CharField(max_length=255, blank=True)
    capture_key = models.CharField(max_length=255, blank=True)
    pending_operation = models.CharField(max_length=8, choices=Operation.choices, blank=True)
    pending_key = models.CharField(max_length=255, blank=True)
    pending_amount = models.DecimalField(**MONEY, null=True, blank=True)
    pending_since = models.DateTimeField(null=True, blank=True)

    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    authorized_at = models.DateTimeField(null=True, blank=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PaymentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "expires_at"], name="payment_status_expiry")]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(is_current=True), name="payment_one_current_per_order"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="payment_amount_not_negative"),
            models.CheckConstraint(condition=Q(approved_amount__gte=0), name="payment_approved_not_negative"),
            models.CheckConstraint(condition=Q(captured_amount__gte=0), name="payment_captured_not_negative"),
            models.CheckConstraint(condition=Q(refunded_amount__gte=0), name="payment_refunded_not_negative"),
            models.CheckConstraint(
                condition=Q(deposit_reduction__gte=0) & Q(deposit_reduction__lte=F("amount")),
                name="payment_deposit_reduction_in_amount",
            ),
            models.CheckConstraint(
                condition=Q(captured_amount__lte=F("approved_amount")), name="payment_captured_lte_approved"
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=F("captured_amount")), name="payment_refunded_lte_captured"
            ),
            models.CheckConstraint(
                condition=Q(pending_amount__isnull=True) | Q(pending_amount__gte=0),
                name="payment_pending_amount_not_negative",
            ),
            models.CheckConstraint(
                condition=(Q(pending_operation="") & Q(pending_key=""))
                | (~Q(pending_operation="") & ~Q(pending_key="")),
                name="payment_pending_operation_has_key",
            ),
        ]
        permissions = [("review_payment", "Can approve or decline payments in review")]

    def __str__(self) -> str:
        return f"Payment {self.pk} ({self.method}, {self.amount} {self.currency_id}, {self.status})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def refundable_amount(self) -> Decimal:
        return self.captured_amount - self.refunded_amount

    def next_key(self, kind: str) -> str:
        """Number a new operation and return its idempotency key."""
        self.sequence += 1
        return f"{self.key}:{kind}:{self.sequence}"

    def start_operation(self, operation: str, *, idempotency_key: str, amount: Decimal | None = None) -> None:
        """Note a capture, void or refund about to be sent, so a retry or a sync can finish it."""
        self.pending_operation = operation
        self.pending_key = idempotency_key
        self.pending_amount = amount
        self.pending_since = timezone.now()

    def finish_operation(self) -> None:
        self.pending_operation = Operation.NONE
        self.pending_key = ""
        self.pending_amount = None
        self.pending_since = None

    def _note_approval(self, *, approved_amount, reference, expires_at, avs_result, cvv_result) -> None:
        self.approved_amount = approved_amount
        self.authorization_reference = reference
        self.expires_at = expires_at
        self.avs_result = avs_result
        self.cvv_result = cvv_result
        self.authorized_at = timezone.now()

    # Transitions: they set this payment's own fields; the services call the gateway and save.

    @transition(field=status, source=S.NEW, target=S.PENDING)
    def begin_authorization(self, *, idempotency_key: str) -> None:
        self.authorize_key = idempotency_key

    @transition(field=status, source=S.PENDING, target=S.AUTHORIZED)
    def approve(self, *, approved_amount, reference="", expires_at=None, avs_result="", cvv_result="") -> None:
        self._note_approval(
            approved_amount=approved_amount,
            reference=reference,
            expires_at=expires_at,
            avs_result=avs_result,
            cvv_result=cvv_result,
        )

    @transition(field=status, source=S.PENDING, target=S.REVIEW)
    def hold_for_review(
        self, *, approved_amount, reason: str, reference="", expires_at=None, avs_result="", cvv_result=""
    ) -> None:
        self._note_approval(
            approved_amount=approved_amount,
            reference=reference,
            expires_at=expires_at,
            avs_result=avs_result,
            cvv_result=cvv_result,
        )
        self.status_reason = reason

    @transition(field=status, source=S.PENDING, target=S.DECLINED)
    def decline(self, *, reason: str) -> None:
        self.status_reason = reason

    @transition(field=status, source=S.REVIEW, target=S.AUTHORIZED)
    def approve_review(self, *, reviewer, reason: str = "") -> None:
        self.reviewed_by = reviewer
        self.reviewed_at = timezone.now()
        self.status_reason = reason

    @transition(field=status, source=S.REVIEW, target=S.DECLINED)
    def decline_review(self, *, reviewer, reason: str) -> None:
        self.reviewed_by = reviewer
        self.reviewed_at = timezone.now()
        self.status_reason = reason

    def has_uncaptured_amount(self) -> bool:
        return self.status == S.AUTHORIZED or self.captured_amount < self.approved_amount

    # A deposited payment takes further partial captures (one per shipped release) up to its approval.
    @transition(
        field=status, source=[S.AUTHORIZED, S.DEPOSITED], target=S.DEPOSITED, conditions=[has_uncaptured_amount]
    )
    def capture(self, *, amount: Decimal, idempotency_key: str) -> None:
        self.captured_amount += amount
        self.capture_key = idempotency_key
        self.captured_at = timezone.now()

    @transition(
        field=status,
        source=[S.DEPOSITED, S.PARTIALLY_REFUNDED],
        target=RETURN_VALUE(S.PARTIALLY_REFUNDED, S.REFUNDED),
    )
    def refund(self, *, amount: Decimal) -> str:
        self.refunded_amount += amount
        return S.REFUNDED if self.refunded_amount >= self.captured_amount else S.PARTIALLY_REFUNDED

    @transition(field=status, source=[S.NEW, S.PENDING, S.AUTHORIZED, S.REVIEW, S.DECLINED], target=S.VOIDED)
    def void(self, *, reason: str = "") -> None:
        if reason:
            self.status_reason = reason

    @transition(field=status, source=[S.AUTHORIZED, S.REVIEW], target=S.EXPIRED, conditions=[lambda p: p.is_expired])
    def expire(self) -> None:
        pass


class PaymentTransaction(models.Model):
    """One call to a gateway (or to an offline method) and its answer."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=10, choices=TransactionKind.choices)
    gateway = models.CharField(max_length=32, blank=True)
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT)
    outcome = models.CharField(max_length=10, choices=OUTCOME_CHOICES)
    reference = models.CharField(max_length=128, blank=True)
    idempotency_key = models.CharField(max_length=255)
    applied = models.BooleanField(
        default=False, help_text="This answer changed the payment; at most one call per kind and key does."
    )
    replayed = models.BooleanField(default=False, help_text="The gateway repeated an earlier answer for this key.")
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    note = models.TextField(blank=True)
    raw_response = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["payment", "kind"], name="payment_txn_payment_kind")]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "idempotency_key"], condition=Q(applied=True), name="payment_txn_applied_once_per_key"
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0), name="payment_txn_amount_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome} ({self.idempotency_key})"


def default_review_results() -> list[str]:
    return [Verification.MISMATCH.value]


class AcceptPolicy(models.Model):
    """How a store treats a payment method: accepted at all, and when a person must review it."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="payment_policies")
    method = models.CharField(max_length=32, help_text="A method of settings.PAYMENT_METHODS.")
    accepted = models.BooleanField(default=True)
    needs_approval = models.BooleanField(default=False, help_text="Every payment by this method goes to review.")
    review_threshold = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="In the store's currency: payments above it go to review. Empty: the store's review "
        "threshold for gateway methods, none for the others.",
    )
    review_avs_results = models.JSONField(
        "AVS results for review",
        default=default_review_results,
        blank=True,
        help_text='Address check results that send a payment to review, e.g. ["mismatch"].',
    )
    review_cvv_results = models.JSONField(
        "CVV results for review",
        default=default_review_results,
        blank=True,
        help_text='Security code check results that send a payment to review, e.g. ["mismatch"].',
    )

    class Meta:
        verbose_name = "accept policy"
        verbose_name_plural = "accept policies"
        ordering = ["store", "method"]
        constraints = [
            models.UniqueConstraint(fields=["store", "method"], name="accept_policy_unique_store_method"),
            models.CheckConstraint(
                condition=Q(review_threshold__isnull=True) | Q(review_threshold__gte=0),
                name="accept_policy_threshold_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store} / {self.method}"

    def clean(self) -> None:
        errors = {}
        if self.method and self.method not in settings.PAYMENT_METHODS:
            errors["method"] = f"Unknown payment method; choose one of {', '.join(sorted(settings.PAYMENT_METHODS))}."
        known = {result.value for result in Verification}
        for field in ("review_avs_results", "review_cvv_results"):
            value = getattr(self, field)
            if not isinstance(value, list) or not set(value) <= known:
                errors[field] = f"A list of check results among {', '.join(sorted(known - {''}))}."
        if errors:
            raise ValidationError(errors)


# The simulated gateway's own state. It stands for a remote system, so only payments.gateways.simulated
# reads or writes these tables, each call in its own transaction.


class SimulatedAuthorization(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"
        CAPTURED = "captured", "Captured"
        VOIDED = "voided", "Voided"

    reference = models.CharField(max_length=40, unique=True)
    token = models.CharField(max_length=128)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(**MONEY)
    approved_amount = models.DecimalField(**MONEY, default=ZERO)
    captured_amount = models.DecimalField(**MONEY, default=ZERO)
    refunded_amount = models.DecimalField(**MONEY, default=ZERO)
    state = models.CharField(max_length=10, choices=State.choices)
    avs_result = models.CharField(max_length=12, blank=True)
    cvv_result = models.CharField(max_length=12, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(captured_amount__lte=F("approved_amount")), name="simulated_captured_lte_approved"
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=F("captured_amount")), name="simulated_refunded_lte_captured"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.state}"


class SimulatedGatewayRecord(models.Model):
    """The simulated gateway's answer to one idempotency key, repeated to every retry."""

    idempotency_key = models.CharField(max_length=255, unique=True)
    operation = models.CharField(max_length=10)
    request = models.JSONField(default=dict)
    response = models.JSONField(default=dict)
    authorization = models.ForeignKey(
        SimulatedAuthorization, on_delete=models.CASCADE, null=True, blank=True, related_name="records"
    )
    delivered = models.BooleanField(default=True, help_text="False while the caller has seen only a timeout.")
    calls = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.operation} {self.idempotency_key}"
