"""The API base: authentication, the error body, products and availability, receipts."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from commerce.roles import SUPERVISOR, WAREHOUSE
from fulfillment.models import Stock
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


def test_no_credentials_is_401_with_www_authenticate(api_client):
    response = api_client.get("/api/v1/products/")

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_bad_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token nope")

    assert_error(api_client.get("/api/v1/products/"), 401, "not_authenticated")


def test_token_login_and_use(demo, api_client):
    response = api_client.post("/api/v1/auth/token/", {"username": "alice", "password": "demo-password"})
    assert response.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")

    skus = [p["sku"] for p in api_client.get("/api/v1/products/").json()["results"]]

    assert {"DEMO-TSHIRT", "DEMO-MUG", "DEMO-POSTER", "DEMO-LAPTOP"} <= set(skus)


def test_wrong_password_is_a_validation_error(demo, api_client):
    response = api_client.post("/api/v1/auth/token/", {"username": "alice", "password": "wrong"})

    assert_error(response, 400, "validation_error")


def test_login_is_throttled(demo, settings):
    from django.core.cache import cache

    cache.clear()
    client = APIClient()
    statuses = [
        client.post("/api/v1/auth/token/", {"username": "alice", "password": "wrong"}).status_code for _ in range(12)
    ]
    cache.clear()

    assert statuses[:10] == [400] * 10
    assert statuses[-1] == 429
    assert_error(client.post("/api/v1/auth/token/", {}), 400, "validation_error")


def test_demo_mug_availability(demo):
    client = client_for(
        __import__("django.contrib.auth", fromlist=["get_user_model"]).get_user_model().objects.get(username="alice")
    )

    body = client.get("/api/v1/products/DEMO-MUG/availability/").json()

    assert body["sku"] == "DEMO-MUG"
    assert body["available_quantity"] == 5
    assert body["backorderable"] is True
    assert body["estimated_available_at"] is not None


def test_unknown_sku_is_404(customer_client):
    assert_error(customer_client.get("/api/v1/products/NOPE/availability/"), 404, "not_found")


def test_unknown_api_path_is_json_404(customer_client):
    response = customer_client.get("/api/v1/does-not-exist/")

    assert_error(response, 404, "not_found")


def test_method_not_allowed(customer_client):
    assert_error(customer_client.delete("/api/v1/products/"), 405, "method_not_allowed")


def test_malformed_json_is_validation_error(demo, staff_in_role):
    client = client_for(staff_in_role(WAREHOUSE))

    response = client.post("/api/v1/backoffice/inventory/receipts/", data="{nope", content_type="application/json")

    assert_error(response, 400, "validation_error")


def test_receipt_raises_on_hand(demo, staff_in_role):
    client = client_for(staff_in_role(WAREHOUSE))

    response = client.post(
        "/api/v1/backoffice/inventory/receipts/",
        {"fulfillment_center": "EAST", "sku": "DEMO-MUG", "quantity": 8},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["on_hand"] == 13
    assert Stock.objects.get(product__sku="DEMO-MUG", fulfillment_center__code="EAST").on_hand == 13


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"fulfillment_center": "NOWHERE", "sku": "DEMO-MUG", "quantity": 1}, "fulfillment_center"),
        ({"fulfillment_center": "EAST", "sku": "NOPE", "quantity": 1}, "sku"),
        ({"fulfillment_center": "EAST", "sku": "DEMO-MUG", "quantity": 0}, "quantity"),
        ({"fulfillment_center": "EAST", "sku": "DEMO-MUG", "quantity": "many"}, "quantity"),
        ({"fulfillment_center": "EAST", "sku": "DEMO-MUG", "quantity": 10**12}, "quantity"),
        ({"sku": "DEMO-MUG", "quantity": 1}, "fulfillment_center"),
    ],
)
def test_bad_receipts_name_the_field(demo, staff_in_role, payload, field):
    client = client_for(staff_in_role(SUPERVISOR))

    response = client.post("/api/v1/backoffice/inventory/receipts/", payload, format="json")

    assert_error(response, 400, "validation_error")
    assert field in response.json()["error"]["details"]
    assert response.json()["error"]["message"].startswith(field)


def test_receipt_needs_permission(demo, customer_client, staff_in_role):
    from commerce.roles import PAYMENT_APPROVER

    payload = {"fulfillment_center": "EAST", "sku": "DEMO-MUG", "quantity": 1}
    assert_error(
        customer_client.post("/api/v1/backoffice/inventory/receipts/", payload, format="json"), 403, "permission_denied"
    )
    approver = client_for(staff_in_role(PAYMENT_APPROVER))
    assert_error(
        approver.post("/api/v1/backoffice/inventory/receipts/", payload, format="json"), 403, "permission_denied"
    )


def test_schema_and_docs_are_served(customer_client):
    schema = customer_client.get("/api/schema/")
    docs = customer_client.get("/api/docs/")

    assert schema.status_code == 200
    assert b"/api/v1/products/{sku}/availability/" in schema.content
    assert docs.status_code == 200
