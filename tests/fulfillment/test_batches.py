"""Pick batches: oldest ready releases first, up to the store's batch size, never one release twice."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from commerce.errors import NothingToPick
from fulfillment.batches import pick_batch_create
from fulfillment.models import Document, PickBatch, Release
from orders.models import OrderEvent
from tests.factories.commerce import ProductFactory, StaffUserFactory, StoreFactory
from tests.factories.fulfillment import FulfillmentCenterFactory, released_order


def release_ages(*minutes_ago):
    """Make the releases' creation times distinct and known, in creation order."""
    now = timezone.now()
    for release, minutes in zip(Release.objects.order_by("pk"), minutes_ago, strict=True):
        Release.objects.filter(pk=release.pk).update(created_at=now - timedelta(minutes=minutes))


@pytest.mark.django_db
def test_takes_the_oldest_ready_releases_up_to_the_batch_size(east, products):
    store = StoreFactory(batch_size=2)
    orders = [released_order(lines=[(products[0], {east: 1})], store=store) for _ in range(3)]
    release_ages(10, 30, 20)

    batch = pick_batch_create(fulfillment_center=east, acting_user=StaffUserFactory(username="wh"))

    batched = list(batch.releases.order_by("tote").values_list("order__number", "tote", "status"))
    assert batched == [(orders[1].number, 1, "batched"), (orders[2].number, 2, "batched")]
    assert Release.objects.get(order=orders[0]).status == "ready"
    assert (batch.store, batch.fulfillment_center, batch.status) == (store, east, "open")
    assert batch.created_by.username == "wh"


@pytest.mark.django_db
def test_the_rest_waits_for_the_next_batch(east, products):
    store = StoreFactory(batch_size=2)
    for _ in range(3):
        released_order(lines=[(products[0], {east: 1})], store=store)

    first = pick_batch_create(fulfillment_center=east)
    second = pick_batch_create(fulfillment_center=east)

    assert (first.releases.count(), second.releases.count()) == (2, 1)
    with pytest.raises(NothingToPick):
        pick_batch_create(fulfillment_center=east)


@pytest.mark.django_db
def test_only_the_centers_releases(east, west, products):
    released_order(lines=[(products[0], {east: 1, west: 1})])

    batch = pick_batch_create(fulfillment_center=west)

    assert [r.fulfillment_center.code for r in batch.releases.all()] == ["WEST"]
    assert Release.objects.get(fulfillment_center=east).status == "ready"


@pytest.mark.django_db
def test_nothing_ready_is_nothing_to_pick(east, products):
    with pytest.raises(NothingToPick) as raised:
        pick_batch_create(fulfillment_center=east)

    assert raised.value.code == "nothing_to_pick"
    assert PickBatch.objects.count() == 0


@pytest.mark.django_db
def test_expedited_when_any_release_ships_expedited(east, products):
    released_order(lines=[(products[0], {east: 1})])
    released_order(lines=[(products[0], {east: 1})], ship_mode="OVERNIGHT")

    assert pick_batch_create(fulfillment_center=east).expedited is True


@pytest.mark.django_db
def test_standard_releases_make_a_standard_batch(east, products):
    released_order(lines=[(products[0], {east: 1})])

    assert pick_batch_create(fulfillment_center=east).expedited is False


@pytest.mark.django_db
def test_a_batch_holds_one_stores_releases(east, products):
    shop, outlet = StoreFactory(code="shop", name="Shop"), StoreFactory(code="outlet", name="Outlet")
    released_order(lines=[(products[0], {east: 1})], store=outlet)
    released_order(lines=[(products[0], {east: 1})], store=shop)
    release_ages(20, 10)

    batch = pick_batch_create(fulfillment_center=east)

    assert batch.store == outlet
    assert [r.order.store for r in batch.releases.all()] == [outlet]


@pytest.mark.django_db
def test_each_batched_release_writes_an_event(east, products):
    order = released_order(lines=[(products[0], {east: 1})])

    batch = pick_batch_create(fulfillment_center=east)

    event = OrderEvent.objects.filter(order=order, extra__pick_batch=batch.number).get()
    assert event.extra["tote"] == 1


@pytest.mark.django_db
def test_a_small_batch_leaves_its_documents_to_render_on_first_print(east, products, settings):
    settings.PICK_BATCH_SYNC_RENDER_LIMIT = 5
    released_order(lines=[(products[0], {east: 1})])

    batch = pick_batch_create(fulfillment_center=east)

    documents = Document.objects.filter(batch=batch)
    assert sorted(documents.values_list("kind", "status")) == [("packing_slips", "pending"), ("pick_ticket", "pending")]
    assert not documents.filter(render_requested_at__isnull=False).exists()


@pytest.mark.django_db
def test_a_large_batch_renders_in_a_django_q_task_after_commit(
    east, products, settings, django_capture_on_commit_callbacks
):
    settings.PICK_BATCH_SYNC_RENDER_LIMIT = 2
    for _ in range(3):
        released_order(lines=[(products[0], {east: 1})])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        batch = pick_batch_create(fulfillment_center=east)

    assert len(callbacks) == 1
    documents = {d.kind: d for d in Document.objects.filter(batch=batch)}
    assert {kind: d.status for kind, d in documents.items()} == {"pick_ticket": "ready", "packing_slips": "ready"}
    assert documents["packing_slips"].pages == 3
    assert documents["pick_ticket"].file.read(5) == b"%PDF-"
    from django_q.models import Success

    assert Success.objects.filter(func="fulfillment.tasks.pick_batch_render").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_clerks_never_batch_the_same_release():
    center = FulfillmentCenterFactory(code="EAST")
    product = ProductFactory()
    store = StoreFactory(batch_size=2)
    for _ in range(10):
        released_order(lines=[(product, {center: 1})], store=store)
    barrier = threading.Barrier(8)
    results, errors = [], []

    def clerk():
        try:
            barrier.wait()
            results.append(pick_batch_create(fulfillment_center=center).pk)
        except NothingToPick as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=clerk) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    per_batch = {pk: list(Release.objects.filter(batch_id=pk).values_list("pk", flat=True)) for pk in results}
    batched = [pk for pks in per_batch.values() for pk in pks]
    assert len(batched) == len(set(batched)) == 10
    assert all(1 <= len(pks) <= 2 for pks in per_batch.values())
    assert len(results) + len(errors) == 8
    assert not Release.objects.filter(status="ready").exists()
