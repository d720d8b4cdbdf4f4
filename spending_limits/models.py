"""B2B trading agreements and purchase orders with spending limits."""

from django.db import models
from django.db.models import DecimalField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from commerce.models import MONEY, RATE, Currency, Organization
from commerce.money import ZERO


def _ledger_total(reverse_relation) -> Coalesce:
    """The sum of a holder's ledger rows (``purchases`` or ``refunds``) in its limit currency."""
    holder = reverse_relation.field.name
    rows = (
        reverse_relation.rel.related_model.objects.filter(**{holder: OuterRef("pk")})
        .order_by()
        .values(holder)
        .annotate(total=Sum("amount"))
        .values("total")
    )
    money = DecimalField(**MONEY)
    return Coalesce(Subquery(rows, output_field=money), Value(ZERO), output_field=money)


class LimitHolderQuerySet(models.QuerySet):
    def with_balances(self):
        """Annotate ``purchased`` and ``refunded``, the ledger sums behind the remaining balance."""
        return self.annotate(purchased=_ledger_total(self.model.purchases), refunded=_ledger_total(self.model.refunds))

    def for_organization(self, organization):
        return self.filter(organization=organization)


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

    objects = LimitHolderQuerySet.as_manager()

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(limit_amount__isnull=True) | Q(limit_amount__gte=0), name="agreement_limit_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def is_active(self) -> bool:
        return self.state == AgreementState.ACTIVE

    def is_in_window(self, when) -> bool:
        """Whether ``when`` falls inside the agreement's valid window (open ends are unbounded)."""
        return (self.valid_from is None or self.valid_from <= when) and (
            self.valid_until is None or when <= self.valid_until
        )

    @property
    def is_limited(self) -> bool:
        return self.limit_amount is not None


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

    objects = LimitHolderQuerySet.as_manager()

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

    def is_active(self) -> bool:
        return self.state == self.State.ACTIVE

    @property
    def is_limited(self) -> bool:
        """Limited and single-use purchase orders cap what is bought; a blanket one never does."""
        return self.type != self.Type.BLANKET and self.limit_amount is not None


class LedgerEntry(models.Model):
    """An append-only ledger row: an amount in the limit's currency, converted from the order's."""

    amount = models.DecimalField(**MONEY, help_text="In the limit's currency.")
    currency = models.ForeignKey(
        Currency, on_delete=models.PROTECT, related_name="+", help_text="The limit's currency."
    )
    order_amount = models.DecimalField(**MONEY, help_text="In the order's currency.")
    order_currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="+")
    exchange_rate = models.DecimalField(**RATE, help_text="One unit of the order currency in the limit currency.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.amount} {self.currency_id}"


def _order_fk(related_name: str) -> models.ForeignKey:
    return models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name=related_name)


def _order_item_fk(related_name: str) -> models.ForeignKey:
    return models.ForeignKey(
        "orders.OrderItem", on_delete=models.PROTECT, null=True, blank=True, related_name=related_name
    )


def _one_row_per(holder: str, name: str, *, returns: bool = False) -> list[models.UniqueConstraint]:
    """One row per (holder, order, item) and one per (holder, order) without an item: NULLs never collide.

    With ``returns`` (refund ledgers), those keys hold for cancellations; a return's rows are keyed
    by (holder, return, order) instead, one row per return.
    """
    not_return = Q(return_request__isnull=True) if returns else Q()
    constraints = [
        models.UniqueConstraint(
            fields=[holder, "order", "order_item"],
            condition=Q(order_item__isnull=False) & not_return,
            name=f"{name}_unique_item",
        ),
        models.UniqueConstraint(
            fields=[holder, "order"], condition=Q(order_item__isnull=True) & not_return, name=f"{name}_unique_order"
        ),
    ]
    if returns:
        constraints.append(
            models.UniqueConstraint(
                fields=[holder, "return_request", "order"],
                condition=Q(return_request__isnull=False),
                name=f"{name}_unique_return",
            )
        )
    return constraints


def _return_fk(related_name: str) -> models.ForeignKey:
    return models.ForeignKey(
        "orders.ReturnRequest",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name=related_name,
        help_text="The return (RMA) this credit is for; empty for a cancellation.",
    )


def _amounts_not_negative(name: str) -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(condition=Q(amount__gte=0), name=f"{name}_amount_not_negative"),
        models.CheckConstraint(condition=Q(order_amount__gte=0), name=f"{name}_order_amount_not_negative"),
        models.CheckConstraint(condition=Q(exchange_rate__gt=0), name=f"{name}_rate_positive"),
    ]


class TradingAgreementPurchase(LedgerEntry):
    """What an order (or one of its items) was charged against an agreement's right to buy."""

    trading_agreement = models.ForeignKey(TradingAgreement, on_delete=models.PROTECT, related_name="purchases")
    order = _order_fk("trading_agreement_purchases")
    order_item = _order_item_fk("trading_agreement_purchases")

    class Meta(LedgerEntry.Meta):
        constraints = _one_row_per("trading_agreement", "ta_purchase") + _amounts_not_negative("ta_purchase")


class TradingAgreementRefund(LedgerEntry):
    """What a cancellation or a return gave back to an agreement, against one purchase row."""

    trading_agreement = models.ForeignKey(TradingAgreement, on_delete=models.PROTECT, related_name="refunds")
    order = _order_fk("trading_agreement_refunds")
    order_item = _order_item_fk("trading_agreement_refunds")
    purchase = models.ForeignKey(TradingAgreementPurchase, on_delete=models.PROTECT, related_name="refunds")
    return_request = _return_fk("trading_agreement_refunds")
    reason = models.CharField(max_length=255)

    class Meta(LedgerEntry.Meta):
        constraints = _one_row_per("trading_agreement", "ta_refund", returns=True) + _amounts_not_negative("ta_refund")


class PurchaseOrderPurchase(LedgerEntry):
    """What an order was charged against a purchase order."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="purchases")
    order = _order_fk("purchase_order_purchases")
    order_item = _order_item_fk("purchase_order_purchases")

    class Meta(LedgerEntry.Meta):
        constraints = _one_row_per("purchase_order", "po_purchase") + _amounts_not_negative("po_purchase")


class PurchaseOrderRefund(LedgerEntry):
    """What a cancellation or a return gave back to a purchase order, against one purchase row."""

    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="refunds")
    order = _order_fk("purchase_order_refunds")
    order_item = _order_item_fk("purchase_order_refunds")
    purchase = models.ForeignKey(PurchaseOrderPurchase, on_delete=models.PROTECT, related_name="refunds")
    return_request = _return_fk("purchase_order_refunds")
    reason = models.CharField(max_length=255)

    class Meta(LedgerEntry.Meta):
        constraints = _one_row_per("purchase_order", "po_refund", returns=True) + _amounts_not_negative("po_refund")
