"""Order steps of the flow variants (DESIGN section 18) that the first wave's flow has no place for.

- The payment rules' *reserve* event (``order_reserve_decision``, asked by the release step for an I
  order) and *finalize* event (``order_finalize_payment``: deposit what is shipped and not yet deposited,
  after each shipment and by the ``process_depositable_amount`` job), and ``order_close`` (S → D once the
  shipped order is deposited in full).
- Non-ATP shipping without pick batches: packages made for the order itself
  (``order_packages_create``, then confirm shipment) or a shipment reported by an external fulfillment
  system (``order_shipment_report``), both → S.

The store's inventory and payment systems decide; nothing here asks for a store's name.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django_fsm import can_proceed

from commerce.errors import InvalidTransition, ValidationFailed
from commerce.money import quantize_money
from fulfillment.inventory_systems import inventory_system_for
from orders.events import order_event_record
from orders.models import InventoryStatus, Order, OrderEvent, OrderItem, OrderStatus
from payments import services as payments
from payments.errors import PaymentError
from payments.models import PaymentStatus
from payments.payment_systems import APPROVE, payment_system_for
from payments.policies import PaymentDecision as Decision
from payments.policies import decision_for_status
from payments.selectors import payment_current

logger = logging.getLogger(__name__)

S = OrderStatus
ZERO = Decimal("0")


def _job_outcome():
    from commerce.jobs import JobOutcome

    return JobOutcome


def _load(order_id: int) -> Order | None:
    return Order.objects.select_related("store", "currency").filter(pk=order_id).first()


# The payment rules' events.


def order_reserve_decision(*, order: Order, payment) -> str:
    """The reserve event of a submitted (I) order: approve now under its rule, or nothing to approve."""
    if payment is None:
        return Decision.NO
    rule = payment_system_for(order.store).rule(store=order.store, method=payment.method)
    if rule.reserve != APPROVE:
        return Decision.YES
    if payment.status != PaymentStatus.NEW:
        return decision_for_status(payment.status)  # asked already: its answer stands
    return payments.payment_authorize(payment=payment)


def order_shipped_amount(*, order: Order) -> Decimal:
    """The purchase amount of what has shipped: pro rata by quantity per item, the whole order once all is."""
    items = list(order.items.exclude(status=S.CANCELLED))
    if items and all(item.quantity_shipped == item.quantity for item in items):
        return order.grand_total
    shipped = sum((item.purchase_amount * item.quantity_shipped / item.quantity for item in items), ZERO)
    return quantize_money(shipped, order.currency)


def _depositable(order: Order, payment) -> Decimal:
    target = payments.payment_amount_to_deposit(payment=payment, order_amount=order_shipped_amount(order=order))
    return max(target - payment.captured_amount, ZERO)


def order_finalize_payment(*, order_id: int, actor_name: str = "process_depositable_amount"):
    """Deposit what is shipped and not yet deposited (the finalize event of payment rules)."""
    outcome = _job_outcome()
    order = _load(order_id)
    if order is None or order.status not in (S.RELEASED, S.SHIPPED):
        return outcome.SKIPPED
    if not payment_system_for(order.store).deposits_per_release:
        return outcome.SKIPPED
    payment = payment_current(order=order)
    if payment is None or payment.status == PaymentStatus.REVIEW or payment.pending_operation:
        return outcome.SKIPPED
    amount = _depositable(order, payment)
    if amount <= 0:
        return outcome.SKIPPED
    if payment.status == PaymentStatus.NEW:
        # deposit_only: nothing was approved before; the deposit asks for the money now.
        decision = payments.payment_authorize(payment=payment)
        if decision != Decision.YES:
            raise PaymentError(f"The deposit of order {order.number} was not approved ({decision}).")
        payment = payment_current(order=order)
    payment = payments.payment_capture(
        payment=payment, amount=amount, idempotency_key=f"deposit-{order.number}-{payment.captured_amount + amount}"
    )
    order_event_record(
        order=order,
        kind=OrderEvent.Kind.PAYMENT,
        actor_name=actor_name,
        message=f"Deposited {amount} {order.currency_id} of the shipped goods",
        extra={"deposited": str(amount), "captured": str(payment.captured_amount)},
    )
    return outcome.SUCCEEDED


def _finalize_after_commit(order_id: int) -> None:
    try:
        order_finalize_payment(order_id=order_id, actor_name="finalize")
    except Exception:
        logger.exception("Deposit after the shipment of order %s failed; the job will retry it", order_id)


def order_finalize_payment_on_commit(*, order_id: int) -> None:
    """Deposit the shipped goods once the shipment commits (no lock is held during the gateway call)."""
    transaction.on_commit(lambda: _finalize_after_commit(order_id))


def order_close(*, order_id: int, actor_name: str = "order_close"):
    """S → D for a shipped order of a payment-rules store once what is to deposit is deposited."""
    from orders.services.common import _items, _locked, _transition

    outcome = _job_outcome()
    order = _load(order_id)
    if order is None or order.status != S.SHIPPED or not payment_system_for(order.store).deposits_per_release:
        return outcome.SKIPPED
    payment = payment_current(order=order)
    if payment is None or payment.pending_operation or _depositable(order, payment) > 0:
        return outcome.SKIPPED
    with transaction.atomic():
        order = _locked(order_id, skip_locked=True)
        if order is None or order.status != S.SHIPPED:
            return outcome.SKIPPED
        _transition(order, "deposit", actor_name=actor_name, extra={"captured": str(payment.captured_amount)})
        items = [item for item in _items(order) if can_proceed(item.deposit)]
        for item in items:
            item.deposit()
        OrderItem.objects.bulk_update(items, ["status"])
    return outcome.SUCCEEDED


def on_release_shipped(sender, *, order_id: int, **kwargs) -> None:
    """Receiver of ``fulfillment.signals.release_shipped``: the finalize event of payment rules."""
    order = Order.objects.select_related("store").only("store__payment_system").filter(pk=order_id).first()
    if order is not None and payment_system_for(order.store).deposits_per_release:
        order_finalize_payment_on_commit(order_id=order_id)


# Non-ATP shipping without pick batches.


def _release_for_shipping(order: Order, *, acting_user=None) -> tuple[Order, list]:
    """Lock a non-ATP order and release what is allocated and not yet released (C → R); its open releases."""
    from fulfillment.models import Release
    from orders.services.common import _items, _locked, _release_items, _transition

    order = _locked(order.pk)
    inventory = inventory_system_for(order.store)
    if not inventory.ships_without_pick_batch:
        raise InvalidTransition(
            f"Order {order.number} ships through pick batches: pack its releases instead.",
            details={"order": order.number, "inventory_system": order.store.inventory_system},
        )
    if order.status not in (S.AUTHORIZED, S.SUBMITTED, S.RELEASED):
        raise InvalidTransition(
            f"Order {order.number} cannot ship while {order.get_status_display().lower()}.",
            details={"order": order.number, "status": order.status},
        )
    ready = [
        item
        for item in _items(order)
        if item.status in (S.AUTHORIZED, S.SUBMITTED) and item.inventory_status == InventoryStatus.ALLOCATED
    ]
    if ready:
        releases = inventory.release(order=order, items=ready, acting_user=acting_user)
        _release_items(ready)
        _transition(
            order,
            "release",
            acting_user=acting_user,
            reason="Shipping from the order",
            extra={"releases": [release.number for release in releases]},
        )
    return order, list(Release.objects.filter(order=order, status=Release.Status.READY).order_by("pk"))


def _reserve_before_shipping(order: Order, *, acting_user=None) -> None:
    """The reserve event of a submitted (I) order shipped from the order: approve first, outside any lock."""
    from orders.services import order_cancel

    order = _load(order.pk)
    if order is None or order.status != S.SUBMITTED:
        return
    decision = order_reserve_decision(order=order, payment=payment_current(order=order))
    if decision == Decision.NO:
        order_cancel(
            order=order,
            acting_user=acting_user,
            reason="The payment was declined at reservation.",
            notification="order_cancelled_by_job",
        )
        raise InvalidTransition(
            f"Order {order.number} was cancelled: its payment was declined at reservation.",
            details={"order": order.number, "status": S.CANCELLED},
        )
    if decision != Decision.YES:
        raise InvalidTransition(
            f"Order {order.number} waits for its payment's approval ({decision.lower()}); ship it afterwards.",
            details={"order": order.number, "decision": str(decision)},
        )


def _by_release(releases: list, items: list[tuple[OrderItem | int, int]] | None) -> dict:
    """Split the wanted (item, quantity) pairs by the release holding each item; None: all of each."""
    from fulfillment.models import ReleaseItem

    if items is None:
        return dict.fromkeys(releases)
    holder = dict(ReleaseItem.objects.filter(release__in=releases).values_list("order_item_id", "release_id"))
    by_id = {release.pk: release for release in releases}
    split: dict = {}
    for item, quantity in items:
        item_id = getattr(item, "pk", item)
        if item_id not in holder:
            raise ValidationFailed(
                f"items: order item {item_id} has nothing left to ship.", details={"items": [{"order_item": item_id}]}
            )
        split.setdefault(by_id[holder[item_id]], []).append((item_id, quantity))
    return split


def order_packages_create(
    *,
    order: Order,
    carrier: str,
    tracking_number: str,
    items: list[tuple[OrderItem | int, int]] | None = None,
    weight=None,
    acting_user=None,
) -> list:
    """Pack a non-ATP order for shipment without a pick batch: one package per center; confirm each after."""
    from fulfillment.shipping import package_create

    _reserve_before_shipping(order, acting_user=acting_user)
    with transaction.atomic():
        order, releases = _release_for_shipping(order, acting_user=acting_user)
        if not releases:
            raise InvalidTransition(f"Order {order.number} has nothing left to pack.", details={"order": order.number})
        return [
            package_create(
                release=release,
                items=wanted,
                carrier=carrier,
                tracking_number=tracking_number,
                weight=weight,
                acting_user=acting_user,
            )
            for release, wanted in _by_release(releases, items).items()
        ]


def order_shipment_report(
    *,
    order: Order,
    carrier: str,
    tracking_number: str,
    items: list[tuple[OrderItem | int, int]] | None = None,
    acting_user=None,
) -> Order:
    """An external fulfillment system shipped (part of) a non-ATP order: pack and confirm in one go."""
    from fulfillment.shipping import package_confirm_shipment

    _reserve_before_shipping(order, acting_user=acting_user)
    with transaction.atomic():
        packages = order_packages_create(
            order=order, carrier=carrier, tracking_number=tracking_number, items=items, acting_user=acting_user
        )
        for package in packages:
            package_confirm_shipment(package=package, acting_user=acting_user)
    return Order.objects.select_related("store", "currency").get(pk=order.pk)


def orders_submitted_too_long(*, now) -> Q:
    """The filter of I orders waiting longer than their store's ``submitted_alert_after``."""
    from django.db.models import DateTimeField, ExpressionWrapper, F, Value

    limit = ExpressionWrapper(
        Value(now, output_field=DateTimeField()) - F("store__submitted_alert_after"), output_field=DateTimeField()
    )
    return Q(status=S.SUBMITTED, placed_at__lt=limit)
