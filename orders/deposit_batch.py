"""The set-based path of ``balance_payment``: the deposits (S → D) of a chunk of shipped orders together.

The per-order step (``orders.services.order_deposit``) spends some nineteen statements on an order, four
of them the gateway's: it loads the order and its payment, marks the capture in flight, calls the
gateway, records the answer (payment, its log, its event), then locks the order and its items and moves
them with their event. Each order needs its own gateway call, outside any transaction, so a chunk cannot
be one transaction end to end; it takes three steps instead, each one statement per table:

1. **Check and mark** (``payments_capture_mark``): one query picks the orders of the chunk the per-order
   step would simply capture: shipped (S), not declined in payment review, with a current payment
   authorized and nothing in flight. One transaction locks their payments (``SKIP LOCKED``) and marks
   each capture in flight with the per-order step's key (``deposit-<number>``) before any call.
2. **Call the gateway** per payment, no transaction open, no lock held.
3. **Record and move** (one ``atomic_with_retry`` transaction): lock the orders still shipped (level 1,
   ``SKIP LOCKED``), then the payments (level 2): docs/locking.md. Record every answer (an UPDATE of
   payments per kind of change, one INSERT of their log), move the orders and their items to D (one UPDATE each)
   and write the payments' and the orders' events in one INSERT, with their status-change webhooks.

An order whose capture the gateway refused, failed or left unanswered is answered with the error the
per-order step raises for it (its answer recorded as alone: a timeout stays in flight for a retry or
``payment_sync``), so the run counts and records it as it would alone. Every other order not settled
here goes through the per-order step: one the check left out, one whose payment another worker held,
one another worker holds at step 3. When step 3 fails it rolls back whole and ``commerce.jobs`` runs the
per-order step for the whole chunk: the captures stay marked, each is sent again with its key (the
gateway repeats its first answer) and recorded once. The rows written are the per-order step's:
statuses, captured amounts, log rows, events.
"""

from collections.abc import Sequence
from decimal import Decimal

from django.utils import timezone

from commerce.jobs import JobOutcome
from commerce.retry import atomic_with_retry
from orders.events import actor_fields, order_events_record_bulk
from orders.models import Order, OrderEvent, OrderItem, OrderStatus
from payments import services as payments
from payments.gateways.base import Outcome
from payments.services.common import ACTOR as PAYMENTS_ACTOR  # the actor of the payments app's events

S = OrderStatus
PAYMENT_AUTHORIZED = "authorized"
# payment id -> (order id, order number, store id, grand total)
Candidates = dict[int, tuple[int, str, int, Decimal]]


def _depositable(order_ids: list[int]) -> Candidates:
    """The chunk's orders whose deposit is a plain capture, by their current payment's id."""
    from payments.models import Payment  # the payments app is a peer whose models load after ours

    rows = (
        Payment.objects.filter(
            order_id__in=order_ids,
            is_current=True,
            status=PAYMENT_AUTHORIZED,
            pending_operation="",
            order__status=S.SHIPPED,
            order__payment_review_declined_at__isnull=True,
        )
        .order_by("order_id")
        .values_list("pk", "order_id", "order__number", "order__store_id", "order__grand_total")
    )
    return {payment_id: (order_id, number, store_id, total) for payment_id, order_id, number, store_id, total in rows}


def orders_deposit_chunk(
    *, order_ids: list[int], actor_name: str = "balance_payment"
) -> dict[int, JobOutcome | Exception]:
    """Capture and deposit the orders of a chunk whose deposit is a plain capture; answer each one's outcome.

    An order answered with an exception failed with it; orders missing from the answer are for the
    per-order step. Raises when a step's transaction fails; the caller then runs the per-order step for
    the whole chunk.
    """
    candidates = _depositable(order_ids)
    if not candidates:
        return {}
    marked = payments.payments_capture_mark(
        deposits=[
            payments.DepositCapture(payment_id=payment_id, order_amount=total, idempotency_key=f"deposit-{number}")
            for payment_id, (_, number, _, total) in candidates.items()
        ]
    )
    if not marked:
        return {}
    answers = payments.payments_capture_send(payments=marked)
    return _record_and_deposit(answers, candidates, actor_name)


@atomic_with_retry
def _record_and_deposit(
    answers: Sequence, candidates: Candidates, actor_name: str
) -> dict[int, JobOutcome | Exception]:
    order_of = {answer.payment.pk: candidates[answer.payment.pk][0] for answer in answers}
    confirmed = [answer.payment.pk for answer in answers if answer.result.outcome == Outcome.SUCCESS]
    # Level 1 first: the orders still shipped; one another worker holds is the per-order step's.
    movable = set(
        Order.objects.select_for_update(skip_locked=True, of=("self",), no_key=True)
        .filter(pk__in=[order_of[payment_id] for payment_id in confirmed], status=S.SHIPPED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    notes = []
    record = payments.payments_capture_record(answers=answers, notes=notes)
    ready = {
        order_of[payment_id]: amount
        for payment_id, amount in record.captured.items()
        if order_of[payment_id] in movable
    }
    events = [
        OrderEvent(order_id=note.subject_id, kind=OrderEvent.Kind.PAYMENT, message=note.message[:255],
                   reason=note.reason, extra=note.extra, **actor_fields(None, PAYMENTS_ACTOR))
        for note in notes
    ]  # fmt: skip
    if ready:
        now = timezone.now()
        moved = Order.objects.filter(pk__in=list(ready), status=S.SHIPPED).update(
            status=S.DEPOSITED, deposited_at=now, updated_at=now
        )
        if moved != len(ready):
            raise RuntimeError(f"{len(ready) - moved} orders changed under their lock.")
        OrderItem.objects.filter(order_id__in=list(ready), status=S.SHIPPED).update(status=S.DEPOSITED)
        # The events' orders as the status-change webhooks need them (number, store), without loading rows.
        stubs = {
            order_id: Order(pk=order_id, number=number, store_id=store_id)
            for order_id, number, store_id, _ in candidates.values()
            if order_id in ready
        }
        events.extend(
            OrderEvent(
                order=stubs[order_id],
                kind=OrderEvent.Kind.STATUS,
                from_status=S.SHIPPED,
                to_status=S.DEPOSITED,
                extra={"captured": str(amount)},
                **actor_fields(None, actor_name),
            )
            for order_id, amount in ready.items()
        )
    if events:
        order_events_record_bulk(events)  # and the status-change webhooks, for stores that want them
    outcomes: dict[int, JobOutcome | Exception] = dict.fromkeys(ready, JobOutcome.SUCCEEDED)
    # A capture the gateway did not confirm fails its order with the error the per-order step raises.
    outcomes.update((order_of[payment_id], error) for payment_id, error in record.failed.items())
    return outcomes
