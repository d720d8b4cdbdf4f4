"""The returns admin without a browser: permissions of each button, the order page, the dashboard panel."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from orders.returns.models import ReturnRequest
from tests.orders.returns.conftest import ask_return, login, place_and_ship

pytestmark = pytest.mark.django_db


def admin_client(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


@pytest.fixture
def pending(demo) -> ReturnRequest:
    order = place_and_ship("alice", ("DEMO-LAPTOP", 1))
    number = ask_return(login("alice"), order.number, ("DEMO-LAPTOP", 1, "damaged")).json()["number"]
    return ReturnRequest.objects.get(number=number)


@pytest.mark.parametrize(
    ("username", "action", "status"),
    [
        ("warehouse", "approve", 403),
        ("warehouse", "deny", 403),
        ("clerk", "receive", 403),
        ("payments", "credit", 403),
        ("clerk", "approve", 200),
        ("clerk", "deny", 200),
        ("supervisor", "approve", 200),
    ],
)
def test_each_button_needs_its_permission(pending, username, action, status):
    response = admin_client(username).get(f"/admin/orders/returnrequest/{pending.pk}/action/{action}/")
    assert response.status_code == status


def test_a_post_without_the_permission_changes_nothing(pending):
    response = admin_client("warehouse").post(
        f"/admin/orders/returnrequest/{pending.pk}/action/approve/", {f"approve_{pending.items.get().pk}": "on"}
    )
    assert response.status_code == 403
    assert ReturnRequest.objects.get(pk=pending.pk).status == "PND"


def test_deny_needs_a_reason_and_then_cancels(pending):
    clerk = admin_client("clerk")
    url = f"/admin/orders/returnrequest/{pending.pk}/action/deny/"
    assert clerk.post(url, {"reason": ""}).status_code == 200  # the form again, with its error
    assert ReturnRequest.objects.get(pk=pending.pk).status == "PND"
    assert clerk.post(url, {"reason": "Used"}).status_code == 302
    assert ReturnRequest.objects.get(pk=pending.pk).status == "CAN"


def test_the_page_shows_the_buttons_the_user_may_press_and_the_deny_reasons(pending):
    page = admin_client("clerk").get(f"/admin/orders/returnrequest/{pending.pk}/change/").content.decode()
    assert 'data-action="approve"' in page and 'data-action="deny"' in page
    assert 'data-action="receive"' not in page
    assert "above the auto-approve limit" in page


def test_the_order_page_lists_its_returns_and_the_dashboard_counts_them(pending):
    clerk = admin_client("clerk")
    order_page = clerk.get(f"/admin/orders/order/{pending.order_id}/change/").content.decode()
    assert pending.number in order_page
    dashboard = clerk.get("/admin/").content.decode()
    assert 'id="dashboard-returns"' in dashboard
    assert "Waiting for approval" in dashboard
    customer_less = admin_client("payments").get("/admin/").content.decode()
    assert 'id="dashboard-returns"' in customer_less  # every role sees returns; only some may act on them
