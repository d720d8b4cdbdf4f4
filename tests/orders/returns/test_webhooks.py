"""A return's changes reach the storefront as return.updated webhooks, after commit."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from commerce.models import Store
from commerce.webhooks.models import WebhookEndpoint
from commerce.webhooks.signing import signature_verify
from tests.orders.returns.conftest import ask_return, login, place_and_ship

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    requests: list[tuple[dict, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            requests.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/returns", requests
    server.shutdown()
    server.server_close()


def test_asking_and_cancelling_a_return_are_delivered_signed(demo, received, django_capture_on_commit_callbacks):
    url, requests = received
    endpoint = WebhookEndpoint.objects.create(
        store=Store.objects.get(code="demo"), url=url, event_types=["return.updated"]
    )
    order = place_and_ship("alice", ("DEMO-TSHIRT", 2))
    alice = login("alice")

    with django_capture_on_commit_callbacks(execute=True):
        number = ask_return(alice, order.number, ("DEMO-TSHIRT", 1, "not_needed")).json()["number"]
    with django_capture_on_commit_callbacks(execute=True):
        alice.post(f"/api/v1/returns/{number}/cancel/", {"reason": "Kept it"})

    events = [json.loads(body) for _, body in requests]
    assert {e["type"] for e in events} == {"return.updated"}
    assert {e["data"]["return"] for e in events} == {number}
    assert all(e["data"]["order"] == order.number and e["data"]["store"] == "demo" for e in events)
    assert events[-1]["data"]["status"] == "CAN"
    assert all(signature_verify(secret=endpoint.secret, header=h["X-Signature"], body=b) for h, b in requests)
