"""Security: another customer's orders stay invisible, the back office refuses whoever lacks the permission,
logins are throttled, and an unexpected error tells the client nothing about the server.

Already covered elsewhere: 401 without credentials (tests/commerce/test_api.py), a first login throttle
check, storefront refusing staff accounts (tests/orders/test_api.py).
"""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from commerce.api.permissions import StaffPermission
from commerce.roles import ROLE_PERMISSIONS
from orders import services
from orders.models import Order, OrderStatus
from tests.conftest import client_for
from tests.factories.commerce import CustomerFactory, OrganizationFactory, StaffUserFactory, UserFactory
from tests.factories.commerce import currency as currency_row
from tests.reliability.conftest import ADDRESS, place, token_header

pytestmark = pytest.mark.django_db

S = OrderStatus
METHODS = ("get", "post", "put", "patch", "delete")
SAMPLE_ARGUMENTS = {"str": "NO-SUCH-1", "key": "NO-SUCH-1", "int": "987654", "slug": "no-such", "path": "no/such"}


def routes(patterns=None, prefix: str = ""):
    """Every URL pattern of the project as (route, view class), routes with their converters."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "view_class"):
            yield route, pattern.callback.view_class


def concrete(route: str) -> str:
    return "/" + re.sub(r"<(\w+):\w+>", lambda match: SAMPLE_ARGUMENTS[match.group(1)], route)


BACKOFFICE = sorted(
    (route, method, view)
    for route, view in routes()
    if route.startswith("api/v1/backoffice/")
    for method in METHODS
    if hasattr(view, method)
)


def required_permissions(view) -> tuple[str, ...]:
    staff_checks = [cls for cls in view.permission_classes if issubclass(cls, StaffPermission)]
    return tuple(perm for cls in staff_checks for perm in cls.required)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    return body


def test_there_are_back_office_routes_and_each_needs_staff_with_a_permission():
    assert len({route for route, _, _ in BACKOFFICE}) >= 13
    for route, _, view in BACKOFFICE:
        assert required_permissions(view), f"{route} lets any staff member in"


@pytest.mark.parametrize(("route", "method", "view"), BACKOFFICE, ids=[f"{m.upper()} {r}" for r, m, _ in BACKOFFICE])
def test_back_office_refuses_customers_and_staff_without_the_permission(roles, route, method, view):
    url = concrete(route)
    required = set(required_permissions(view))
    lacking = [role for role, perms in ROLE_PERMISSIONS.items() if not required <= set(perms)]
    holding = [role for role, perms in ROLE_PERMISSIONS.items() if required <= set(perms)]
    refused = {"customer": CustomerFactory().user, "staff without a role": StaffUserFactory()}
    for role in lacking:
        refused[role] = StaffUserFactory()
        refused[role].groups.add(Group.objects.get(name=role))

    assert_error(getattr(APIClient(), method)(url, {}, format="json"), 401, "not_authenticated")
    for who, user in refused.items():
        response = getattr(client_for(user), method)(url, {}, format="json")
        assert response.status_code == 403, f"{who}: {response.status_code}"
        assert_error(response, 403, "permission_denied")
    # A role made for the job gets past the permission check (to the unknown object or the body check,
    # or to a list of what there is).
    assert holding, f"no role may use {route}"
    allowed = StaffUserFactory()
    allowed.groups.add(Group.objects.get(name=holding[0]))
    passed = (200, 400, 404, 409) if method == "get" and "<" not in route else (400, 404, 409)
    assert getattr(client_for(allowed), method)(url, {}, format="json").status_code in passed


def normalized(response, number: str) -> tuple[int, str]:
    return response.status_code, response.content.decode().replace(number, "<number>")


def test_another_customers_order_answers_exactly_as_a_missing_one(shop):
    tshirt, _, _ = shop.products
    alice, mallory = CustomerFactory(), CustomerFactory()
    order = place([(tshirt, 1)], customer=alice)
    events = order.events.count()
    as_mallory = client_for(mallory.user)
    missing = "260101-ZZZZZZ"

    for method, suffix, body in [
        ("get", "", None),
        ("post", "cancel/", {"reason": "mine now"}),
        ("post", "approve/", {}),
        ("post", "reject/", {"reason": "no"}),
    ]:
        theirs = getattr(as_mallory, method)(f"/api/v1/orders/{order.number}/{suffix}", body, format="json")
        nobody = getattr(as_mallory, method)(f"/api/v1/orders/{missing}/{suffix}", body, format="json")
        assert_error(theirs, 404, "not_found")
        assert normalized(theirs, order.number) == normalized(nobody, missing), suffix

    listed = as_mallory.get("/api/v1/orders/", {"status": S.AUTHORIZED}).json()
    assert (listed["count"], listed["results"]) == (0, [])
    order.refresh_from_db()
    assert (order.status, order.events.count()) == (S.AUTHORIZED, events)


def test_an_approver_of_another_organization_cannot_see_or_decide_an_order(shop):
    usd = currency_row("USD")
    acme = OrganizationFactory(code="acme", approval_threshold=Decimal("0"), approval_currency=usd)
    rival = OrganizationFactory(code="rival")
    outsider = UserFactory()
    rival.approvers.add(outsider)
    buyer = CustomerFactory(organization=acme)
    order, _ = services.order_place(
        data=services.PlacementInput(
            customer=buyer,
            items=[services.ItemInput(product=shop.products[0], quantity=1)],
            payment_method="card",
            payment_token="tok_approve",
            shipping_address=ADDRESS,
        )
    )
    assert order.status == S.AWAITING_APPROVAL
    as_outsider = client_for(outsider)

    assert as_outsider.get("/api/v1/approvals/").json()["results"] == []
    for action in ("approve", "reject"):
        theirs = as_outsider.post(f"/api/v1/orders/{order.number}/{action}/", {"reason": "x"}, format="json")
        nobody = as_outsider.post(f"/api/v1/orders/260101-ZZZZZZ/{action}/", {"reason": "x"}, format="json")
        assert_error(theirs, 404, "not_found")
        assert normalized(theirs, order.number) == normalized(nobody, "260101-ZZZZZZ")
    assert Order.objects.get(pk=order.pk).status == S.AWAITING_APPROVAL


def test_login_throttle_refuses_even_the_right_password_and_says_when_to_retry():
    UserFactory(username="victim")  # password "pw"
    client = APIClient()
    guesses = [client.post("/api/v1/auth/token/", {"username": "victim", "password": f"guess{n}"}) for n in range(10)]

    right = client.post("/api/v1/auth/token/", {"username": "victim", "password": "pw"})

    assert [response.status_code for response in guesses] == [400] * 10
    body = assert_error(right, 429, "throttled")
    assert "token" not in body
    assert 0 < body["error"]["details"]["retry_after_seconds"] <= 60
    assert int(right["Retry-After"]) > 0


def assert_tells_nothing(response, secrets: list[str]) -> None:
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {"code": "server_error", "message": "The server could not complete the request.", "details": {}}
    }
    content = response.content.decode()
    for leak in ["Traceback", "RuntimeError", "File ", *secrets]:
        assert leak not in content


def test_an_unexpected_error_answers_the_contract_body_and_nothing_else(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.reliability.urls"
    database = settings.DATABASES["default"]

    response = Client(raise_request_exception=False).get("/api/v1/test-only/broken/")

    assert_tells_nothing(response, [settings.SECRET_KEY, str(database["NAME"]), "bug: key="])


def test_a_service_failing_unexpectedly_during_checkout_answers_the_contract_body(settings, shop, monkeypatch):
    settings.DEBUG = False

    def broken(**kwargs):
        raise RuntimeError(f"connection to {settings.DATABASES['default']['NAME']} lost; key {settings.SECRET_KEY}")

    monkeypatch.setattr(services, "order_place", broken)
    customer = CustomerFactory()
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=token_header(customer.user))
    body = {
        "items": [{"sku": shop.products[0].sku, "quantity": 1}],
        "payment": {"method": "card", "token": "tok_approve"},
        "shipping_address": {"name": "A", "line1": "1 St", "city": "C", "postal_code": "1", "country": "US"},
    }

    response = client.post("/api/v1/orders/", body, content_type="application/json")

    assert_tells_nothing(response, [settings.SECRET_KEY, "connection to"])
    assert not Order.objects.exists()
