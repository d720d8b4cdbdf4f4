"""The set-based deposit of balance_payment: the same rows as the per-order step, a chunk at a time."""

import dataclasses
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commerce.jobs import job_run
from commerce.models import JobItemFailure, Store
from orders import services
from orders.deposit_batch import orders_deposit_chunk
from orders.jobs import JOBS
from orders.models import Order, OrderEvent
from payments.errors import PaymentError
from payments.models import Payment, PaymentTransaction, SimulatedAuthorization
from tests.orders.conftest import place
from tests.orders.test_payment_lifecycle import ship

pytestmark = pytest.mark.django_db

# Two-center orders (a backpack is in WEST only, so two releases) beside one-center ones.
BASKETS = [
    [("DEMO-TSHIRT", 1), ("DEMO-CAP", 2)],
    [("DEMO-BACKPACK", 1), ("DEMO-CAP", 1)],
    [("DEMO-STICKERS", 3)],
]
GATEWAY_TABLES = ("payments_simulatedauthorization", "payments_simulatedgatewayrecord")


def shipped(client, baskets) -> list[Order]:
    numbers = [place(client, *basket).json()["number"] for basket in baskets]
    orders = list(Order.objects.filter(number__in=numbers).order_by("pk"))
    for order in orders:
        assert services.order_release(order_id=order.pk) == "succeeded"
        assert ship(order).status == "S"
    return list(Order.objects.filter(pk__in=[order.pk for order in orders]).order_by("pk"))


def last_event_id() -> int:
    return OrderEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def shape(order: Order, since: int) -> dict:
    """What depositing wrote for the order, its number and payment ids blanked so two orders compare."""
    order.refresh_from_db()
    payment = order.payments.get(is_current=True)

    def blank(value):
        text = re.sub(re.escape(order.number), "N", str(value))
        # The id alone, not the same digits inside an amount (58.46 for payment 46).
        return re.sub(rf"(?<![\d.]){payment.pk}(?!\d|\.\d)", "P", text)

    gateway = SimulatedAuthorization.objects.get(reference=payment.authorization_reference)
    log = payment.transactions.filter(kind="capture").order_by("pk")
    events = order.events.filter(pk__gt=since).order_by("created_at", "pk")
    return {
        "status": order.status,
        "deposited": order.deposited_at is not None,
        "items": sorted((item.sku, item.status, item.inventory_status) for item in order.items.all()),
        "payment": (
            payment.status,
            payment.captured_amount == order.grand_total,
            payment.captured_amount,
            blank(payment.capture_key),
            payment.pending_operation,
            payment.pending_key,
            payment.pending_amount,
            payment.sequence,
        ),
        "gateway": (gateway.state, gateway.captured_amount),
        "log": [
            (row.outcome, row.amount, row.applied, row.replayed, blank(row.idempotency_key), row.error, row.note)
            for row in log
        ],
        "events": [
            (event.kind, event.from_status, event.to_status, blank(event.message), blank(event.extra), event.actor_name)
            for event in events
        ],
    }


def test_the_set_based_path_writes_what_the_per_order_step_writes(as_user):
    client = as_user("alice")
    one_by_one = shipped(client, BASKETS)
    together = shipped(client, BASKETS)
    since = last_event_id()

    for order in one_by_one:
        assert services.order_deposit(order_id=order.pk) == "succeeded"
    outcomes = orders_deposit_chunk(order_ids=[order.pk for order in together])

    assert outcomes == {order.pk: "succeeded" for order in together}
    for alone, batched in zip(one_by_one, together, strict=True):
        expected = shape(alone, since)
        assert expected["status"] == "D"
        assert expected["payment"][:2] == ("deposited", True)
        assert [event[:3] for event in expected["events"]] == [("payment", "", ""), ("status", "S", "D")]
        assert shape(batched, since) == expected


def test_the_job_deposits_the_same_with_and_without_the_set_based_step(as_user):
    client = as_user("alice")
    spec = JOBS["balance_payment"]
    one_by_one = shipped(client, BASKETS)
    since = last_event_id()
    job_run(spec=dataclasses.replace(spec, process_chunk=None))
    together = shipped(client, BASKETS)
    since_together = last_event_id()

    run = job_run(spec=spec)

    assert (run.processed, run.succeeded, run.failed) == (3, 3, 0)
    for alone, batched in zip(one_by_one, together, strict=True):
        assert shape(batched, since_together) == shape(alone, since)


def test_orders_in_payment_review_or_declined_there_are_left_to_the_per_order_step(as_user):
    client = as_user("alice")
    in_review, declined, plain = shipped(client, BASKETS)
    Payment.objects.filter(order=in_review, is_current=True).update(status="review")
    Order.objects.filter(pk=declined.pk).update(payment_review_declined_at=plain.placed_at)

    outcomes = orders_deposit_chunk(order_ids=[in_review.pk, declined.pk, plain.pk])

    assert outcomes == {plain.pk: "succeeded"}
    for order in (in_review, declined):
        order.refresh_from_db()
        payment = order.payments.get(is_current=True)
        assert order.status == "S"
        assert (payment.captured_amount, payment.pending_operation) == (Decimal("0"), "")
        assert not payment.transactions.filter(kind="capture").exists()


def test_a_capture_the_gateway_refuses_fails_only_its_order_as_it_does_alone(as_user):
    client = as_user("alice")
    refused_alone, *_ = shipped(client, BASKETS[:1])
    orders = shipped(client, BASKETS * 2)
    bad = orders[3]  # the same basket as the one refused alone
    for order in (refused_alone, bad):
        reference = order.payments.get(is_current=True).authorization_reference
        SimulatedAuthorization.objects.filter(reference=reference).update(state="voided")
    since = last_event_id()
    with pytest.raises(PaymentError) as alone:
        services.order_deposit(order_id=refused_alone.pk)
    spec = JOBS["balance_payment"]
    ids = [order.pk for order in orders]

    run = job_run(spec=dataclasses.replace(spec, select=lambda: spec.select().filter(pk__in=ids)))

    statuses = dict(Order.objects.filter(pk__in=[order.pk for order in orders]).values_list("pk", "status"))
    assert statuses == {order.pk: "S" if order is bad else "D" for order in orders}
    assert run.failed == 1 and [entry["id"] for entry in run.errors] == [bad.pk]
    assert run.errors[0]["error"] == f"{type(alone.value).__name__}: {alone.value}"
    assert list(JobItemFailure.objects.values_list("object_id", flat=True)) == [bad.pk]
    # The refused capture is left as the per-order step leaves it: nothing captured, nothing in flight,
    # the gateway's answer logged once.
    assert shape(bad, since) == shape(refused_alone, since)
    for order in (refused_alone, bad):
        payment = order.payments.get(is_current=True)
        assert (payment.status, payment.captured_amount, payment.pending_operation) == ("authorized", 0, "")
        assert list(payment.transactions.filter(kind="capture").values_list("outcome", "applied")) == [
            ("declined", False)
        ]


def test_a_failed_chunk_transaction_falls_back_to_the_per_order_step_and_fails_only_the_bad_order(as_user):
    client = as_user("alice")
    orders = shipped(client, BASKETS * 2)
    bad, other = orders[2], orders[0]
    # An applied capture already logged under the bad order's deposit key: the chunk's INSERT of the
    # log rows fails, its transaction rolls back, and every order of the chunk goes the per-order way.
    PaymentTransaction.objects.create(
        payment=other.payments.get(is_current=True),
        kind="capture",
        currency_id=other.currency_id,
        outcome="success",
        idempotency_key=f"deposit-{bad.number}",
        applied=True,
    )

    run = job_run(spec=JOBS["balance_payment"])

    statuses = dict(Order.objects.filter(pk__in=[order.pk for order in orders]).values_list("pk", "status"))
    assert statuses == {order.pk: "S" if order is bad else "D" for order in orders}
    assert (run.succeeded, run.failed) == (5, 1) and [entry["id"] for entry in run.errors] == [bad.pk]
    for order in orders:
        payment = order.payments.get(is_current=True)
        applied = payment.transactions.filter(kind="capture", applied=True, idempotency_key=f"deposit-{order.number}")
        gateway = SimulatedAuthorization.objects.get(reference=payment.authorization_reference)
        # Captured once at the gateway, whichever path answered; counted once on every good payment.
        assert (gateway.state, gateway.captured_amount) == ("captured", order.grand_total)
        if order is bad:
            # As the per-order step alone leaves it: the capture still in flight, for payment_sync.
            assert (payment.status, payment.pending_operation) == ("authorized", "capture")
        else:
            assert (payment.status, payment.captured_amount, applied.count()) == ("deposited", order.grand_total, 1)


def test_statements_per_chunk_do_not_grow_with_the_chunk(as_user):
    client = as_user("alice")
    warm, *small = shipped(client, BASKETS[:1] * 2)
    large = shipped(client, BASKETS * 2)
    orders_deposit_chunk(order_ids=[warm.pk])  # the webhooks read the store's subscriptions once, cached

    def own(context) -> list[str]:
        statements = [query["sql"] for query in context.captured_queries if "SAVEPOINT" not in query["sql"]]
        return [sql for sql in statements if not any(table in sql for table in GATEWAY_TABLES)]

    def gateway(context) -> list[str]:
        return [query["sql"] for query in context.captured_queries if any(t in query["sql"] for t in GATEWAY_TABLES)]

    with CaptureQueriesContext(connection) as one:
        assert len(orders_deposit_chunk(order_ids=[order.pk for order in small])) == 1
    with CaptureQueriesContext(connection) as six:
        assert len(orders_deposit_chunk(order_ids=[order.pk for order in large])) == 6

    # The check; the payments locked and marked; the orders and payments locked, the payments updated, the
    # log and the events inserted, the orders and items updated: ten (the test's own transaction adds
    # savepoints, not counted). The gateway's own statements (its tables) are one call per payment, as alone.
    assert len(own(six)) == len(own(one)) == 10
    assert len(gateway(six)) == 6 * len(gateway(one)) == 6 * 3


def test_both_paths_send_the_same_status_change_webhooks(as_user):
    from commerce.webhooks.models import WebhookEndpoint, WebhookEvent

    WebhookEndpoint.objects.create(
        store=Store.objects.get(code="demo"), url="http://127.0.0.1:9/hook", event_types=["order.status_changed"]
    )
    client = as_user("alice")
    one_by_one = shipped(client, BASKETS[:2])
    together = shipped(client, BASKETS[:2])

    for order in one_by_one:
        services.order_deposit(order_id=order.pk)
    orders_deposit_chunk(order_ids=[order.pk for order in together])

    def sent(order):
        rows = WebhookEvent.objects.filter(type="order.status_changed", data__order=order.number)
        return sorted((row.data["from_status"], row.data["to_status"], row.data["actor"]) for row in rows)

    for alone, batched in zip(one_by_one, together, strict=True):
        assert ("S", "D", "balance_payment") in sent(alone)
        assert sent(batched) == sent(alone)
