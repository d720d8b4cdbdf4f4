"""Placing and submitting an order, and moving it by its payment's answer."""

from collections.abc import Sequence

from django.db import IntegrityError
from django.utils import timezone
from django_fsm import ConcurrentTransition, can_proceed

from commerce.currency import convert
from commerce.errors import ApplicationError, IdempotencyKeyReused, InvalidTransition, ValidationFailed
from commerce.models import Currency, ShipMode, Store, ship_to_copy
from commerce.money import quantize_money
from commerce.notifications import notify
from commerce.retry import atomic_with_retry
from commerce.stores import default_store
from fulfillment.inventory_systems import inventory_system_for
from orders.events import actor_fields, order_events_record_bulk
from orders.models import Order, OrderEvent, OrderItem
from orders.promotions import promotion_apply
from orders.services.cancellation import _cancel_locked, _cancel_payment
from orders.services.common import (
    S,
    _cache_items,
    _fulfill_without_shipment,
    _inventory_target,
    _items,
    _locked,
    _save_inventory,
    _transition,
)
from orders.services.inputs import PlacementInput
from orders.totals import apply_totals
from payments import services as payments
from payments.errors import PaymentDeclined
from payments.models import Payment
from payments.payment_systems import payment_system_for
from payments.policies import PaymentDecision as Decision
from spending_limits import services as limits
from spending_limits.approvals import order_requires_approval

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
        purchase_order_number=data.purchase_order_number,
        shipping_note=data.shipping_note,
        placed_by=data.placed_by,
        idempotency_key=data.idempotency_key,
        request_fingerprint=data.fingerprint,
    )
    ship_to_copy(source=address, target=order)
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
    store = data.store or default_store()
    # A retry with the same idempotency key is found by its order's insert failing (the key is unique per
    # customer), so a first request spends no statement on looking for it; the order's own insert is the
    # first statement of the placement, before any stock is touched.
    try:
        _validate_placement(data, store)
        order, payment = _place_new(data=data, store=store, acting_user=acting_user)
    except (IntegrityError, ApplicationError):
        replay = _replay(data)  # also when the request no longer holds (say, its coupon has expired since)
        if replay is None:
            raise
        return replay, False
    if order.status != S.PAYMENT_PENDING:
        return order, True  # waiting for approval (W), or for a payment rule's later event (I, B)
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


def _submit(
    *,
    order: Order,
    items: list[OrderItem],
    payment_method: str,
    payment_token: str,
    acting_user=None,
    new: bool = False,
):
    """Charge spending limits, allocate, then wait for approval (W) or ask for payment (M).

    Runs in the caller's transaction. A new order is written here, already submitted (its
    transition is made in memory first), with as few statements as the rows need: when no
    spending limit applies, stock is locked and planned before the items are inserted.
    """
    charges_limits = _charges_limits(order, items)
    needs_approval = order_requires_approval(order=order)
    inventory = inventory_system_for(order.store)
    # Under a payment rule that approves later, the order waits unpaid (I, or B) instead of asking now.
    pays_later = not payment_system_for(order.store).approves_at_submit(store=order.store, method=payment_method)
    from_status = order.status
    if needs_approval:
        order.submit_for_approval()
        expires_at = timezone.now() + order.store.allocation_good_for
    else:
        if not pays_later:
            order.await_payment()
        expires_at = None
    for item in items:
        item.follow_order(order.status)
    order.save()
    _cache_items(order, items)

    if new and not charges_limits:
        plan = inventory.allocate(items=items, expires_at=expires_at, defer_writes=True)
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
        plan = inventory.allocate(items=items, expires_at=expires_at)
        _save_inventory(items)
    if pays_later and not needs_approval:
        _submit_unpaid(order, items)

    events = []
    if new:
        events.append(
            OrderEvent(
                order=order,
                kind=OrderEvent.Kind.NOTE,
                message=_created_message(order),
                extra={"items": len(items), "grand_total": str(order.grand_total), **_placement_extra(order)},
                **actor_fields(acting_user),
            )
        )
    events.append(
        OrderEvent(
            order=order,
            from_status=from_status,
            to_status=order.status,
            reason="Approval required" if needs_approval else "",
            extra={"backordered": len(plan.backordered_items)},
            **actor_fields(acting_user),
        )
    )
    # The payment's own note joins the order's events: one INSERT for all of them.
    notes = []
    payment = payments.payment_create(
        order=order,
        method=payment_method,
        token=payment_token,
        amount=order.grand_total,
        new_order=new,
        begin_authorization=not (needs_approval or pays_later),
        notes=notes if new else None,
    )
    events.extend(_payment_events(order, notes))
    order_events_record_bulk(events)
    if needs_approval:
        notify("approval_requested", order_id=order.pk)
        notify("order_received", order_id=order.pk)
    return payment


def _submit_unpaid(order: Order, items: list[OrderItem]) -> None:
    """P or W → I when every item is allocated, else → B: the payment waits for a later event."""
    order.submit_unpaid() if _inventory_target(order) == "authorize" else order.backorder()
    order.save()
    for item in items:
        item.follow_order(order.status)
    OrderItem.objects.bulk_update(items, ["status"])


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
        return locked, _submit(
            order=locked,
            items=items,
            payment_method=payment_method,
            payment_token=payment_token,
            acting_user=acting_user,
        )

    order, payment = submit()
    if order.status != S.PAYMENT_PENDING:
        return order
    return _authorize_and_apply(order=order, payment=payment, acting_user=acting_user)


def _authorize_and_apply(
    *, order: Order, payment, acting_user=None, actor_name: str = "", placed: bool = False
) -> Order:
    """Ask the gateway (no lock held), then move the order on by the answer; a decline raises.

    ``placed``: the order, its items and its payment in memory are the ones this request just wrote,
    so the answer is recorded and the order moved in one transaction without reading them again.
    """
    answer = payments.payment_authorization_ask(payment=payment) if placed else None
    if answer is None:
        decision = payments.payment_send_authorization(payment=payment)
    else:
        decision = answer.decision
        moved = None
        if decision in PLACED_TARGETS:
            moved = _record_and_move_placed(order=order, payment=payment, answer=answer, acting_user=acting_user,
                                            actor_name=actor_name)  # fmt: skip
        if moved is not None:
            return moved
        decision = payments.payment_authorization_record(payment=payment, answer=answer)
    order = order_apply_payment_decision(
        order_id=order.pk, decision=decision, acting_user=acting_user, actor_name=actor_name
    )
    if decision == Decision.NO:
        raise PaymentDeclined("The payment was declined.", details={"order": order.number, "status": order.status})
    return order


PAYMENTS_ACTOR = "payments"  # the actor of the events the payments app reports
PLACED_TARGETS = {Decision.YES: "Payment authorized", Decision.REVIEW: "Payment review"}


class _PaymentMoved(Exception):
    """The payment was no longer as placing wrote it: the order's move is rolled back."""


def _record_and_move_placed(*, order: Order, payment, answer, acting_user, actor_name: str) -> Order | None:
    """Record a just-placed order's first authorization and move the order (M) by it, in one transaction.

    Five statements: the order, its items and its payment each take one UPDATE carrying the status it
    expects (the row locks in the lock order, order then items then payment), the gateway's answer is
    logged, and the payment's note and the order's status change are one INSERT. None, having written
    nothing, when the order or its payment changed meanwhile: the general path reads them afresh.
    """
    try:
        return _record_and_move(order=order, payment=payment, answer=answer, acting_user=acting_user,
                                actor_name=actor_name)  # fmt: skip
    except _PaymentMoved:
        return None


@atomic_with_retry
def _record_and_move(*, order: Order, payment, answer, acting_user, actor_name: str) -> Order | None:
    from_status = order.status
    if from_status != S.PAYMENT_PENDING:
        return None
    decision = answer.decision
    if decision == Decision.YES and inventory_system_for(order.store).fulfilled_without_shipment:
        return None  # authorized and fulfilled at once: the full path (``_apply_decision``) does both
    method = _inventory_target(order) if decision == Decision.YES else PAYMENT_TARGETS[decision]
    target = _target_of(method)
    now = timezone.now()
    if not Order.objects.filter(pk=order.pk, status=from_status).update(status=target, updated_at=now):
        return None
    items = _items(order)
    moved = OrderItem.objects.filter(order_id=order.pk, status=from_status).update(status=target)
    if moved != len(items):
        raise ConcurrentTransition(f"{len(items) - moved} items of order {order.number} changed under its lock.")
    notes = []
    if payments.payment_authorization_record_first(payment=payment, answer=answer, notes=notes) is None:
        raise _PaymentMoved
    events = _payment_events(order, notes)
    events.append(
        OrderEvent(order=order, from_status=from_status, to_status=target, reason=PLACED_TARGETS[decision],
                   **actor_fields(acting_user, actor_name))
    )  # fmt: skip
    order_events_record_bulk(events)
    # Every row is written: the copies in memory follow.
    getattr(order, method)()
    order.updated_at = now
    for item in items:
        item.follow_order(order.status)
    for instance in (order, *items):
        instance._update_initial_state()
    _notify_status(order, from_status)
    return order


def _payment_events(order: Order, notes) -> list[OrderEvent]:
    """The order's events for the payments app's notes (actor ``payments``), to be written with the order's own."""
    return [
        OrderEvent(order=order, kind=OrderEvent.Kind.PAYMENT, message=note.message[:255], reason=note.reason,
                   extra=note.extra, **actor_fields(None, PAYMENTS_ACTOR))
        for note in notes
    ]  # fmt: skip


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
    order = _apply_decision(
        order_id=order_id, decision=decision, acting_user=acting_user, actor_name=actor_name, reason=reason
    )
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
        _cancel_locked(
            order,
            acting_user=acting_user,
            actor_name=actor_name,
            reason=reason or "Payment declined",
            notification="payment_declined",
        )
    elif decision == Decision.YES:
        _transition(
            order,
            _inventory_target(order),
            acting_user=acting_user,
            actor_name=actor_name,
            reason=reason or "Payment authorized",
        )
        if order.status == S.AUTHORIZED and inventory_system_for(order.store).fulfilled_without_shipment:
            _fulfill_without_shipment(order, acting_user=acting_user, actor_name=actor_name)
    elif decision == Decision.WORKING and order.status == S.PAYMENT_PENDING:
        pass
    else:
        _transition(
            order,
            PAYMENT_TARGETS[decision],
            acting_user=acting_user,
            actor_name=actor_name,
            reason=reason or f"Payment {decision.lower()}",
        )
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
