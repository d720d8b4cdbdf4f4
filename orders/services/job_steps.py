"""The job steps: one order each, its own transactions, safe on several workers at once.

Each returns the outcome the job engine counts; the engine records any exception as that order's failure.
"""

from django.utils import timezone
from django_fsm import can_proceed

from commerce.errors import ApplicationError
from commerce.jobs import JobOutcome
from commerce.notifications import notify
from commerce.retry import atomic_with_retry
from fulfillment import allocation
from fulfillment.inventory_systems import inventory_system_for
from fulfillment.models import Allocation
from orders.events import order_event_record
from orders.models import InventoryStatus, Order, OrderEvent, OrderItem
from orders.services.cancellation import _cancel_payment, order_cancel
from orders.services.common import (
    SUCCEEDED_PAYMENT_STATUSES,
    S,
    _fulfill_without_shipment,
    _inventory_target,
    _items,
    _locked,
    _release_items,
    _save_inventory,
    _transition,
)
from orders.services.placement import order_apply_payment_decision
from payments import services as payments
from payments.authorization_check import payment_check_authorization
from payments.errors import PaymentError
from payments.models import PaymentStatus
from payments.payment_systems import payment_system_for
from payments.policies import PaymentDecision as Decision
from payments.selectors import payment_current
from spending_limits import services as limits

# Job steps: one order each, its own transactions, safe on several workers at once. Each returns the
# outcome the job engine counts; the engine records any exception as that order's failure.


def _job_outcome():
    return JobOutcome


def _load(order_id: int) -> Order | None:
    return Order.objects.select_related("store", "currency").filter(pk=order_id).first()


def order_release(*, order_id: int, acting_user=None, actor_name: str = "release_to_fulfillment"):
    """Release an authorized order (or the stock-allocated part of a backorder) to fulfillment.

    The release job's step; staff releasing one order now pass themselves as ``acting_user``.
    """
    outcome = _job_outcome()
    order = _load(order_id)
    if order is None or order.status not in (S.AUTHORIZED, S.BACKORDERED, S.SUBMITTED):
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
    if order.status == S.SUBMITTED:
        from orders.flow_variants import order_reserve_decision

        decision = order_reserve_decision(order=order, payment=payment)  # the payment rule's reserve event
    else:
        check = payment_check_authorization if order.payment_check_due else payments.payment_check_order_status
        decision = check(payment=payment, amount=order.grand_total) if payment else Decision.NO
    if decision == Decision.WORKING:
        return outcome.SKIPPED
    if decision == Decision.NO:
        order_cancel(
            order=order,
            acting_user=acting_user,
            actor_name=actor_name,
            reason="The payment could no longer be authorized.",
            notification="order_cancelled_by_job",
        )
        return outcome.SUCCEEDED
    if decision == Decision.REVIEW and order.status == S.SUBMITTED:
        order_event_record(
            order=order,
            kind=OrderEvent.Kind.PAYMENT,
            actor_name=actor_name,
            acting_user=acting_user,
            message="The reserve approval needs review; released once staff approve it",
        )
        return outcome.SKIPPED
    if decision == Decision.REVIEW:
        # B or C → A: the order waits in the payment review queue, not in this job (DESIGN section 16).
        order_apply_payment_decision(
            order_id=order.pk,
            decision=decision,
            acting_user=acting_user,
            actor_name=actor_name,
            reason="Reauthorization needs review",
        )
        return outcome.SKIPPED

    @atomic_with_retry
    def release() -> tuple[Order | None, bool]:
        locked = _locked(order_id, skip_locked=True)
        if locked is None:
            return None, False
        releasable = (S.AUTHORIZED, S.BACKORDERED, S.SUBMITTED)
        ready = [
            item
            for item in _items(locked)
            if item.status in releasable and item.inventory_status == InventoryStatus.ALLOCATED
        ]
        if locked.status not in releasable or not ready:
            return locked, False
        inventory = inventory_system_for(locked.store)
        releases = inventory.release(order=locked, items=ready, acting_user=acting_user, actor_name=actor_name)
        _release_items(ready)
        numbers = [release.number for release in releases]
        locked.payment_check_due = False
        if can_proceed(locked.release):
            _transition(locked, "release", acting_user=acting_user, actor_name=actor_name, extra={"releases": numbers})
            if inventory.fulfilled_without_shipment:
                _fulfill_without_shipment(locked, acting_user=acting_user, actor_name=actor_name)
        else:
            order_event_record(
                order=locked,
                kind=OrderEvent.Kind.FULFILLMENT,
                acting_user=acting_user,
                actor_name=actor_name,
                message=f"Partly released: {', '.join(numbers)}",
                extra={"releases": numbers},
            )
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
    def fill() -> tuple[Order, object] | None:
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
        order_event_record(
            order=order,
            kind=OrderEvent.Kind.INVENTORY,
            actor_name=actor_name,
            message="Every item is now allocated from stock",
        )
        payment = payment_current(order=order)
        if payment is not None and not payment_system_for(order.store).approves_at_submit(
            store=order.store, method=payment.method
        ):
            _transition(order, "submit_unpaid", actor_name=actor_name, reason="Backorder filled")
        return order, payment

    filled = fill()
    if filled is None:
        return outcome.SKIPPED
    order, payment = filled
    if order.status == S.SUBMITTED:
        return outcome.SUCCEEDED  # a payment rule approving later: B → I, the release approves
    # Check first: a still-valid authorization for the same amount is kept (DESIGN section 16).
    decision = payment_check_authorization(payment=payment, amount=order.grand_total) if payment else Decision.NO
    if decision == Decision.WORKING:
        return outcome.SKIPPED
    order_apply_payment_decision(order_id=order.pk, decision=decision, actor_name=actor_name, reason="Backorder filled")
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
        order_event_record(
            order=order,
            kind=OrderEvent.Kind.PAYMENT,
            actor_name=actor_name,
            message="Payment reauthorized ahead of expiry",
        )
        return outcome.SUCCEEDED
    if decision == Decision.WORKING:
        return outcome.SKIPPED
    if order.status in (S.BACKORDERED, S.AUTHORIZED) or (decision == Decision.NO and can_proceed(order.cancel)):
        why = "declined" if decision == Decision.NO else "needs review"
        order_apply_payment_decision(
            order_id=order.pk, decision=decision, actor_name=actor_name, reason=f"Reauthorization {why}"
        )
        return outcome.SUCCEEDED
    order_event_record(
        order=order,
        kind=OrderEvent.Kind.PAYMENT,
        actor_name=actor_name,
        message=f"Reauthorization answered {decision}; a person must follow up",
    )
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
    order_cancel(
        order=order,
        actor_name=actor_name,
        reason="No payment succeeded in time.",
        notification="order_cancelled_by_job",
    )
    return outcome.SUCCEEDED


def order_release_expired_allocations(*, order_id: int, actor_name: str = "release_expired_allocations"):
    """Give back the stock held by an unsubmitted or unapproved order past its allocation expiry."""
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
        order_event_record(
            order=order,
            kind=OrderEvent.Kind.INVENTORY,
            actor_name=actor_name,
            message=f"Allocation expired: {released} allocations released",
            extra={"items": [item.sku for item in items]},
        )
        return True

    return outcome.SUCCEEDED if expire() else outcome.SKIPPED
