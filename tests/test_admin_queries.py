"""Every registered model admin's list and change page load in a bounded number of queries with 100 orders.

An admin that loads a related row per listed row (an N+1) makes at least a hundred queries here; the
bounds below leave room for the admin's own bookkeeping (session, user, permissions, counts, filters)
and nothing that grows with the rows.
"""

import uuid
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import Failure, OrmQ, Success

from commerce.errors import NothingToPick
from commerce.models import JobItemFailure, JobRun, Store
from commerce.webhooks.models import WebhookEndpoint
from fulfillment.batches import pick_batch_create
from fulfillment.documents import document_print
from fulfillment.models import Document, FulfillmentCenter, PickBatch
from fulfillment.shipping import package_confirm_shipment, package_create
from orders import services
from orders.models import Order
from orders.returns.crediting import return_request_credit
from orders.returns.services import ReceiptLineInput, ReturnLineInput, return_request_create, return_request_receive
from tests.conftest import client_for
from tests.orders.conftest import place as place_through_api

pytestmark = pytest.mark.django_db

ORDERS = 100
MAX_CHANGELIST_QUERIES = 15
MAX_CHANGE_PAGE_QUERIES = 20


def place(username: str, *items, token: str | None = "tok_approve", **extra) -> Order:
    client = client_for(get_user_model().objects.get(username=username))
    response = place_through_api(client, *items, token=token, **extra)
    assert response.status_code == 201, response.content
    return Order.objects.get(number=response.json()["number"])


def hundred_orders() -> Order:
    """A day of a demo store: 100 orders in every stage, with what jobs and staff leave behind; one rich order."""
    call_command("seed_demo", stdout=StringIO())
    call_command("setup_schedules", stdout=StringIO())
    # A storefront listening: every order's status changes are webhook deliveries in the log.
    WebhookEndpoint.objects.create(
        store=Store.objects.get(code="demo"),
        url="https://shop.example/hooks",
        event_types=["order.status_changed", "order.shipped"],
    )
    orders = [place("alice", ("DEMO-TSHIRT", 1), ("DEMO-CAP", 1)) for _ in range(45)]
    orders += [place("dave", ("DEMO-STICKERS", 2), token="tok_review") for _ in range(20)]
    orders += [place("bob", ("DEMO-HOODIE", 1, "ACME-TA-1"), ("DEMO-TSHIRT", 1, "ACME-TA-1")) for _ in range(20)]
    orders += [
        place("bob", ("DEMO-CAP", 1), token=None, method="purchase_order", purchase_order_number="ACME-PO-BLANKET")
        for _ in range(15)
    ]
    assert len(orders) == ORDERS
    for order in orders[40:45] + orders[80:85] + orders[95:]:
        services.order_cancel(order=order, reason="Changed my mind")
    rich = orders[65]
    for order in [*orders[:30], *orders[65:75], *orders[85:90]]:
        services.order_release(order_id=order.pk, actor_name="release_to_fulfillment")
    for center in FulfillmentCenter.objects.all():
        while True:
            try:
                batch = pick_batch_create(fulfillment_center=center)
            except NothingToPick:
                break
            document_print(batch=batch, kind=Document.Kind.PICK_TICKET)
    for batch in PickBatch.objects.all():
        for release in batch.releases.all()[:15]:
            package = package_create(release=release, carrier="UPS", tracking_number=f"1Z{release.pk:08d}")
            package_confirm_shipment(package=package)
    assert Order.objects.get(pk=rich.pk).status == "S"
    shipped = list(Order.objects.filter(status="S").order_by("pk")[:6])
    returns = [
        return_request_create(order=order, lines=[ReturnLineInput(sku=order.items.first().sku, quantity=1)])
        for order in shipped
    ]
    east = FulfillmentCenter.objects.get(code="EAST")
    for rma in returns[:3]:
        sku = rma.items.get().order_item.sku
        return_request_receive(
            return_request=rma,
            lines=[ReceiptLineInput(sku=sku, quantity=1, disposition="restock", fulfillment_center=east)],
        )
    return_request_credit(return_request=returns[0])

    run = JobRun.objects.create(
        name="release_to_fulfillment",
        processed=12,
        succeeded=2,
        failed=10,
        errors=[{"id": order.pk, "error": "gateway down"} for order in orders[:10]],
        finished_at=timezone.now(),
    )
    for order in orders[:10]:
        JobItemFailure.objects.create(
            job_name=run.name, item=order, failures=3, last_error="gateway down", last_run=run
        )
    now = timezone.now()
    for model, success in [(Success, True), (Failure, False)]:
        for n in range(3):
            model.objects.create(
                id=uuid.uuid4().hex,
                name=f"task-{n}",
                func="commerce.notifications.send",
                started=now,
                stopped=now,
                success=success,
            )
    OrmQ.objects.create(key="commerce", payload="x", lock=now)
    client_for(get_user_model().objects.get(username="clerk"))  # an API token
    return rich


def change_page_object(model_admin, request, rich_order: Order):
    if model_admin.model is Order:
        return rich_order
    return model_admin.get_queryset(request).order_by("pk").last()


def test_every_admin_list_and_change_page_is_bounded(subtests, rf, django_assert_max_num_queries):
    rich_order = hundred_orders()
    superuser = get_user_model().objects.get(username="admin")
    client = Client()
    client.force_login(superuser)
    request = rf.get("/")
    request.user = superuser
    client.get(reverse("admin:index"))

    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        with subtests.test(msg=f"{opts.label} list"):
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            with django_assert_max_num_queries(MAX_CHANGELIST_QUERIES):
                response = client.get(url)
            assert response.status_code == 200
            assert response.context["cl"].result_count > 0, f"no {opts.verbose_name_plural} to list"

        with subtests.test(msg=f"{opts.label} change page"):
            obj = change_page_object(model_admin, request, rich_order)
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            with django_assert_max_num_queries(MAX_CHANGE_PAGE_QUERIES):
                response = client.get(url)
            assert response.status_code == 200


def test_order_list_queries_do_not_grow_with_the_orders(django_assert_num_queries, django_assert_max_num_queries):
    """The order list of 100 orders costs what a list of 2 does."""
    call_command("seed_demo", stdout=StringIO())
    client = Client()
    client.force_login(get_user_model().objects.get(username="supervisor"))
    place("alice", ("DEMO-TSHIRT", 1))
    place("bob", ("DEMO-CAP", 1), token="tok_review")
    client.get("/admin/orders/order/")
    with django_assert_max_num_queries(MAX_CHANGELIST_QUERIES) as few:
        client.get("/admin/orders/order/")
    baseline = len(few.captured_queries)
    for _ in range(ORDERS - 2):
        place("dave", ("DEMO-STICKERS", 1))

    with django_assert_num_queries(baseline):
        response = client.get("/admin/orders/order/")

    assert response.context["cl"].result_count == ORDERS
