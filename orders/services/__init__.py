"""Order flow services: place, submit, approve, reject, payment decisions, cancel, and the job steps.

Every state change follows one shape: lock the order row (and its items) in a transaction, check the
transition, apply it, write the event, defer e-mails with ``on_commit``. Gateway calls (through the
payments services) always happen between transactions, never under a lock. Each transaction takes its
locks in the product's one order (docs/locking.md: order, its own rows and payments, spending-limit
holders, stock rows, receipt lines) and is a unit of work ``atomic_with_retry`` runs again after a deadlock.

One module per concern: ``placement`` (placing, submitting, payment decisions), ``approval`` (approvers
and payment review), ``cancellation``, ``job_steps`` (one order of a scheduled job); ``common`` holds the
locking and transition helpers they share. Callers import from ``orders.services``.
"""

from orders.services.approval import order_approve, order_approve_payment, order_decline_payment, order_reject
from orders.services.cancellation import order_cancel
from orders.services.common import SUCCEEDED_PAYMENT_STATUSES
from orders.services.inputs import AddressInput, ItemInput, PlacementInput, request_fingerprint
from orders.services.job_steps import (
    order_deposit,
    order_payment_cleanup,
    order_process_backorder,
    order_reauthorize_payment,
    order_release,
    order_release_expired_allocations,
    order_sync_payment,
)
from orders.services.placement import PAYMENT_TARGETS, order_apply_payment_decision, order_place, order_submit
from orders.services.shipment import order_record_shipment

__all__ = [
    "PAYMENT_TARGETS",
    "SUCCEEDED_PAYMENT_STATUSES",
    "AddressInput",
    "ItemInput",
    "PlacementInput",
    "order_apply_payment_decision",
    "order_approve",
    "order_approve_payment",
    "order_cancel",
    "order_decline_payment",
    "order_deposit",
    "order_payment_cleanup",
    "order_place",
    "order_process_backorder",
    "order_reauthorize_payment",
    "order_record_shipment",
    "order_reject",
    "order_release",
    "order_release_expired_allocations",
    "order_submit",
    "order_sync_payment",
    "request_fingerprint",
]
