"""Spending-limit writes: check, charge and credit an order against its agreements and purchase order.

An order's items may each name a trading agreement; the order may name a purchase order of its
organization. Every agreement is charged for its own items (one ledger row for the order when all its
items share the agreement, else one per item), the purchase order for the whole order. Amounts are
converted from the order's currency into each limit's currency and rounded half-up to its minor unit.

Locks: agreements by pk, then the purchase order. Charging and crediting both take them in that
order, so two orders can never together exceed a limit, nor deadlock.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from commerce.currency import convert
from commerce.errors import ValidationFailed
from commerce.models import RATE
from commerce.money import ZERO, quantize_money
from commerce.reports import Note
from orders.models import Order, OrderItem
from spending_limits import selectors
from spending_limits.errors import PurchaseOrderInvalid, SpendingLimitExceeded, TradingAgreementInvalid
from spending_limits.models import (
    PurchaseOrder,
    PurchaseOrderPurchase,
    PurchaseOrderRefund,
    TradingAgreement,
    TradingAgreementPurchase,
    TradingAgreementRefund,
)
from spending_limits.signals import order_noted

ACTOR = "spending limits"
RATE_EXPONENT = Decimal(1).scaleb(-RATE["decimal_places"])

Holder = TradingAgreement | PurchaseOrder
Purchase = TradingAgreementPurchase | PurchaseOrderPurchase
Refund = TradingAgreementRefund | PurchaseOrderRefund


@dataclass(frozen=True)
class _Ledger:
    """The purchase and refund models of one kind of limit holder, and the field naming the holder."""

    kind: str
    holder_field: str
    purchase: type[Purchase]
    refund: type[Refund]

    def holder_id(self, row: Purchase | Refund) -> int:
        return getattr(row, f"{self.holder_field}_id")

    def holder(self, row: Purchase | Refund) -> Holder:
        return getattr(row, self.holder_field)


AGREEMENTS = _Ledger(
    selectors.KIND_TRADING_AGREEMENT, "trading_agreement", TradingAgreementPurchase, TradingAgreementRefund
)
PURCHASE_ORDERS = _Ledger(selectors.KIND_PURCHASE_ORDER, "purchase_order", PurchaseOrderPurchase, PurchaseOrderRefund)


def _ledger_of(holder: Holder) -> _Ledger:
    return AGREEMENTS if isinstance(holder, TradingAgreement) else PURCHASE_ORDERS


def _ledger_of_row(row: Purchase | Refund) -> _Ledger:
    return AGREEMENTS if isinstance(row, (TradingAgreementPurchase, TradingAgreementRefund)) else PURCHASE_ORDERS


def _label(holder: Holder) -> str:
    return (
        f"trading agreement {holder.number}"
        if isinstance(holder, TradingAgreement)
        else f"purchase order {holder.number}"
    )


def _money(amount: Decimal, currency) -> str:
    return f"{quantize_money(amount, currency):,} {currency}"


@dataclass
class _Scope:
    """What an order is charged against, loaded (and locked, when charging) in the fixed order."""

    order: Order
    items: list[OrderItem]
    agreements: list[TradingAgreement]
    purchase_order: PurchaseOrder | None

    @property
    def holders(self) -> list[Holder]:
        return [*self.agreements, *([self.purchase_order] if self.purchase_order else [])]


def _load_scope(order: Order, *, lock: bool) -> _Scope:
    items = list(OrderItem.objects.filter(order_id=order.pk).order_by("pk"))
    agreement_ids = {item.trading_agreement_id for item in items if item.trading_agreement_id is not None}
    agreements = []
    if agreement_ids:
        queryset = TradingAgreement.objects.filter(pk__in=agreement_ids).select_related("currency").order_by("pk")
        if lock:
            queryset = queryset.select_for_update(of=("self",), no_key=True)
        agreements = list(queryset)
    purchase_order = _resolve_purchase_order(order, lock=lock)
    return _Scope(order=order, items=items, agreements=agreements, purchase_order=purchase_order)


def _resolve_purchase_order(order: Order, *, lock: bool) -> PurchaseOrder | None:
    """Find the order's purchase order by its number (or the one already linked) and link it."""
    number = order.purchase_order_number.strip()
    if not number and order.purchase_order_id is None:
        return None
    if not number:
        number = PurchaseOrder.objects.values_list("number", flat=True).get(pk=order.purchase_order_id)
    if order.organization_id is None:
        raise PurchaseOrderInvalid(
            f"Purchase order {number} cannot be used: order {order.number} is not placed for an organization.",
            details={"reason": "no_organization", "purchase_order": number},
        )
    purchase_orders = PurchaseOrder.objects.select_related("currency")
    if lock:
        purchase_orders = purchase_orders.select_for_update(of=("self",), no_key=True)
    purchase_order = purchase_orders.filter(organization_id=order.organization_id, number=number).first()
    if purchase_order is None:
        raise PurchaseOrderInvalid(
            f"Purchase order {number} does not exist for your organization.",
            details={"reason": "not_found", "purchase_order": number},
        )
    order.purchase_order = purchase_order
    return purchase_order


def _validate_agreement(agreement: TradingAgreement, *, order: Order, now) -> None:
    details = {"trading_agreement": agreement.number}
    if agreement.organization_id != order.organization_id:
        raise TradingAgreementInvalid(
            f"Trading agreement {agreement.number} is not an agreement of the order's organization.",
            details={**details, "reason": "other_organization"},
        )
    if not agreement.is_active():
        raise TradingAgreementInvalid(
            f"Trading agreement {agreement.number} is {agreement.get_state_display().lower()}.",
            details={**details, "reason": "not_active", "state": agreement.state},
        )
    if not agreement.is_in_window(now):
        if agreement.valid_from is not None and now < agreement.valid_from:
            message = f"Trading agreement {agreement.number} is not valid before {agreement.valid_from:%Y-%m-%d %H:%M}."
            reason = "not_yet_valid"
        else:
            message = f"Trading agreement {agreement.number} expired on {agreement.valid_until:%Y-%m-%d %H:%M}."
            reason = "expired"
        raise TradingAgreementInvalid(
            message,
            details={
                **details,
                "reason": reason,
                "valid_from": agreement.valid_from.isoformat() if agreement.valid_from else None,
                "valid_until": agreement.valid_until.isoformat() if agreement.valid_until else None,
            },
        )


def _validate_purchase_order(scope: _Scope) -> None:
    purchase_order = scope.purchase_order
    if purchase_order is None:
        requiring = [agreement.number for agreement in scope.agreements if agreement.requires_purchase_order]
        if requiring:
            raise PurchaseOrderInvalid(
                f"Trading agreement {requiring[0]} requires a purchase order number.",
                details={"reason": "required", "trading_agreement": requiring[0]},
            )
        return
    details = {"purchase_order": purchase_order.number}
    if not purchase_order.is_active():
        raise PurchaseOrderInvalid(
            f"Purchase order {purchase_order.number} is {purchase_order.get_state_display().lower()}.",
            details={**details, "reason": "not_active", "state": purchase_order.state},
        )
    if purchase_order.type == PurchaseOrder.Type.SINGLE_USE and selectors.purchase_order_used_by_other_order(
        purchase_order=purchase_order, order=scope.order
    ):
        raise PurchaseOrderInvalid(
            f"Purchase order {purchase_order.number} is single-use and was already used by another order.",
            details={**details, "reason": "already_used"},
        )


@dataclass(frozen=True)
class _Take:
    """What one order (or one of its items) takes from one agreement or purchase order."""

    holder: Holder
    order_item: OrderItem | None
    order_amount: Decimal


def _takes(scope: _Scope) -> list[_Take]:
    """Each agreement for its own items (one take for the order when it covers them all); the PO for all."""
    takes = []
    for agreement in scope.agreements:
        covered = [item for item in scope.items if item.trading_agreement_id == agreement.pk]
        if len(covered) == len(scope.items):
            takes.append(_Take(agreement, None, order_purchase_amount(items=covered)))
        else:
            takes += [_Take(agreement, item, item.purchase_amount) for item in covered]
    if scope.purchase_order is not None:
        takes.append(_Take(scope.purchase_order, None, order_purchase_amount(items=scope.items)))
    return takes


def order_purchase_amount(*, items: Iterable[OrderItem]) -> Decimal:
    """Product total + tax + shipping + shipping tax - adjustment over the items."""
    return sum((item.purchase_amount for item in items), ZERO)


def _charged_keys(order: Order) -> set[tuple[str, int, int | None]]:
    keys = set()
    for ledger in (AGREEMENTS, PURCHASE_ORDERS):
        rows = ledger.purchase.objects.filter(order_id=order.pk).values_list(
            f"{ledger.holder_field}_id", "order_item_id"
        )
        keys |= {(ledger.kind, holder_id, item_id) for holder_id, item_id in rows}
    return keys


def _purchase_row(take: _Take, order: Order) -> Purchase:
    if take.order_amount < 0:
        subject = f"item {take.order_item.sku}" if take.order_item else f"order {order.number}"
        raise ValidationFailed(
            f"The purchase amount of {subject} is negative; it cannot be charged to {_label(take.holder)}.",
            details={"order_amount": str(take.order_amount)},
        )
    conversion = convert(take.order_amount, from_currency=order.currency_id, to_currency=take.holder.currency)
    ledger = _ledger_of(take.holder)
    return ledger.purchase(
        **{ledger.holder_field: take.holder},
        order=order,
        order_item=take.order_item,
        amount=conversion.amount,
        currency=take.holder.currency,
        order_amount=take.order_amount,
        order_currency_id=order.currency_id,
        exchange_rate=conversion.rate.quantize(RATE_EXPONENT),
    )


def _new_purchase_rows(scope: _Scope) -> list[Purchase]:
    """The rows charging would write: takes not in the ledger yet, converted into the limits' currencies."""
    charged = _charged_keys(scope.order)
    return [
        _purchase_row(take, scope.order)
        for take in _takes(scope)
        if (_ledger_of(take.holder).kind, take.holder.pk, take.order_item.pk if take.order_item else None)
        not in charged
    ]


def _check_limits(scope: _Scope, rows: list[Purchase], *, for_release: bool) -> None:
    needed: dict[tuple[str, int], Decimal] = defaultdict(lambda: ZERO)
    for row in rows:
        ledger = _ledger_of_row(row)
        needed[ledger.kind, ledger.holder_id(row)] += row.amount
    for holder in scope.holders:
        if not holder.is_limited:
            continue
        need = needed[_ledger_of(holder).kind, holder.pk]
        if need == 0 and not for_release:
            continue
        # Read in statements of their own after the lock is held: a statement that waited for the
        # lock would see the ledger as it was before the other order committed.
        if isinstance(holder, TradingAgreement):
            remaining = selectors.trading_agreement_remaining(agreement=holder)
        else:
            remaining = selectors.purchase_order_remaining(purchase_order=holder)
        if need > remaining:
            _raise_exceeded(scope.order, holder, need=need, remaining=remaining, for_release=for_release)


def _raise_exceeded(order: Order, holder: Holder, *, need: Decimal, remaining: Decimal, for_release: bool) -> None:
    currency = holder.currency
    this_order = need
    if for_release:
        this_order = selectors.order_net_charge(order=order, holder=holder)
        message = (
            f"{_label(holder).capitalize()} is over its limit of {_money(holder.limit_amount, currency)}: "
            f"{_money(remaining, currency)} remaining after this order's {_money(this_order, currency)}."
        )
    else:
        message = (
            f"Order {order.number} needs {_money(need, currency)} from {_label(holder)}, "
            f"but only {_money(remaining, currency)} of its {_money(holder.limit_amount, currency)} limit remains."
        )
    raise SpendingLimitExceeded(
        message,
        details={
            "kind": _ledger_of(holder).kind,
            "number": holder.number,
            "limit": str(quantize_money(holder.limit_amount, currency)),
            "remaining": str(quantize_money(remaining, currency)),
            "order_amount": str(quantize_money(this_order, currency)),
            "currency": holder.currency_id,
        },
    )


def _evaluate(order: Order, *, lock: bool, for_release: bool = False) -> tuple[_Scope, list[Purchase]]:
    """Validate the order's agreements and purchase order and return the purchase rows still to write."""
    scope = _load_scope(order, lock=lock)
    if not scope.holders:
        return scope, []
    now = timezone.now()
    for agreement in scope.agreements:
        _validate_agreement(agreement, order=order, now=now)
    _validate_purchase_order(scope)
    rows = _new_purchase_rows(scope)
    _check_limits(scope, rows, for_release=for_release)
    return scope, rows


def spending_limits_check(*, order: Order) -> None:
    """Raise if the order's agreements and purchase order do not cover it; link its purchase order."""
    _evaluate(order, lock=False)


def spending_limits_check_for_release(*, order: Order) -> None:
    """Re-check a charged order at release: its agreements and purchase order still valid, no limit overrun."""
    _evaluate(order, lock=False, for_release=True)


def spending_limits_charge(*, order: Order) -> list[Purchase]:
    """Check and write the order's purchase rows under the limit holders' row locks; rows already there stay."""
    with transaction.atomic():
        scope, rows = _evaluate(order, lock=True)
        if scope.purchase_order is not None:
            # Only the link, never the status: the caller may hold the order with a transition unsaved.
            Order.objects.filter(pk=order.pk).exclude(purchase_order=scope.purchase_order).update(
                purchase_order=scope.purchase_order
            )
        written = _bulk_create(rows)
        if written:
            _record(order, "Spending limits charged", written)
    return written


def spending_limits_credit(*, order: Order, items: Iterable[OrderItem] | None = None, reason: str) -> list[Refund]:
    """Give back what the order (or only ``items`` of it) was charged; what was given back already stays."""
    with transaction.atomic():
        purchases = {
            ledger: list(
                ledger.purchase.objects.filter(order_id=order.pk)
                .select_related("currency", ledger.holder_field)
                .order_by("pk")
            )
            for ledger in (AGREEMENTS, PURCHASE_ORDERS)
        }
        if not any(purchases.values()):
            return []
        _lock_holders(purchases)
        credited_items = None if items is None else _items_of(order, items)
        rows = []
        for ledger, ledger_purchases in purchases.items():
            if ledger_purchases:
                rows += _refund_rows(ledger, order, ledger_purchases, credited_items, reason=reason[:255])
        written = _bulk_create(rows)
        if written:
            _record(order, "Spending limits credited", written, reason=reason)
    return written


def _lock_holders(purchases: dict[_Ledger, list[Purchase]]) -> None:
    """Lock the agreements then the purchase orders the order was charged to, by pk."""
    agreement_ids = {row.trading_agreement_id for row in purchases[AGREEMENTS]}
    purchase_order_ids = {row.purchase_order_id for row in purchases[PURCHASE_ORDERS]}
    if agreement_ids:
        list(
            TradingAgreement.objects.select_for_update(no_key=True)
            .filter(pk__in=agreement_ids)
            .order_by("pk")
            .values("pk")
        )
    if purchase_order_ids:
        list(
            PurchaseOrder.objects.select_for_update(no_key=True)
            .filter(pk__in=purchase_order_ids)
            .order_by("pk")
            .values("pk")
        )


def _items_of(order: Order, items: Iterable[OrderItem]) -> list[OrderItem]:
    wanted = {item.pk for item in items}
    found = list(OrderItem.objects.filter(order_id=order.pk, pk__in=wanted).order_by("pk"))
    if len(found) != len(wanted):
        raise ValidationFailed(
            f"Only items of order {order.number} can be credited.",
            details={"items": sorted(str(pk) for pk in wanted - {item.pk for item in found})},
        )
    return found


def _refund_rows(
    ledger: _Ledger,
    order: Order,
    purchases: list[Purchase],
    items: list[OrderItem] | None,
    *,
    reason: str,
) -> list[Refund]:
    """Refund rows for one ledger: never more than a purchase row took, never twice for the same key."""
    refunds = list(ledger.refund.objects.filter(order_id=order.pk))
    refunded_keys = {
        (ledger.holder_id(refund), refund.order_item_id) for refund in refunds if refund.return_request_id is None
    }
    amount_left = {purchase.pk: purchase.amount for purchase in purchases}
    order_amount_left = {purchase.pk: purchase.order_amount for purchase in purchases}
    for refund in refunds:
        amount_left[refund.purchase_id] -= refund.amount
        order_amount_left[refund.purchase_id] -= refund.order_amount
    item_ids = None if items is None else {item.pk for item in items}
    rows = []

    def give_back(purchase: Purchase, order_item_id: int | None, amount: Decimal, order_amount: Decimal) -> None:
        amount, order_amount = max(amount, ZERO), max(order_amount, ZERO)
        rows.append(
            ledger.refund(
                **{ledger.holder_field: ledger.holder(purchase)},
                purchase=purchase,
                order=order,
                order_item_id=order_item_id,
                amount=amount,
                currency_id=purchase.currency_id,
                order_amount=order_amount,
                order_currency_id=purchase.order_currency_id,
                exchange_rate=purchase.exchange_rate,
                reason=reason,
            )
        )
        amount_left[purchase.pk] -= amount
        order_amount_left[purchase.pk] -= order_amount

    for purchase in purchases:
        holder_id = ledger.holder_id(purchase)
        if (holder_id, purchase.order_item_id) in refunded_keys:
            continue
        if item_ids is None or purchase.order_item_id in item_ids:
            # The refund keyed like its purchase closes it, even at zero after item returns: a
            # single-use purchase order is free again only once its charge is closed.
            give_back(purchase, purchase.order_item_id, amount_left[purchase.pk], order_amount_left[purchase.pk])
            continue
        if purchase.order_item_id is not None:
            continue
        # An order-level charge: give back the returned items' share at the rate it was charged.
        for item in items:
            if (holder_id, item.pk) in refunded_keys or not _covers(ledger, purchase, item):
                continue
            amount = quantize_money(item.purchase_amount * purchase.exchange_rate, purchase.currency)
            amount = min(amount, amount_left[purchase.pk])
            order_amount = min(item.purchase_amount, order_amount_left[purchase.pk])
            if amount > 0 or order_amount > 0:
                give_back(purchase, item.pk, amount, order_amount)
    return rows


def _covers(ledger: _Ledger, purchase: Purchase, item: OrderItem) -> bool:
    """Whether an order-level purchase row paid for this item."""
    if ledger is PURCHASE_ORDERS:
        return True
    return item.trading_agreement_id == purchase.trading_agreement_id


def _bulk_create(rows: list) -> list:
    by_model = defaultdict(list)
    for row in rows:
        by_model[type(row)].append(row)
    written = []
    for model, model_rows in by_model.items():
        written += model.objects.bulk_create(model_rows)
    return written


def _record(order: Order, message: str, rows: list[Purchase | Refund], *, reason: str = "") -> None:
    """Write one order event listing the rows, so the order's history shows its spending-limit charges."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    details = []
    for row in rows:
        number = _ledger_of_row(row).holder(row).number
        totals[number, row.currency_id] += row.amount
        details.append(
            {
                "ledger": type(row).__name__,
                "number": number,
                "order_item": row.order_item_id,
                "amount": str(row.amount),
                "currency": row.currency_id,
                "order_amount": str(row.order_amount),
                "order_currency": row.order_currency_id,
                "exchange_rate": str(row.exchange_rate),
            }
        )
    text = "; ".join(f"{number} {_money(amount, currency)}" for (number, currency), amount in totals.items())
    order_noted.send(
        sender=TradingAgreement,
        notes=[Note(subject_id=order.pk, message=f"{message}: {text}", reason=reason, extra={"rows": details})],
        acting_user=None,
        actor_name=ACTOR,
    )


# Credits of returns live in their own module (spending_limits.returns, which builds on the ledgers
# above); a service of this app, loaded on first use so neither module imports the other while it loads.
def __getattr__(name: str):
    if name == "spending_limits_credit_return":
        from spending_limits import returns

        return returns.spending_limits_credit_return
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
