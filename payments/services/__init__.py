"""Payment services: every write of the payments app and every gateway call.

A gateway call has one shape: lock the payment and mark what is about to be sent (the ``pending``
status for an authorization, ``pending_operation`` for a capture, void or refund), commit; call
the gateway outside any transaction with an idempotency key; lock again and record the answer.
A crash or a timeout in between leaves the mark, and ``payment_sync`` or a retry with the same key
finishes the call: the gateway answers a repeated key with its first answer, so nothing is
charged twice and nothing is lost.

Services that call a gateway refuse to run inside a transaction (``GatewayCallInTransaction``);
``payment_create`` and ``payment_approve_review`` only write and may join the caller's. Services
work on the row, not on the instance passed in: those returning a payment return a fresh one, and
after the others, reload the payment to see its new state. (They never ``refresh_from_db`` it:
django-fsm toggles the protected status field class-wide while refreshing, a race between threads.)

Captures are final: one capture per authorization, of its full amount unless a smaller one is
asked for, after which the rest of the authorization is released. A partial refund leaves the
payment ``partially_refunded``; refunding what is left makes it ``refunded``.

One module per concern: ``authorization`` (creating, authorizing, review), ``reconciliation`` (sync,
status checks, reauthorization), ``operations`` (capture, void, refund, cancel); ``gateway_calls`` sends a
call and records its answer, ``common`` holds what they share; ``batch_capture`` captures the deposits of
many payments a chunk at a time. Callers import from ``payments.services``.
"""

from payments.services.authorization import (
    AuthorizationAnswer,
    payment_approve_review,
    payment_authorization_ask,
    payment_authorization_record,
    payment_authorization_record_first,
    payment_authorize,
    payment_create,
    payment_decline_review,
    payment_send_authorization,
)
from payments.services.common import HOLDING_STATUSES, REAUTHORIZABLE_STATUSES, UNANSWERED
from payments.services.operations import payment_cancel, payment_capture, payment_refund, payment_void
from payments.services.reconciliation import payment_check_order_status, payment_reauthorize, payment_sync

__all__ = [
    "HOLDING_STATUSES",
    "REAUTHORIZABLE_STATUSES",
    "UNANSWERED",
    "AuthorizationAnswer",
    "payment_approve_review",
    "payment_authorization_ask",
    "payment_authorization_record",
    "payment_authorization_record_first",
    "payment_authorize",
    "payment_cancel",
    "payment_capture",
    "payment_check_order_status",
    "payment_create",
    "payment_decline_review",
    "payment_reauthorize",
    "payment_refund",
    "payment_send_authorization",
    "payment_sync",
    "payment_void",
]

# Credits of returns (payments.refunds) are services of this app too. They build on the modules above,
# and importing payments.refunds loads this package first, so they are loaded on first use: a cycle
# between this package and payments.refunds otherwise.
RETURN_CREDIT_SERVICES = frozenset(
    {"payment_amount_to_deposit", "payment_reduce_deposit", "payment_refund_partial", "payment_refunded_for_key"}
)

# The chunked capture of deposits builds on payments.refunds (the amount to deposit): loaded on first use too.
BATCH_CAPTURE_SERVICES = frozenset(
    {
        "CaptureAnswer",
        "CaptureRecord",
        "DepositCapture",
        "payments_capture_mark",
        "payments_capture_record",
        "payments_capture_send",
    }
)


def __getattr__(name: str):
    if name in RETURN_CREDIT_SERVICES:
        from payments import refunds

        return getattr(refunds, name)
    if name in BATCH_CAPTURE_SERVICES:
        from payments.services import batch_capture

        return getattr(batch_capture, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
