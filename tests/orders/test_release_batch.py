"""The set-based release of release_to_fulfillment: the same rows as the per-order step, chunk by chunk."""

import dataclasses
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from commerce.jobs import job_run
from commerce.models import JobItemFailure, Store
from fulfillment.models import Release
from orders import services
from orders.jobs import JOBS
from orders.models import Order
from orders.release_batch import orders_release_chunk
from tests.orders.conftest import place

pytestmark = pytest.mark.django_db

# Two-center orders (a backpack is in WEST only) beside one-center ones.
BASKETS = [
    [("DEMO-TSHIRT", 1), ("DEMO-CAP", 2)],
    [("DEMO-BACKPACK", 1), ("DEMO-CAP", 1)],
    [("DEMO-STICKERS", 3)],
]


def placed(client, baskets) -> list[Order]:
    numbers = [place(client, *basket).json()["number"] for basket in baskets]
    orders = list(Order.objects.filter(number__in=numbers).order_by("pk"))
    assert [order.status for order in orders] == ["C"] * len(baskets)
    return orders


def shape(order: Order) -> dict:
    """What releasing wrote for the order, with its number blanked so two orders compare."""
    order.refresh_from_db()

    def blank(text):
        return re.sub(re.escape(order.number), "N", str(text))

    releases = list(order.releases.order_by("sequence"))
    events = (
        order.events.filter(actor_name="release_to_fulfillment")
        .order_by("created_at", "pk")
        .values_list("kind", "from_status", "to_status", "message", "extra", "actor_name")
    )
    return {
        "status": order.status,
        "released": order.released_at is not None,
        "payment_check_due": order.payment_check_due,
        "items": sorted((item.sku, item.status, item.inventory_status) for item in order.items.all()),
        "releases": [
            (
                blank(release.number),
                release.sequence,
                release.fulfillment_center.code,
                release.status,
                release.ship_to_line1,
                release.ship_mode,
                sorted((line.order_item.sku, line.quantity) for line in release.items.all()),
            )
            for release in releases
        ],
        "events": [tuple(blank(value) for value in event) for event in events],
    }


def test_the_set_based_path_writes_what_the_per_order_step_writes(as_user):
    client = as_user("alice")
    one_by_one = placed(client, BASKETS)
    together = placed(client, BASKETS)

    for order in one_by_one:
        assert services.order_release(order_id=order.pk) == "succeeded"
    outcomes = orders_release_chunk(order_ids=[order.pk for order in together])

    assert outcomes == {order.pk: "succeeded" for order in together}
    for alone, batched in zip(one_by_one, together, strict=True):
        expected = shape(alone)
        assert expected["status"] == "R"
        assert len(expected["releases"]) == (2 if alone.items.filter(sku="DEMO-BACKPACK").exists() else 1)
        assert shape(batched) == expected


def test_orders_that_need_the_gateway_or_a_partial_release_are_left_to_the_per_order_step(as_user):
    client = as_user("alice")
    due, plain = placed(client, BASKETS[:2])
    Order.objects.filter(pk=due.pk).update(payment_check_due=True)

    outcomes = orders_release_chunk(order_ids=[due.pk, plain.pk])

    assert outcomes == {plain.pk: "succeeded"}
    due.refresh_from_db()
    assert due.status == "C" and not due.releases.exists()


def test_orders_of_a_store_whose_inventory_system_does_not_release_in_sets_are_left_to_the_per_order_step(as_user):
    # DESIGN section 18: only the ATP system's release is the one the set-based path writes.
    (order,) = placed(as_user("alice"), BASKETS[:1])
    Store.objects.filter(pk=order.store_id).update(inventory_system="none")

    assert orders_release_chunk(order_ids=[order.pk]) == {}
    order.refresh_from_db()
    assert order.status == "C" and not order.releases.exists()


def test_statements_per_chunk_do_not_grow_with_the_chunk(as_user):
    client = as_user("alice")
    warm, *small = placed(client, BASKETS[:1] * 2)
    large = placed(client, BASKETS * 2)
    orders_release_chunk(order_ids=[warm.pk])  # the webhooks read the store's subscriptions once, cached

    with CaptureQueriesContext(connection) as one:
        orders_release_chunk(order_ids=[order.pk for order in small])
    with CaptureQueriesContext(connection) as six:
        orders_release_chunk(order_ids=[order.pk for order in large])

    # The check, then locks of orders and items, reads of allocations, earlier releases and centers, the
    # INSERTs of releases, release items and events, the UPDATEs of items and orders: eleven, plus the
    # savepoint and its release the test's own transaction adds.
    assert len(six) == len(one) == 13


def test_one_bad_order_in_a_chunk_fails_only_itself(as_user):
    client = as_user("alice")
    orders = placed(client, BASKETS * 2)
    bad = orders[2]
    # A release already holding the number the bad order's first release would take: its INSERT fails,
    # the chunk's transaction rolls back and every order of the chunk goes the per-order way.
    squatter = Release.objects.filter(order__in=Order.objects.filter(status="R")).first()
    if squatter is None:
        other = placed(client, BASKETS[:1])[0]
        services.order_release(order_id=other.pk)
        squatter = other.releases.get()
    Release.objects.filter(pk=squatter.pk).update(number=f"{bad.number}-1")

    run = job_run(spec=JOBS["release_to_fulfillment"])

    statuses = dict(Order.objects.filter(pk__in=[order.pk for order in orders]).values_list("pk", "status"))
    assert statuses == {order.pk: "C" if order is bad else "R" for order in orders}
    assert run.failed == 1 and [entry["id"] for entry in run.errors] == [bad.pk]
    assert list(JobItemFailure.objects.values_list("object_id", flat=True)) == [bad.pk]
    assert not bad.releases.exists()


def test_the_job_releases_the_same_with_and_without_the_set_based_step(as_user):
    client = as_user("alice")
    spec = JOBS["release_to_fulfillment"]
    one_by_one = placed(client, BASKETS)
    job_run(spec=dataclasses.replace(spec, process_chunk=None))
    together = placed(client, BASKETS)

    run = job_run(spec=spec)

    assert (run.processed, run.succeeded, run.failed) == (3, 3, 0)
    for alone, batched in zip(one_by_one, together, strict=True):
        assert shape(batched) == shape(alone)


def test_both_paths_send_the_same_status_change_webhooks(as_user):
    from commerce.models import Store
    from commerce.webhooks.models import WebhookEndpoint, WebhookEvent

    WebhookEndpoint.objects.create(
        store=Store.objects.get(code="demo"), url="http://127.0.0.1:9/hook", event_types=["order.status_changed"]
    )
    client = as_user("alice")
    one_by_one = placed(client, BASKETS[:2])
    together = placed(client, BASKETS[:2])

    for order in one_by_one:
        services.order_release(order_id=order.pk)
    orders_release_chunk(order_ids=[order.pk for order in together])

    def sent(order):
        rows = WebhookEvent.objects.filter(type="order.status_changed", data__order=order.number)
        return sorted((row.data["from_status"], row.data["to_status"], row.data["actor"]) for row in rows)

    for alone, batched in zip(one_by_one, together, strict=True):
        assert ("C", "R", "release_to_fulfillment") in sent(alone)
        assert sent(batched) == sent(alone)
