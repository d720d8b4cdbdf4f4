"""The transitions staff trigger by hand on the order page and the order list: who may, when, which service."""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django_fsm import can_proceed

from commerce.errors import ApplicationError
from commerce.jobs import JobOutcome
from fulfillment.inventory_systems import inventory_system_for
from orders import payment_lifecycle, services
from orders.models import Order, OrderStatus

S = OrderStatus


REASON_NONE = "none"
REASON_OPTIONAL = "optional"
REASON_REQUIRED = "required"


# The transitions staff trigger by hand: who may, when, and which service does it.


class OrderNotReleased(ApplicationError):
    code = "not_released"
    status_code = 409


def _release_now(*, order: Order, acting_user, reason: str = "") -> None:
    """Run the release job's step for one order now, as the user."""
    outcome = services.order_release(order_id=order.pk, acting_user=acting_user, actor_name="")
    if outcome == JobOutcome.SKIPPED:
        raise OrderNotReleased(
            f"Order {order.number} was not released: no item is allocated from stock yet, or the payment check "
            f"is still waiting for the gateway."
        )


def _payment_reviewable(order: Order) -> bool:
    """In payment review (A), or released or shipped with a reauthorization waiting for review."""
    return order.status == S.PAYMENT_REVIEW or payment_lifecycle.order_payment_in_review_after_release(order=order)


def _releasable(order: Order) -> bool:
    if not inventory_system_for(order.store).uses_release_job:
        return False  # shipped from the order itself (the shipping form)
    return order.status in (S.AUTHORIZED, S.SUBMITTED) or (
        order.status == S.BACKORDERED and order.store.partial_release
    )


@dataclass(frozen=True)
class OrderAction:
    name: str
    label: str
    verb: str
    permission: str  # a codename of the orders app
    is_available: Callable[[Order], bool]
    perform: Callable[..., object]  # (*, order, acting_user, reason)
    reason: str = REASON_NONE
    danger: bool = False
    explanation: str = ""

    @property
    def perm(self) -> str:
        return f"orders.{self.permission}"


ORDER_ACTIONS: dict[str, OrderAction] = {
    action.name: action
    for action in [
        OrderAction(
            "approve",
            "Approve order",
            "Approved",
            "approve_order",
            lambda order: order.status == S.AWAITING_APPROVAL,
            services.order_approve,
            REASON_OPTIONAL,
            explanation="Stock that expired meanwhile is allocated again, then the payment is authorized.",
        ),
        OrderAction(
            "reject",
            "Reject order",
            "Rejected",
            "approve_order",
            lambda order: can_proceed(order.reject),
            services.order_reject,
            REASON_REQUIRED,
            danger=True,
            explanation="The stock and the spending-limit charges are given back; the buyer is told why.",
        ),
        OrderAction(
            "approve_payment",
            "Approve payment",
            "Approved the payment of",
            "review_payment",
            _payment_reviewable,
            services.order_approve_payment,
            REASON_OPTIONAL,
            explanation="The payment held for review is accepted; the order goes on to authorized or backordered "
            "(a released or shipped order keeps its status and is deposited by the next run).",
        ),
        OrderAction(
            "decline_payment",
            "Decline payment",
            "Declined the payment of",
            "review_payment",
            _payment_reviewable,
            services.order_decline_payment,
            REASON_REQUIRED,
            danger=True,
            explanation="The order is cancelled, its stock and limits given back, the buyer told "
            "(a released or shipped order goes to the exceptions queue instead).",
        ),
        OrderAction(
            "fulfillment_failed",
            "Fulfillment failed",
            "Took back from fulfillment",
            "release_order",
            lambda order: order.status == S.RELEASED,
            payment_lifecycle.order_fulfillment_failed,
            REASON_REQUIRED,
            danger=True,
            explanation="The open releases are cancelled and the order is authorized again; the next "
            "release checks the payment at the gateway first.",
        ),
        OrderAction(
            "release",
            "Release now",
            "Released",
            "release_order",
            _releasable,
            _release_now,
            explanation="The payment is checked and the allocated items are released to their fulfillment centers.",
        ),
        OrderAction(
            "cancel",
            "Cancel order",
            "Cancelled",
            "cancel_order",
            lambda order: can_proceed(order.cancel),
            services.order_cancel,
            REASON_REQUIRED,
            danger=True,
            explanation="Stock, spending limits and the payment authorization are given back; the buyer is told.",
        ),
    ]
}


class ReasonForm(forms.Form):
    reason = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), help_text="Recorded on the order."
    )

    def __init__(self, *args, action: OrderAction, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = action.reason == REASON_REQUIRED
