"""Webhooks against a real HTTP receiver on 127.0.0.1: delivered after commit, signed, retried, logged."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.scheduler import scheduler

from commerce.webhooks.delivery import MAX_ATTEMPTS, retry_delay, webhook_deliver
from commerce.webhooks.events import emit
from commerce.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from commerce.webhooks.signing import signature_header, signature_verify
from tests.conftest import client_for
from tests.factories.commerce import UserFactory
from tests.reliability.conftest import Shop, make_shop, place, shipped_orders

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(db) -> Shop:
    return make_shop()


class Receiver:
    """An HTTP server on a free port that records every POST and answers the statuses it is given."""

    def __init__(self, statuses=(200,)):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"try later")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def events(self) -> list[dict]:
        return [json.loads(request["body"]) for request in self.requests]


@pytest.fixture
def receiver():
    made = []

    def start(statuses=(200,)) -> Receiver:
        server = Receiver(statuses)
        server.thread.start()
        made.append(server)
        return server

    yield start
    for server in made:
        server.server.shutdown()
        server.server.server_close()


def endpoint_for(store, url: str, *types: str) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(store=store, url=url, event_types=list(types))


def test_order_status_changes_are_delivered_signed_after_commit(shop, receiver, django_capture_on_commit_callbacks):
    server = receiver()
    endpoint = endpoint_for(shop.store, server.url, "order.status_changed")

    with django_capture_on_commit_callbacks(execute=True):
        order = place([(shop.products[0], 1)])

    events = server.events()
    assert [(e["type"], e["data"]["from_status"], e["data"]["to_status"]) for e in events] == [
        ("order.status_changed", "P", "M"),
        ("order.status_changed", "M", "C"),
    ]
    assert all(set(e) == {"id", "type", "created", "data"} for e in events)
    assert {e["data"]["order"] for e in events} == {order.number}
    assert {e["data"]["store"] for e in events} == {shop.store.code}
    for request in server.requests:
        assert signature_verify(secret=endpoint.secret, header=request["headers"]["X-Signature"], body=request["body"])
        assert not signature_verify(
            secret="another-secret", header=request["headers"]["X-Signature"], body=request["body"]
        )
        assert request["headers"]["X-Webhook-Id"] == json.loads(request["body"])["id"]
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert sorted(deliveries.values_list("status", "attempts", "last_status_code")) == [("succeeded", 1, 200)] * 2


def test_nothing_is_sent_when_the_transaction_rolls_back(shop, receiver, django_capture_on_commit_callbacks):
    server = receiver()
    endpoint_for(shop.store, server.url, "order.status_changed")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        emit("order.status_changed", shop.store.pk, {"order": "X-1", "from_status": "P", "to_status": "M"})
        raise RuntimeError("the change fails after the event was emitted")

    assert server.requests == []
    assert not WebhookEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_a_500_is_retried_with_backoff_and_then_succeeds(shop, receiver, django_capture_on_commit_callbacks):
    server = receiver(statuses=[500, 200])
    endpoint_for(shop.store, server.url, "order.status_changed")

    with django_capture_on_commit_callbacks(execute=True):
        emit("order.status_changed", shop.store.pk, {"order": "X-1", "from_status": "P", "to_status": "M"})

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at - timezone.now() == pytest.approx(retry_delay(1), abs=timedelta(seconds=5))
    retry = Schedule.objects.get(name=f"webhook:{delivery.pk}:2")
    assert retry.next_run == delivery.next_attempt_at

    # Time passes: the retry is due, and the scheduler runs it.
    past = timezone.now() - timedelta(seconds=1)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=past)
    Schedule.objects.filter(pk=retry.pk).update(next_run=past)
    with django_capture_on_commit_callbacks(execute=True):
        scheduler(broker=get_broker())

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 2, 200)
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [(1, 500), (2, 200)]
    assert len(server.requests) == 2
    first, second = server.events()
    assert first == second  # the same event, deduplicated by its id


def test_five_failed_attempts_over_about_an_hour_fail_the_delivery(shop, receiver, django_capture_on_commit_callbacks):
    server = receiver(statuses=[503])
    endpoint_for(shop.store, server.url, "order.status_changed")
    with transaction.atomic():
        emit("order.status_changed", shop.store.pk, {"order": "X-1", "from_status": "P", "to_status": "M"})
    delivery = WebhookDelivery.objects.get()

    for _ in range(MAX_ATTEMPTS + 1):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        webhook_deliver(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)
    assert len(server.requests) == MAX_ATTEMPTS
    total = sum((retry_delay(n) for n in range(1, MAX_ATTEMPTS)), timedelta())
    assert timedelta(minutes=45) <= total <= timedelta(minutes=75)


def test_a_retry_is_not_sent_before_its_time(shop, receiver):
    server = receiver(statuses=[500])
    endpoint_for(shop.store, server.url, "order.status_changed")
    with transaction.atomic():
        emit("order.status_changed", shop.store.pk, {"order": "X-1"})
    delivery = WebhookDelivery.objects.get()
    webhook_deliver(delivery.pk)

    assert webhook_deliver(delivery.pk) == "skipped"
    assert len(server.requests) == 1


def test_a_shipment_is_delivered_with_its_tracking(shop, receiver, django_capture_on_commit_callbacks):
    server = receiver()
    endpoint_for(shop.store, server.url, "order.shipped")

    with django_capture_on_commit_callbacks(execute=True):
        (order,) = shipped_orders(shop, 1)

    shipped = [e["data"] for e in server.events()]
    assert {e["order"] for e in shipped} == {order.number}
    assert all(e["carrier"] == "UPS" and e["tracking_number"].startswith("1Z") for e in shipped)
    assert shipped[-1]["complete"] is True and shipped[-1]["status"] == "S"
    assert sum(item["quantity"] for e in shipped for item in e["items"]) == 3


def test_endpoints_get_only_their_event_types_and_inactive_ones_nothing(
    shop, receiver, django_capture_on_commit_callbacks
):
    shipped_only = receiver()
    inactive = receiver()
    endpoint_for(shop.store, shipped_only.url, "order.shipped")
    WebhookEndpoint.objects.create(
        store=shop.store, url=inactive.url, event_types=["order.status_changed"], active=False
    )

    with django_capture_on_commit_callbacks(execute=True):
        place([(shop.products[0], 1)])

    assert shipped_only.requests == [] and inactive.requests == []
    shop.store.refresh_from_db()
    assert shop.store.webhook_event_types == ["order.shipped"]


def test_staff_redeliver_from_the_admin(shop, receiver, client, django_capture_on_commit_callbacks):
    server = receiver()
    endpoint_for(shop.store, server.url, "order.status_changed")
    with django_capture_on_commit_callbacks(execute=True):
        emit("order.status_changed", shop.store.pk, {"order": "X-1"})
    delivery = WebhookDelivery.objects.get()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/webhooks/webhookdelivery/{delivery.pk}/redeliver/")

    assert b"Redeliver" in page.content
    assert response.status_code == 302
    assert len(server.requests) == 2
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [(1, 200), (2, 200)]


def test_redeliver_needs_its_permission(shop, client):
    endpoint = endpoint_for(shop.store, "http://127.0.0.1:9/hooks", "order.status_changed")
    with transaction.atomic():
        emit("order.status_changed", shop.store.pk, {"order": "X-1"})
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(*_permissions("view_webhookdelivery"))
    client.force_login(staff)

    response = client.post(f"/admin/webhooks/webhookdelivery/{delivery.pk}/redeliver/")

    assert response.status_code == 403
    assert delivery.attempt_log.count() == 0


def _permissions(*codenames):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="webhooks", codename__in=codenames)


def test_the_backoffice_api_manages_endpoints_with_permissions(shop):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(*_permissions("view_webhookendpoint", "add_webhookendpoint", "change_webhookendpoint"))
    api = client_for(staff)

    created = api.post(
        "/api/v1/backoffice/webhooks/",
        {"store": shop.store.code, "url": "https://shop.example/hooks", "event_types": ["order.shipped"]},
    )
    listed = api.get("/api/v1/backoffice/webhooks/")
    changed = api.patch(f"/api/v1/backoffice/webhooks/{created.json()['id']}/", {"active": False})
    removed = api.delete(f"/api/v1/backoffice/webhooks/{created.json()['id']}/")
    bad = api.post(
        "/api/v1/backoffice/webhooks/", {"store": "\u0000", "url": "https://x.example/", "event_types": ["order.eaten"]}
    )
    customer = client_for(UserFactory()).get("/api/v1/backoffice/webhooks/")

    assert created.status_code == 201, created.content
    assert created.json()["secret"].startswith("whsec_")
    assert listed.json()["count"] == 1
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert removed.status_code == 403  # no delete permission
    assert bad.status_code == 400
    assert set(bad.json()["error"]["details"]) == {"store", "event_types"}
    assert customer.status_code == 403


def test_a_signature_is_refused_when_old_or_tampered():
    body = b'{"id":"evt_1"}'
    header = signature_header(secret="s3cret", body=body, timestamp=1_000_000)

    assert signature_verify(secret="s3cret", header=header, body=body, now=1_000_100)
    assert not signature_verify(secret="s3cret", header=header, body=body, now=1_000_000 + 3600)
    assert not signature_verify(secret="s3cret", header=header, body=body + b" ", now=1_000_100)
    assert not signature_verify(secret="s3cret", header="v1=abc", body=body)


def test_a_store_no_endpoint_listens_to_costs_no_statement(shop, django_assert_num_queries):
    endpoint_for(shop.store, "https://shop.example/hooks", "order.shipped")
    shop.store.refresh_from_db()

    with django_assert_num_queries(0):
        assert emit("order.status_changed", shop.store, {"order": "X-1"}) is None


def test_the_sweeper_sends_a_delivery_whose_task_was_lost(shop, receiver):
    server = receiver()
    endpoint_for(shop.store, server.url, "order.status_changed")
    with transaction.atomic():  # committed, but its task never ran (a worker killed, a broker lost)
        emit("order.status_changed", shop.store.pk, {"order": "X-1"})
    delivery = WebhookDelivery.objects.get()
    out = StringIO()

    call_command("deliver_webhooks", stdout=out)  # not due yet: the task may still come
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    call_command("deliver_webhooks", stdout=out)

    assert out.getvalue().split() == ["attempted=0", "attempted=1"]
    delivery.refresh_from_db()
    assert (delivery.status, len(server.requests)) == ("succeeded", 1)
