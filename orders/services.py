"""Order flow services: place, submit, approve, reject, payment decisions, cancel, and the job steps.

Every state change follows one shape: lock the order row (and its items) in a transaction, check the
transition, apply it, write the event, defer e-mails with ``on_commit``. Gateway calls (through the
payments services) always happen between transactions, never under a lock. Each transaction takes its
locks in the product's one order (docs/locking.md: order, its own rows and payments, spending-limit
holders, stock rows, receipt lines) and is a unit of work ``atomic_with_retry`` runs again after a deadlock.
"""

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError
from django.utils import timezone
from django_fsm import ConcurrentTransition, can_proceed

from commerce.currency import convert
from commerce.errors import (
    ApplicationError,
    IdempotencyKeyReused,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from commerce.models import Currency, Customer, Product, ShipMode, Store
from commerce.money import quantize_money
from commerce.notifications import notify
from commerce.retry import atomic_with_retry
from fulfillment import allocation
from orders import payment_lifecycle
from orders.events import actor_fields, order_event_record, order_events_record_bulk
from orders.models import PRE_RELEASE, InventoryStatus, Order, OrderEvent, OrderItem, OrderStatus
from orders.promotions import promotion_apply
from orders.totals import apply_totals
from payments import services as payments
from payments.authorization_check import payment_check_authorization
from payments.errors import PaymentDeclined, PaymentError
from payments.models import Payment, PaymentStatus
from payments.policies import PaymentDecision as Decision
from payments.selectors import payment_current
from spending_limits import services as limits
from spending_limits.approvals import order_requires_approval, user_can_approve
from spending_limits.models import TradingAgreement

logger = logging.getLogger(__name__)

S = OrderStatus
SUCCEEDED_PAYMENT_STATUSES = ("authorized", "review", "deposited", "partially_refunded")


# Input of a placement, parsed and validated at the edge (the API serializer or a caller's code).


@dataclass(frozen=True)
class ItemInput:
    product: Product
    quantity: int
    trading_agreement: TradingAgreement | None = None


@dataclass(frozen=True)
class AddressInput:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str = ""
    region: str = ""


@dataclass(frozen=True)
class PlacementInput:
    customer: Customer
    items: Sequence[ItemInput]
    payment_method: str
    shipping_address: AddressInput
    payment_token: str = ""
    ship_mode: str = ""
    purchase_order_number: str = ""
    currency: str = ""
    store: Store | None = None
    shipping_note: str = ""
    coupon: str = ""
    placed_by: object = None  # the staff user placing the order on the customer's behalf
    idempotency_key: str = ""
    fingerprint: str = field(default="", compare=False)


def request_fingerprint(payload) -> str:
    """A stable digest of a request body, to tell a retry from a reuse of its idempotency key."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


# Small helpers: locking, transitions with their event, item statuses.


def _locked(order_id: int, *, skip_locked: bool = False) -> Order | None:
    """Lock and load an order with its items; None when ``skip_locked`` and another worker holds it."""
    # NO KEY UPDATE: rows written meanwhile that only refer to the order (events, payments) do not wait.
    queryset = Order.objects.select_for_update(skip_locked=skip_locked, of=("self",), no_key=True).select_related(
        "store", "currency"
    )
    order = queryset.filter(pk=order_id).first()
    if order is None:
        if skip_locked:
            return None
        raise NotFound("Order not found.")
    # Items are locked too: a release or a shipment changes them under the order's lock only. Only the
    # items: locking the joined product rows would block every placement's foreign-key check on them.
    items = (
        OrderItem.objects.select_for_update(of=("self",), no_key=True)
        .filter(order=order)
        .select_related("product")
        .order_by("pk")
    )
    _cache_items(order, list(items))
    return order


def _cache_items(order: Order, items: list[OrderItem]) -> None:
    """Keep the loaded items on the order, so transitions' conditions and callers share one copy."""
    order._prefetched_objects_cache = {"items": items}


def _items(order: Order) -> list[OrderItem]:
    return list(order.items.all())


def _transition(order: Order, method: str, *, acting_user=None, actor_name: str = "", reason: str = "",
                extra: dict | None = None, method_kwargs: dict | None = None) -> None:  # fmt: skip
    """Apply a transition of the locked order, save it, make its items follow and write the event."""
    bound = getattr(order, method)
    if not can_proceed(bound):
        raise InvalidTransition(
            f"Order {order.number} cannot {method.replace('_', ' ')} while {order.get_status_display().lower()}.",
            details={"order": order.number, "status": order.status},
        )
    from_status = order.status
    bound(**(method_kwargs or {}))
    order.save()
    items = _items(order)
    following = [item for item in items if item.status in PRE_RELEASE and order.status in PRE_RELEASE]
    for item in following:
        if item.status != order.status:
            item.follow_order(order.status)
    if order.status == S.CANCELLED:
        for item in items:
            if can_proceed(item.cancel):
                item.cancel()
        following = items
    if following:
        OrderItem.objects.bulk_update(following, ["status", "inventory_status", "estimated_available_at"])
    order_event_record(
        order=order,
        from_status=from_status,
        to_status=order.status,
        acting_user=acting_user,
        actor_name=actor_name,
        reason=reason,
        extra=extra,
    )


def _save_inventory(items: Sequence[OrderItem]) -> None:
    OrderItem.objects.bulk_update(list(items), ["inventory_status", "estimated_available_at"])


def _inventory_target(order: Order) -> str:
    """C when every item is allocated from stock (or already shipped), B when any is backordered."""
    settled = (InventoryStatus.ALLOCATED, InventoryStatus.FULFILLED)
    if all(item.inventory_status in settled or item.status == S.CANCELLED for item in _items(order)):
        return "authorize"
    return "backorder"


# Placement and submission.


def _resolve_currency(data: PlacementInput, store: Store) -> str:
    return (data.currency or store.currency_id).upper()


def _build_order(data: PlacementInput, store: Store) -> tuple[Order, list[OrderItem]]:
    currency = _resolve_currency(data, store)
    address = data.shipping_address
    order = Order(
        store=store,
        customer=data.customer,
        organization=data.customer.organization,
        currency=store.currency if store.currency_id == currency else Currency.objects.get(code=currency),
        ship_mode=data.ship_mode or store.default_ship_mode,
        ship_to_name=address.name,
        ship_to_line1=address.line1,
        ship_to_line2=address.line2,
        ship_to_city=address.city,
        ship_to_region=address.region,
        ship_to_postal_code=address.postal_code,
        ship_to_country=address.country.upper(),
        purchase_order_number=data.purchase_order_number,
        shipping_note=data.shipping_note,
        placed_by=data.placed_by,
        idempotency_key=data.idempotency_key,
        request_fingerprint=data.fingerprint,
    )
    items = []
    for line in data.items:
        product = line.product
        price = product.price
        if product.currency_id != currency:
            price = convert(price, from_currency=product.currency_id, to_currency=currency).amount
        items.append(
            OrderItem(
                order=order,
                product=product,
                sku=product.sku,
                name=product.name,
                quantity=line.quantity,
                unit_price=quantize_money(price, currency),
                trading_agreement=line.trading_agreement,
            )
        )
    apply_totals(order=order, items=items)
    promotion_apply(order=order, items=items, coupon=data.coupon)
    return order, items


def _validate_placement(data: PlacementInput, store: Store) -> None:
    if not data.items:
        raise ValidationFailed("items: an order needs at least one item.", details={"items": ["Required."]})
    skus = [line.product.sku for line in data.items]
    if len(set(skus)) != len(skus):
        raise ValidationFailed(
            "items: list each SKU once, with its total quantity.", details={"items": ["Duplicate SKU."]}
        )
    if data.ship_mode and data.ship_mode not in ShipMode.values:
        raise ValidationFailed(f"ship_mode: must be one of {', '.join(ShipMode.values)}.")
    organization = data.customer.organization
    for line in data.items:
        agreement = line.trading_agreement
        if agreement is not None and agreement.organization_id != getattr(organization, "pk", None):
            raise ValidationFailed(
                f"items.trading_agreement: {agreement.number} is not an agreement of your organization.",
                details={"items": [{"trading_agreement": ["Unknown agreement."]}]},
            )


def _replay(data: PlacementInput) -> Order | None:
    """The order an earlier request with the same idempotency key created, if any."""
    if not data.idempotency_key:
        return None
    existing = Order.objects.filter(customer=data.customer, idempotency_key=data.idempotency_key).first()
    if existing is not None and existing.request_fingerprint != data.fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used for a different request.",
            details={"idempotency_key": data.idempotency_key, "order": existing.number},
        )
    return existing


def order_place(*, data: PlacementInput, acting_user=None) -> tuple[Order, bool]:
    """Create and submit an order; return it and whether it is new (False: an idempotent replay)."""
    store = data.store or Store.objects.select_related("currency").get(is_default=True)
    existing = _replay(data)
    if existing is not None:
        return existing, False
    _validate_placement(data, store)
    try:
        order, payment = _place_new(data=data, store=store, acting_user=acting_user)
    except IntegrityError:
        replay = _replay(data)
        if replay is None:
            raise
        return replay, False
    if order.status == S.AWAITING_APPROVAL:
        return order, True
    return _authorize_and_apply(order=order, payment=payment, acting_user=acting_user, placed=True), True


@atomic_with_retry
def _place_new(*, data: PlacementInput, store: Store, acting_user=None):
    """Write and submit a new order; a rerun after a deadlock builds it afresh."""
    order, items = _build_order(data, store)
    payment = _submit(
        order=order,
        items=items,
        payment_method=data.payment_method,
        payment_token=data.payment_token,
        acting_user=acting_user,
        new=True,
    )
    return order, payment


def _charges_limits(order: Order, items: Sequence[OrderItem]) -> bool:
    return bool(
        order.organization_id
        or order.purchase_order_number
        or order.purchase_order_id
        or any(item.trading_agreement_id for item in items)
    )


def _submit(*, order: Order, items: list[OrderItem], payment_method: str, payment_token: str,
            acting_user=None, new: bool = False):  # fmt: skip
    """Charge spending limits, allocate, then wait for approval (W) or ask for payment (M).

    Runs in the caller's transaction. A new order is written here, already submitted (its
    transition is made in memory first), with as few statements as the rows need: when no
    spending limit applies, stock is locked and planned before the items are inserted.
    """
    charges_limits = _charges_limits(order, items)
    needs_approval = order_requires_approval(order=order)
    from_status = order.status
    if needs_approval:
        order.submit_for_approval()
        expires_at = timezone.now() + order.store.allocation_good_for
    else:
        order.await_payment()
        expires_at = None
    for item in items:
        item.follow_order(order.status)
    order.save()
    _cache_items(order, items)

    if new and not charges_limits:
        plan = allocation.allocate_items(items=items, expires_at=expires_at, defer_writes=True)
        OrderItem.objects.bulk_create(items)
        plan.write()
    else:
        if new:
            OrderItem.objects.bulk_create(items)
        else:
            OrderItem.objects.bulk_update(items, ["status", "product_total", "tax", "shipping_charge", "shipping_tax"])
        # The order's payments, then spending-limit holders, before stock rows (docs/locking.md).
        if not new:
            _lock_current_payments(order=order)
        limits.spending_limits_charge(order=order)
        plan = allocation.allocate_items(items=items, expires_at=expires_at)
        _save_inventory(items)

    events = []
    if new:
        events.append(OrderEvent(order=order, kind=OrderEvent.Kind.NOTE, message=_created_message(order),
                                 extra={"items": len(items), "grand_total": str(order.grand_total),
                                        **_placement_extra(order)},
                                 **actor_fields(acting_user)))  # fmt: skip
    events.append(OrderEvent(order=order, from_status=from_status, to_status=order.status,
                             reason="Approval required" if needs_approval else "",
                             extra={"backordered": len(plan.backordered_items)},
                             **actor_fields(acting_user)))  # fmt: skip
    # The payment's own event joins the order's: one INSERT for all of them.
    payment = payments.payment_create(
        order=order,
        method=payment_method,
        token=payment_token,
        amount=order.grand_total,
        new_order=new,
        begin_authorization=not needs_approval,
        events=events if new else None,
    )
    order_events_record_bulk(events)
    if needs_approval:
        notify("approval_requested", order_id=order.pk)
        notify("order_received", order_id=order.pk)
    return payment


def _lock_current_payments(*, order: Order) -> None:
    """Lock the order's current payment rows (by pk), which ``payment_create`` replaces, ahead of stock."""
    list(
        Payment.objects.select_for_update(of=("self",), no_key=True)
        .filter(order=order, is_current=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _created_message(order: Order) -> str:
    if order.placed_by_id:
        return f"Order created by {order.placed_by.get_username()} for customer {order.customer.number}"
    return "Order created"


def _placement_extra(order: Order) -> dict:
    """What the creation event keeps besides the actor: the customer served, the promotion given."""
    extra = {}
    if order.placed_by_id:
        extra.update(customer=order.customer.number, on_behalf_of_customer=True)
    if order.promotion_id:
        extra.update(promotion=order.promotion.pk, coupon=order.coupon_code, adjustment=str(order.adjustment_total))
    return extra


def order_submit(*, order: Order, payment_method: str, payment_token: str = "", acting_user=None) -> Order:
    """Submit a pending (P) order: limits, allocation, approval or authorization."""

    @atomic_with_retry
    def submit():
        locked = _locked(order.pk)
        if locked.status != S.PENDING:
            raise InvalidTransition(f"Order {locked.number} was already submitted.")
        items = _items(locked)
        apply_totals(order=locked, items=items)
        return locked, _submit(order=locked, items=items, payment_method=payment_method,
                               payment_token=payment_token, acting_user=acting_user)  # fmt: skip

    order, payment = submit()
    if order.status == S.AWAITING_APPROVAL:
        return order
    return _authorize_and_apply(order=order, payment=payment, acting_user=acting_user)


def _authorize_and_apply(*, order: Order, payment, acting_user=None, actor_name: str = "",
                         placed: bool = False) -> Order:  # fmt: skip
    """Ask the gateway (no lock held), then move the order on by the answer; a decline raises.

    ``placed``: the order and its items in memory are the ones this request just wrote.
    """
    decision = payments.payment_send_authorization(payment=payment)
    moved = None
    if placed and decision in PLACED_TARGETS:
        moved = _move_placed(order=order, decision=decision, acting_user=acting_user, actor_name=actor_name)
    if moved is not None:
        return moved
    order = order_apply_payment_decision(
        order_id=order.pk, decision=decision, acting_user=acting_user, actor_name=actor_name
    )
    if decision == Decision.NO:
        raise PaymentDeclined("The payment was declined.", details={"order": order.number, "status": order.status})
    return order


PLACED_TARGETS = {Decision.YES: "Payment authorized", Decision.REVIEW: "Payment review"}


@atomic_with_retry
def _move_placed(*, order: Order, decision: str, acting_user, actor_name: str) -> Order | None:
    """Move a just-placed order (M) by its first authorization in three statements; None if it moved on.

    The order and its items are the ones placing wrote, so nothing is read again: each UPDATE carries
    the status it expects (taking the row locks in the lock order, order then items), and an order
    someone changed meanwhile is left to ``order_apply_payment_decision``, which reads it afresh.
    """
    from_status = order.status
    if from_status != S.PAYMENT_PENDING:
        return None
    method = _inventory_target(order) if decision == Decision.YES else PAYMENT_TARGETS[decision]
    now = timezone.now()
    if not Order.objects.filter(pk=order.pk, status=from_status).update(status=_target_of(method), updated_at=now):
        return None
    getattr(order, method)()
    order.updated_at = now
    items = _items(order)
    for item in items:
        item.follow_order(order.status)
    moved = OrderItem.objects.filter(order_id=order.pk, status=from_status).update(status=order.status)
    if moved != len(items):
        raise ConcurrentTransition(f"{len(items) - moved} items of order {order.number} changed under its lock.")
    for instance in (order, *items):
        instance._update_initial_state()
    order_event_record(order=order, from_status=from_status, to_status=order.status, acting_user=acting_user,
                       actor_name=actor_name, reason=PLACED_TARGETS[decision])  # fmt: skip
    _notify_status(order, from_status)
    return order


def _target_of(method: str) -> str:
    return {"authorize": S.AUTHORIZED, "backorder": S.BACKORDERED, "hold_for_review": S.PAYMENT_REVIEW}[method]


PAYMENT_TARGETS = {
    Decision.REVIEW: "hold_for_review",
    Decision.WORKING: "await_payment",
}


def order_apply_payment_decision(
    *, order_id: int, decision: str, acting_user=None, actor_name: str = "", reason: str = ""
) -> Order:
    """Move an order waiting on its payment (W, M, A, B) by the payment's answer; NO cancels it."""
    order = _apply_decision(order_id=order_id, decision=decision, acting_user=acting_user, actor_name=actor_name,
                            reason=reason)  # fmt: skip
    if decision == Decision.NO:
        _cancel_payment(order, acting_user=acting_user, actor_name=actor_name)
    return order


@atomic_with_retry
def _apply_decision(*, order_id: int, decision: str, acting_user, actor_name: str, reason: str) -> Order:
    order = _locked(order_id)
    waiting = (S.AWAITING_APPROVAL, S.PAYMENT_PENDING, S.PAYMENT_REVIEW, S.BACKORDERED)
    if decision == Decision.REVIEW:
        waiting += (S.AUTHORIZED,)  # a reauthorization of an unreleased order held for review: C → A
    if decision == Decision.NO and not can_proceed(order.cancel):
        return order
    if decision != Decision.NO and order.status not in waiting:
        return order
    from_status = order.status
    if decision == Decision.NO:
        _cancel_locked(order, acting_user=acting_user, actor_name=actor_name,
                       reason=reason or "Payment declined", notification="payment_declined")  # fmt: skip
    elif decision == Decision.YES:
        _transition(order, _inventory_target(order), acting_user=acting_user, actor_name=actor_name,
                    reason=reason or "Payment authorized")  # fmt: skip
    elif decision == Decision.WORKING and order.status == S.PAYMENT_PENDING:
        pass
    else:
        _transition(order, PAYMENT_TARGETS[decision], acting_user=acting_user, actor_name=actor_name,
                    reason=reason or f"Payment {decision.lower()}")  # fmt: skip
    if order.status != from_status:
        _notify_status(order, from_status)
    return order


def _notify_status(order: Order, from_status: str) -> None:
    # Orders that waited for approval got their "received" e-mail at submit.
    if (
        from_status in (S.PENDING, S.PAYMENT_PENDING)
        and order.status in (S.PAYMENT_REVIEW, S.BACKORDERED, S.AUTHORIZED)
        and order.approved_at is None
    ):
        notify("order_received", order_id=order.pk)
    if order.status == S.BACKORDERED and from_status != S.BACKORDERED:
        notify("order_backordered", order_id=order.pk)
    if order.status == S.PAYMENT_REVIEW:
        notify("payment_review", order_id=order.pk)


# Approval by the buyer organization's approvers (or staff).


def _check_approver(order: Order, acting_user) -> None:
    if acting_user is None:
        return
    if acting_user.has_perm("orders.approve_order") or user_can_approve(user=acting_user, order=order):
        return
    raise PermissionDenied("You are not an approver of this order's organization.")


def order_approve(*, order: Order, acting_user=None, reason: str = "") -> Order:
    """Approve a W order: allocate again what expired meanwhile, then authorize the payment."""

    @atomic_with_retry
    def approve():
        locked = _locked(order.pk)
        _check_approver(locked, acting_user)
        if locked.status != S.AWAITING_APPROVAL:
            raise InvalidTransition(f"Order {locked.number} is not awaiting approval.",
                                    details={"status": locked.status})  # fmt: skip
        items = _items(locked)
        allocation.allocate_items(items=items, already=allocation.promised_quantities(items=items))
        _save_inventory(items)
        allocation.allocations_set_expiry(items=items, expires_at=None)
        locked.approved_at = timezone.now()
        _transition(locked, "await_payment", acting_user=acting_user, reason=reason or "Approved")
        return locked, payment_current(order=locked)

    order, payment = approve()
    if payment is None:
        raise ValidationFailed(f"Order {order.number} has no payment to authorize.")
    return _authorize_and_apply(order=order, payment=payment, acting_user=acting_user)


def order_reject(*, order: Order, acting_user=None, reason: str = "") -> Order:
    """Reject a W order: give its stock and spending-limit charges back (W → N)."""
    return _reject(order_id=order.pk, acting_user=acting_user, reason=reason)


@atomic_with_retry
def _reject(*, order_id: int, acting_user, reason: str) -> Order:
    order = _locked(order_id)
    _check_approver(order, acting_user)
    items = _items(order)
    if order.status != S.AWAITING_APPROVAL:
        raise InvalidTransition(f"Order {order.number} is not awaiting approval.", details={"status": order.status})
    # Lock order: spending-limit holders before stock rows (docs/locking.md).
    limits.spending_limits_credit(order=order, reason=reason or "Approval denied")
    allocation.deallocate_items(items=items)
    _save_inventory(items)
    _transition(order, "reject", acting_user=acting_user, reason=reason, method_kwargs={"reason": reason})
    notify("approval_rejected", order_id=order.pk, context={"reason": reason})
    return order


# Payment review by staff.


def _require_status(order: Order, status: str, action: str) -> None:
    if order.status != status:
        raise InvalidTransition(
            f"Order {order.number} cannot {action} while {order.get_status_display().lower()}.",
            details={"order": order.number, "status": order.status},
        )


def order_approve_payment(*, order: Order, acting_user=None, reason: str = "") -> Order:
    """Accept a payment held for review (A → B or C)."""
    order = Order.objects.select_related("store", "currency").get(pk=order.pk)
    if payment_lifecycle.order_payment_in_review_after_release(order=order):
        return payment_lifecycle.order_approve_payment_after_release(
            order=order, acting_user=acting_user, reason=reason
        )
    _require_status(order, S.PAYMENT_REVIEW, "approve its payment")
    payment = payment_current(order=order)
    payments.payment_approve_review(payment=payment, acting_user=acting_user, reason=reason)
    return order_apply_payment_decision(
        order_id=order.pk, decision=Decision.YES, acting_user=acting_user, reason=reason or "Payment approved"
    )


def order_decline_payment(*, order: Order, acting_user=None, reason: str = "") -> Order:
    """Decline a payment held for review: the order is cancelled (A → X)."""
    order = Order.objects.select_related("store", "currency").get(pk=order.pk)
    if payment_lifecycle.order_payment_in_review_after_release(order=order):
        return payment_lifecycle.order_decline_payment_after_release(
            order=order, acting_user=acting_user, reason=reason
        )
    _require_status(order, S.PAYMENT_REVIEW, "decline its payment")
    payment = payment_current(order=order)
    payments.payment_decline_review(payment=payment, acting_user=acting_user, reason=reason or "Declined")
    return order_apply_payment_decision(
        order_id=order.pk, decision=Decision.NO, acting_user=acting_user, reason=reason or "Payment declined"
    )


# Cancellation.


def _cancel_locked(order: Order, *, acting_user=None, actor_name: str = "", reason: str = "",
                   notification: str = "order_cancelled") -> None:  # fmt: skip
    """Cancel a locked order: stock and promises back, limits credited, items and order X, e-mails."""
    if not can_proceed(order.cancel):
        why = (
            "some items are already released to fulfillment"
            if order.status in PRE_RELEASE
            else f"it is {order.get_status_display().lower()}"
        )
        raise InvalidTransition(
            f"Order {order.number} cannot be cancelled: {why}.",
            details={"order": order.number, "status": order.status},
        )
    items = _items(order)
    # Lock order: spending-limit holders before stock rows (docs/locking.md), as placing charges them.
    limits.spending_limits_credit(order=order, reason=reason or "Order cancelled")
    allocation.deallocate_items(items=items)
    _save_inventory(items)
    _transition(order, "cancel", acting_user=acting_user, actor_name=actor_name, reason=reason,
                extra={"notification": notification}, method_kwargs={"reason": reason})  # fmt: skip
    context = {"reason": reason, "job_name": actor_name}
    notify(notification, order_id=order.pk, context=context)
    if notification != "order_cancelled":
        notify("order_cancelled", order_id=order.pk, context=context)


def _cancel_payment(order: Order, *, acting_user=None, actor_name: str = "") -> None:
    """Void or refund the payment of a cancelled order; a failure is recorded for a person to retry."""
    payment = payment_current(order=order)
    if payment is None:
        return
    try:
        payments.payment_cancel(payment=payment, reason=f"Order {order.number} cancelled")
    except PaymentError as exc:
        logger.warning("Voiding the payment of cancelled order %s failed: %s", order.number, exc)
        order_event_record(
            order=order,
            kind=OrderEvent.Kind.PAYMENT,
            message="Voiding the payment failed; retry from the payment page",
            reason=str(exc),
            acting_user=acting_user,
            actor_name=actor_name,
        )


def order_cancel(*, order: Order, acting_user=None, actor_name: str = "", reason: str = "",
                 notification: str = "order_cancelled") -> Order:  # fmt: skip
    """Cancel an order while none of its items is released; void or refund its payment."""
    order = _cancel(order_id=order.pk, acting_user=acting_user, actor_name=actor_name, reason=reason,
                    notification=notification)  # fmt: skip
    _cancel_payment(order, acting_user=acting_user, actor_name=actor_name)
    return order


@atomic_with_retry
def _cancel(*, order_id: int, acting_user, actor_name: str, reason: str, notification: str) -> Order:
    order = _locked(order_id)
    _cancel_locked(order, acting_user=acting_user, actor_name=actor_name, reason=reason, notification=notification)
    return order


# Job steps: one order each, its own transactions, safe on several workers at once. Each returns the
# outcome the job engine counts; the engine records any exception as that order's failure.


def _job_outcome():
    from commerce.jobs import JobOutcome

    return JobOutcome


def _load(order_id: int) -> Order | None:
    return Order.objects.select_related("store", "currency").filter(pk=order_id).first()


def order_release(*, order_id: int, acting_user=None, actor_name: str = "release_to_fulfillment"):
    """Release an authorized order (or the stock-allocated part of a backorder) to fulfillment.

    The release job's step; staff releasing one order now pass themselves as ``acting_user``.
    """
    from fulfillment.releases import releases_create

    outcome = _job_outcome()
    order = _load(order_id)
    if order is None or order.status not in (S.AUTHORIZED, S.BACKORDERED):
        return outcome.SKIPPED
    if order.status == S.BACKORDERED and not order.store.partial_release:
        return outcome.SKIPPED
    try:
        limits.spending_limits_check_for_release(order=order)
    except ApplicationError as exc:
        order_cancel(
            order=order,
            acting_user=acting_user,
            actor_name=actor_name,
            reason=exc.message,
            notification="order_cancelled_by_job",
        )
        return outcome.SUCCEEDED
    payment = payment_current(order=order)
    check = payment_check_authorization if order.payment_check_due else payments.payment_check_order_status
    decision = check(payment=payment, amount=order.grand_total) if payment else Decision.NO
    if decision == Decision.WORKING:
        return outcome.SKIPPED
    if decision == Decision.NO:
        order_cancel(order=order, acting_user=acting_user, actor_name=actor_name,
                     reason="The payment could no longer be authorized.",
                     notification="order_cancelled_by_job")  # fmt: skip
        return outcome.SUCCEEDED
    if decision == Decision.REVIEW:
        # B or C → A: the order waits in the payment review queue, not in this job (DESIGN section 16).
        order_apply_payment_decision(order_id=order.pk, decision=decision, acting_user=acting_user,
                                     actor_name=actor_name, reason="Reauthorization needs review")  # fmt: skip
        return outcome.SKIPPED

    @atomic_with_retry
    def release() -> tuple[Order | None, bool]:
        locked = _locked(order_id, skip_locked=True)
        if locked is None:
            return None, False
        ready = [
            item
            for item in _items(locked)
            if item.status in (S.AUTHORIZED, S.BACKORDERED) and item.inventory_status == InventoryStatus.ALLOCATED
        ]
        if locked.status not in (S.AUTHORIZED, S.BACKORDERED) or not ready:
            return locked, False
        releases = releases_create(order=locked, items=ready, acting_user=acting_user, actor_name=actor_name)
        numbers = [release.number for release in releases]
        locked.payment_check_due = False
        if can_proceed(locked.release):
            _transition(locked, "release", acting_user=acting_user, actor_name=actor_name, extra={"releases": numbers})
        else:
            order_event_record(order=locked, kind=OrderEvent.Kind.FULFILLMENT, acting_user=acting_user,
                               actor_name=actor_name, message=f"Partly released: {', '.join(numbers)}",
                               extra={"releases": numbers})  # fmt: skip
        return locked, True

    order, released = release()
    if order is None:
        return outcome.SKIPPED
    if released:
        return outcome.SUCCEEDED
    if order.status == S.CANCELLED:
        # Cancelled while its payment was being checked: an authorization made meanwhile must not hold money.
        _cancel_payment(order, acting_user=acting_user, actor_name=actor_name)
    return outcome.SKIPPED


def order_sync_payment(*, order_id: int, actor_name: str = "sync_pending_payments"):
    """Ask the gateway about a pending payment and move the order by its answer."""
    outcome = _job_outcome()
    order = _load(order_id)
    if order is None:
        return outcome.SKIPPED
    if order.status != S.PAYMENT_PENDING:
        # A capture, void or refund that timed out: finish it with the same idempotency key.
        in_flight = list(order.payments.exclude(pending_operation=""))
        for payment in in_flight:
            payments.payment_sync(payment=payment)
        return outcome.SUCCEEDED if in_flight else outcome.SKIPPED
    payment = payment_current(order=order)
    if payment is None:
        return outcome.SKIPPED
    decision = payments.payment_sync(payment=payment)
    if decision == Decision.WORKING:
        return outcome.SKIPPED
    order_apply_payment_decision(order_id=order.pk, decision=decision, actor_name=actor_name)
    return outcome.SUCCEEDED


def order_process_backorder(*, order_id: int, actor_name: str = "process_backorders"):
    """Allocate a backorder from new stock; once all of it is, reauthorize the full amount (B → C or A)."""
    outcome = _job_outcome()

    @atomic_with_retry
    def fill() -> Order | None:
        order = _locked(order_id, skip_locked=True)
        if order is None or order.status != S.BACKORDERED:
            return None
        waiting = [
            item
            for item in _items(order)
            if item.status == S.BACKORDERED
            and item.inventory_status in (InventoryStatus.BACKORDERED, InventoryStatus.NOT_ALLOCATED)
        ]
        if waiting:
            # Stock rows, then receipt lines, every one this step touches, before any is changed: giving
            # the promises back only needs the lines, but taking stock after them would invert the order.
            allocation.inventory_lock(items=waiting)
            from_stock = allocation.stock_allocated_quantities(items=waiting)
            # Receipt promises are given back and taken again under the same locks: stock covers what it
            # can now, the rest is promised against the receipts still open.
            allocation.expected_allocations_release(items=waiting)
            allocation.allocate_items(items=waiting, already=from_stock)
            _save_inventory(waiting)
        if _inventory_target(order) != "authorize":
            return None
        order_event_record(order=order, kind=OrderEvent.Kind.INVENTORY, actor_name=actor_name,
                           message="Every item is now allocated from stock")  # fmt: skip
        return order

    order = fill()
    if order is None:
        return outcome.SKIPPED
    payment = payment_current(order=order)
    # Check first: a still-valid authorization for the same amount is kept (DESIGN section 16).
    decision = payment_check_authorization(payment=payment, amount=order.grand_total) if payment else Decision.NO
    if decision == Decision.WORKING:
        return outcome.SKIPPED
    order_apply_payment_decision(order_id=order.pk, decision=decision, actor_name=actor_name,
                                 reason="Backorder filled")  # fmt: skip
    return outcome.SUCCEEDED


def order_reauthorize_payment(*, order_id: int, actor_name: str = "reauthorize_payments"):
    """Reauthorize a payment ahead of its expiry."""
    outcome = _job_outcome()
    order = _load(order_id)
    if order is None or order.is_final:
        return outcome.SKIPPED
    payment = payment_current(order=order)
    if payment is None:
        return outcome.SKIPPED
    decision = payments.payment_reauthorize(payment=payment, amount=order.grand_total)
    if decision == Decision.YES:
        order_event_record(order=order, kind=OrderEvent.Kind.PAYMENT, actor_name=actor_name,
                           message="Payment reauthorized ahead of expiry")  # fmt: skip
        return outcome.SUCCEEDED
    if decision == Decision.WORKING:
        return outcome.SKIPPED
    if order.status in (S.BACKORDERED, S.AUTHORIZED) or (decision == Decision.NO and can_proceed(order.cancel)):
        why = "declined" if decision == Decision.NO else "needs review"
        order_apply_payment_decision(order_id=order.pk, decision=decision, actor_name=actor_name,
                                     reason=f"Reauthorization {why}")  # fmt: skip
        return outcome.SUCCEEDED
    order_event_record(order=order, kind=OrderEvent.Kind.PAYMENT, actor_name=actor_name,
                       message=f"Reauthorization answered {decision}; a person must follow up")  # fmt: skip
    notify("payment_review", order_id=order.pk)
    return outcome.SUCCEEDED


def order_deposit(*, order_id: int, actor_name: str = "balance_payment"):
    """Capture the payment of a shipped order (S → D)."""
    outcome = _job_outcome()
    order = _load(order_id)
    if order is None or order.status != S.SHIPPED:
        return outcome.SKIPPED
    payment = payment_current(order=order)
    if payment is None:
        raise PaymentError(f"Order {order.number} has no payment to capture.")
    if payment.status == PaymentStatus.REVIEW or order.payment_review_declined_at is not None:
        # Waiting for staff in the payment review queue, or declined there and in the exceptions queue.
        return outcome.SKIPPED
    # Returns credited before the deposit make it smaller (DESIGN section 17).
    to_deposit = payments.payment_amount_to_deposit(payment=payment, order_amount=order.grand_total)
    if to_deposit > 0:
        payment = payments.payment_capture(
            payment=payment, amount=to_deposit, idempotency_key=f"deposit-{order.number}"
        )
    elif payment.status in ("authorized", "review"):
        payment = payments.payment_void(payment=payment)
    if payment.captured_amount < to_deposit:
        raise PaymentError(
            f"Captured {payment.captured_amount} of {to_deposit} {order.currency_id} for {order.number}."
        )

    @atomic_with_retry
    def deposit() -> bool:
        order = _locked(order_id, skip_locked=True)
        if order is None or order.status != S.SHIPPED:
            return False
        _transition(order, "deposit", actor_name=actor_name, extra={"captured": str(payment.captured_amount)})
        items = [item for item in _items(order) if can_proceed(item.deposit)]
        for item in items:
            item.deposit()
        OrderItem.objects.bulk_update(items, ["status"])
        return True

    return outcome.SUCCEEDED if deposit() else outcome.SKIPPED


def order_payment_cleanup(*, order_id: int, actor_name: str = "payment_cleanup"):
    """Cancel a payment-pending order whose payments all failed long enough ago."""
    outcome = _job_outcome()
    order = _load(order_id)
    if order is None or order.status != S.PAYMENT_PENDING:
        return outcome.SKIPPED
    if order.placed_at and order.placed_at > timezone.now() - order.store.payment_cleanup_after:
        return outcome.SKIPPED
    # M means no authorization succeeded yet; after this long the gateway's silence is a failure.
    if order.payments.filter(status__in=SUCCEEDED_PAYMENT_STATUSES).exists():
        return outcome.SKIPPED
    order_cancel(order=order, actor_name=actor_name, reason="No payment succeeded in time.",
                 notification="order_cancelled_by_job")  # fmt: skip
    return outcome.SUCCEEDED


def order_release_expired_allocations(*, order_id: int, actor_name: str = "release_expired_allocations"):
    """Give back the stock held by an unsubmitted or unapproved order past its allocation expiry."""
    from fulfillment.models import Allocation

    outcome = _job_outcome()

    @atomic_with_retry
    def expire() -> bool:
        order = _locked(order_id, skip_locked=True)
        if order is None or order.status not in (S.PENDING, S.AWAITING_APPROVAL, S.APPROVAL_DENIED):
            return False
        expired_item_ids = set(
            Allocation.objects.filter(order_item__order=order, expires_at__lt=timezone.now()).values_list(
                "order_item_id", flat=True
            )
        )
        items = [item for item in _items(order) if item.pk in expired_item_ids]
        if not items:
            return False
        released = allocation.deallocate_items(items=items)
        _save_inventory(items)
        order_event_record(order=order, kind=OrderEvent.Kind.INVENTORY, actor_name=actor_name,
                           message=f"Allocation expired: {released} allocations released",
                           extra={"items": [item.sku for item in items]})  # fmt: skip
        return True

    return outcome.SUCCEEDED if expire() else outcome.SKIPPED
