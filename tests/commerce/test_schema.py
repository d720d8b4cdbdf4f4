"""The OpenAPI schema is the contract typed clients are generated from (DESIGN section 19)."""

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db

METHODS = {"get", "post", "put", "patch", "delete"}
ERROR_REF = "#/components/schemas/ErrorResponse"


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_request_bodies_are_json_only(schema):
    bodies = [(p, m, set(o["requestBody"]["content"])) for p, m, o in operations(schema) if "requestBody" in o]

    assert bodies
    assert all(types == {"application/json"} for _, _, types in bodies), bodies


def test_every_operation_documents_its_errors_with_the_error_body(schema):
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        assert "400" in responses, (path, method)
        if path != "/api/v1/auth/token/":
            assert {"401", "403"} <= set(responses), (path, method)
        if "{" in path:
            assert "404" in responses, (path, method)
        if method != "get":
            assert "409" in responses, (path, method)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, (path, status)


def test_payment_declines_and_throttling_are_documented_where_they_happen(schema):
    paths = schema["paths"]

    assert "402" in paths["/api/v1/orders/"]["post"]["responses"]
    assert "402" in paths["/api/v1/orders/{number}/approve/"]["post"]["responses"]
    assert "402" not in paths["/api/v1/orders/{number}/cancel/"]["post"]["responses"]
    assert "429" in paths["/api/v1/auth/token/"]["post"]["responses"]


def test_the_error_body_has_an_enum_of_every_code(schema):
    components = schema["components"]["schemas"]
    codes = set(components["ErrorCodeEnum"]["enum"])

    assert components["ErrorResponse"]["properties"]["error"] == {"$ref": "#/components/schemas/Error"}
    assert components["Error"]["properties"]["code"] == {"$ref": "#/components/schemas/ErrorCodeEnum"}
    assert {
        "validation_error",
        "not_authenticated",
        "permission_denied",
        "not_found",
        "payment_declined",
        "insufficient_inventory",
        "invalid_transition",
        "spending_limit_exceeded",
        "no_exchange_rate",
        "purchase_order_invalid",
        "approval_required",
        "idempotency_key_reused",
        "nothing_to_pick",
        "throttled",
    } <= codes


def test_lists_are_documented_as_the_page_object_they_are(schema):
    paths = schema["paths"]
    components = schema["components"]["schemas"]

    for path, component in [
        ("/api/v1/orders/", "PaginatedOrderList"),
        ("/api/v1/approvals/", "PaginatedOrderList"),
        ("/api/v1/products/", "PaginatedProductList"),
    ]:
        ok = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{component}"}
    assert set(components["PaginatedOrderList"]["properties"]) == {"count", "next", "previous", "results"}


def test_statuses_are_enums(schema):
    components = schema["components"]["schemas"]
    order, item = components["Order"]["properties"], components["Item"]["properties"]

    assert components["OrderStatusEnum"]["enum"] == ["P", "I", "W", "N", "M", "A", "B", "C", "R", "S", "D", "X"]
    assert components["InventoryStatusEnum"]["enum"] == ["NALC", "ALLC", "BO", "FUL"]
    assert order["status"] == {"$ref": "#/components/schemas/OrderStatusEnum"}
    assert item["status"] == {"$ref": "#/components/schemas/OrderStatusEnum"}
    assert item["inventory_status"] == {"$ref": "#/components/schemas/InventoryStatusEnum"}


def test_money_is_a_decimal_string(schema):
    components = schema["components"]["schemas"]

    for component, field in [
        ("Product", "price"),
        ("Item", "unit_price"),
        ("Totals", "grand_total"),
        ("SpendingLimit", "remaining"),
    ]:
        prop = components[component]["properties"][field]
        assert prop["type"] == "string" and prop["format"] == "decimal", (component, prop)


def test_the_token_scheme_is_declared_and_required(schema):
    assert schema["components"]["securitySchemes"]["Token"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Send "Authorization: Token <key>"; get the key from POST /api/v1/auth/token/.',
    }
    assert {"Token": []} in schema["paths"]["/api/v1/orders/"]["post"]["security"]


def test_operation_ids_read_as_verbs(schema):
    ids = {(path, method): operation["operationId"] for path, method, operation in operations(schema)}

    assert ids[("/api/v1/orders/", "post")] == "orders_create"
    assert ids[("/api/v1/orders/", "get")] == "orders_list"
    assert ids[("/api/v1/orders/{number}/", "get")] == "orders_retrieve"
    assert ids[("/api/v1/orders/{number}/cancel/", "post")] == "orders_cancel"
    assert ids[("/api/v1/backoffice/orders/{number}/approve-payment/", "post")] == "backoffice_orders_approve_payment"
    assert ids[("/api/v1/backoffice/releases/{id}/packages/", "post")] == "backoffice_releases_packages_create"
    assert ids[("/api/v1/products/{sku}/", "get")] == "products_retrieve"
    assert len(set(ids.values())) == len(ids)


def test_swagger_ui_and_redoc_come_from_the_projects_static_files(client):
    swagger = client.get("/api/docs/").content.decode()
    redoc = client.get("/api/redoc/").content.decode()

    for page in (swagger, redoc):
        assert "cdn." not in page and "unpkg" not in page and "jsdelivr" not in page
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in swagger
    assert "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in redoc
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert finders.find("drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js")
