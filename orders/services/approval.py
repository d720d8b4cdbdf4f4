"""Approval by the buyer organization's approvers (or staff), and payment review by staff."""

from django.utils import timezone

from commerce.errors import InvalidTransition, PermissionDenied, ValidationFailed
from commerce.notifications import notify
from commerce.retry import atomic_with_retry
from fulfillment.inventory_systems import inventory_system_for
from orders import payment_lifecycle
from orders.models import Order
from orders.services.common import S, _inventory_target, _items, _locked, _save_inventory, _transition
from orders.services.placement import _authorize_and_apply, order_apply_payment_decision
from payments import services as payments
from payments.payment_systems import payment_system_for
from payments.policies import PaymentDecision as Decision
from payments.selectors import payment_current
from spending_limits import services as limits
from spending_limits.approvals import user_can_approve

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
            raise InvalidTransition(
                f"Order {locked.number} is not awaiting approval.", details={"status": locked.status}
            )
        items = _items(locked)
        inventory_system_for(locked.store).reallocate(items=items)
        _save_inventory(items)
        locked.approved_at = timezone.now()
        payment = payment_current(order=locked)
        if payment is not None and not payment_system_for(locked.store).approves_at_submit(
            store=locked.store, method=payment.method
        ):
            target = "submit_unpaid" if _inventory_target(locked) == "authorize" else "backorder"
            _transition(locked, target, acting_user=acting_user, reason=reason or "Approved")
            return locked, None
        _transition(locked, "await_payment", acting_user=acting_user, reason=reason or "Approved")
        return locked, payment

    order, payment = approve()
    if order.status != S.PAYMENT_PENDING:
        return order  # a payment rule approving later: the order waits unpaid (I or B)
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
    inventory_system_for(order.store).deallocate(items=items)
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
