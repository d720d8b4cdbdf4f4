"""Bad input: every operation of the OpenAPI schema, fed generated requests, by a customer and by staff.

Whatever comes in, the answer is never a 5xx, and every error is the contract body
``{"error": {"code", "message", "details"}}``. Each generated request is sent as generated (unknown ids
mostly) and again aimed at real objects (the customer's order, a pick batch, a release, a package), so
generated bodies also meet objects they can change.
"""

import re

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from commerce.jobs import job_run
from commerce.webhooks.models import WebhookEndpoint
from fulfillment.batches import pick_batch_create
from fulfillment.shipping import package_create
from orders.jobs import RELEASE_TO_FULFILLMENT
from tests.factories.commerce import CustomerFactory, UserFactory
from tests.reliability.conftest import place, token_header

# Generated requests per operation, on top of the coverage phase's cases (wrong methods, missing and
# mistyped fields, boundary values) that the schema defines.
EXAMPLES_PER_OPERATION = 10
CONFIG = SchemathesisConfig.from_dict({"seed": 20261122, "phases": {"coverage": {"enabled": True}}})


schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=CONFIG)
load_all_checks()
# Every check schemathesis has: no 5xx, and status codes, content types, headers and bodies as documented;
# and input the schema refuses is refused. Only positive_data_acceptance is left out: a schema-valid body
# may name a SKU, a center or a currency that does not exist, which the contract answers 400
# validation_error (DESIGN section 11) and no schema can express.
ALL_CHECKS = [check for check in CHECKS.get_all() if check.__name__ != "positive_data_acceptance"]


@pytest.fixture(autouse=True)
def keep_the_tests_connection():
    """Keep the WSGI handler from closing the connection that holds the test's transaction.

    Django's own test client does the same around its requests.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(shop):
    """A customer with orders in several states, a superuser, and a batch with a packed release."""
    customer = CustomerFactory()
    tshirt, mug, _ = shop.products
    released = place([(tshirt, 1), (mug, 2)], customer=customer)
    job_run(spec=RELEASE_TO_FULFILLMENT)
    order = place([(tshirt, 2)], customer=customer)
    batch = pick_batch_create(fulfillment_center=shop.east)
    release = batch.releases.get(order=released)
    package = package_create(release=release, carrier="UPS", tracking_number="1Z999")
    webhook = WebhookEndpoint.objects.create(
        store=shop.store, url="https://hooks.example/in", event_types=["order.shipped"]
    )
    staff = UserFactory(username="root", is_staff=True, is_superuser=True)
    tokens = {
        "customer": token_header(customer.user),
        "staff": token_header(staff),
    }
    real = {
        "number": order.number,
        "sku": tshirt.sku,
        "pick-batches": batch.pk,
        "releases": release.pk,
        "packages": package.pk,
        "webhooks": webhook.pk,
    }
    return tokens, real


def aimed_at_real_objects(case, real: dict) -> dict:
    """The case's path parameters replaced by the ids of existing objects of the right kind."""
    parameters = dict(case.path_parameters or {})
    for name in parameters:
        if name == "id":
            kind = re.search(r"/backoffice/([a-z-]+)/\{id\}", case.path).group(1)
            parameters[name] = real[kind]
        else:
            parameters[name] = real[name]
    return parameters


def assert_answer_keeps_the_contract(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:500]}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, f"{what}: {body}"
        assert set(body["error"]) == {"code", "message", "details"}, f"{what}: {body}"
        assert isinstance(body["error"]["code"], str) and body["error"]["code"], f"{what}: {body}"
        assert isinstance(body["error"]["message"], str) and body["error"]["message"], f"{what}: {body}"
        assert isinstance(body["error"]["details"], (dict, list)), f"{what}: {body}"


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_input_gets_a_server_error_or_an_error_outside_the_contract(case, fuzz_world):
    tokens, real = fuzz_world
    generated = dict(case.path_parameters or {})
    targets = [generated, aimed_at_real_objects(case, real)] if generated else [generated]
    for who, token in tokens.items():
        for parameters in targets:
            case.path_parameters = parameters
            response = case.call(headers={"Authorization": token})
            assert_answer_keeps_the_contract(response, f"{who} {case.method} {case.formatted_path}")
            case.validate_response(response, checks=ALL_CHECKS, headers={"Authorization": token})


@pytest.mark.parametrize(
    ("who", "path", "status", "code"),
    [
        # In a path parameter a NUL byte names nothing: the route does not match.
        ("customer", "/api/v1/orders/A%00B/", 404, "not_found"),
        ("customer", "/api/v1/products/A%00B/availability/", 404, "not_found"),
        ("staff", "/api/v1/backoffice/orders/A%00B/", 404, "not_found"),
        # In a query string it is refused before any view runs.
        ("customer", "/api/v1/orders/?status=%00", 400, "validation_error"),
        ("customer", "/api/v1/products/?search=a%00", 400, "validation_error"),
        ("staff", "/api/v1/backoffice/orders/?status=A&%00=1", 400, "validation_error"),
    ],
)
def test_a_nul_byte_in_a_path_or_query_string_gets_a_contract_error(fuzz_world, who, path, status, code):
    tokens, _ = fuzz_world

    response = Client(raise_request_exception=False).get(path, HTTP_AUTHORIZATION=tokens[who])

    assert response.status_code == status
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    "path",
    ["/admin/orders/order/?status=%00", "/admin/orders/order/?q=%00", "/admin/fulfillment/stock/?q=a%00"],
)
def test_a_nul_byte_in_an_admin_query_string_is_a_bad_request(db, path):
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.get(path)

    assert response.status_code == 400
    assert b"NUL byte" in response.content


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/v1/backoffice/inventory/receipts/",
            {"fulfillment_center": "\u0000", "sku": "REL-0", "quantity": 1},
            "fulfillment_center",
        ),
        (
            "/api/v1/backoffice/inventory/receipts/",
            {"fulfillment_center": "EAST", "sku": "RE\u0000L", "quantity": 1},
            "sku",
        ),
        ("/api/v1/backoffice/pick-batches/", {"fulfillment_center": "\u0000"}, "fulfillment_center"),
        (
            "/api/v1/backoffice/webhooks/",
            {"store": "\u0000", "url": "https://x.example/", "event_types": ["order.shipped"]},
            "store",
        ),
        ("/api/v1/backoffice/pick-batches/", {"fulfillment_center": "E" * 65}, "fulfillment_center"),
        ("/api/v1/backoffice/pick-batches/", {"fulfillment_center": 7}, "fulfillment_center"),
    ],
)
def test_a_key_naming_a_related_object_is_checked_as_text_before_any_lookup(fuzz_world, path, body, field):
    tokens, _ = fuzz_world

    response = Client(raise_request_exception=False).post(
        path, body, content_type="application/json", HTTP_AUTHORIZATION=tokens["staff"]
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert list(response.json()["error"]["details"]) == [field]


def test_text_where_a_number_is_sent_is_refused(fuzz_world):
    tokens, real = fuzz_world

    response = Client().post(
        f"/api/v1/orders/{real['number']}/cancel/",
        {"reason": 0},
        content_type="application/json",
        HTTP_AUTHORIZATION=tokens["customer"],
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"reason": ["Not a valid string."]}
