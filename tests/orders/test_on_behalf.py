"""Orders placed by staff on behalf of a customer: API and admin page (DESIGN section 16)."""

import pytest

from commerce.models import Customer
from orders.models import Order
from tests.conftest import client_for
from tests.orders.conftest import ADDRESS, order_body, place, user

pytestmark = pytest.mark.django_db


def alice() -> Customer:
    return Customer.objects.get(user__username="alice")


def test_staff_place_an_order_for_a_customer_through_the_api(as_user):
    clerk = client_for(user("clerk"))
    body = {**order_body(("DEMO-TSHIRT", 2)), "customer": alice().number}

    response = clerk.post("/api/v1/backoffice/orders/", body, format="json")

    assert response.status_code == 201, response.json()
    order = Order.objects.get(number=response.json()["number"])
    assert order.customer == alice() and order.placed_by == user("clerk")
    assert order.status == "C"
    created = order.events.get(message__startswith="Order created")
    assert created.actor == user("clerk")
    assert created.extra["customer"] == alice().number
    assert created.message == f"Order created by clerk for customer {alice().number}"
    assert set(order.events.exclude(actor=None).values_list("actor__username", flat=True)) == {"clerk"}
    # The order is the customer's: they see it in their own list.
    mine = as_user("alice").get("/api/v1/orders/").json()["results"]
    assert [row["number"] for row in mine] == [order.number]


def test_an_unknown_customer_is_a_400_naming_the_field(as_user):
    clerk = client_for(user("clerk"))

    response = clerk.post(
        "/api/v1/backoffice/orders/", {**order_body(("DEMO-TSHIRT", 1)), "customer": "CNOPE"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "customer" in response.json()["error"]["details"]


@pytest.mark.parametrize("who", ["warehouse", "payments", "alice"])
def test_only_staff_with_add_order_may(as_user, who):
    response = client_for(user(who)).post(
        "/api/v1/backoffice/orders/", {**order_body(("DEMO-TSHIRT", 1)), "customer": alice().number}, format="json"
    )

    assert response.status_code == 403
    assert not Order.objects.exists()


def test_the_admin_page_prefills_the_last_ship_to_and_shows_atp(as_user, client):
    place(as_user("alice"), ("DEMO-TSHIRT", 1))
    client.force_login(user("clerk"))

    page = client.get("/admin/orders/order/place-for-customer/", {"customer": alice().pk})

    content = page.content.decode()
    assert page.status_code == 200
    assert f'value="{ADDRESS["line1"]}"' in content
    assert "DEMO-TSHIRT · Demo T-shirt · ATP 149" in content  # 100 + 50 on hand, one allocated


def test_the_admin_page_places_the_order_as_the_staff_user(as_user, client):
    client.force_login(user("clerk"))
    form = {
        "ship_to_name": "Alice Example",
        "ship_to_line1": "12 Elm Street",
        "ship_to_city": "Springfield",
        "ship_to_region": "IL",
        "ship_to_postal_code": "62701",
        "ship_to_country": "us",
        "ship_mode": "STANDARD",
        "payment_method": "card",
        "payment_token": "tok_approve",
        "sku_0": "DEMO-MUG",
        "quantity_0": "2",
        "coupon": "",
    }

    response = client.post(f"/admin/orders/order/place-for-customer/?customer={alice().pk}", form)

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/orders/order/{order.pk}/change/"
    assert (order.customer, order.placed_by, order.ship_to_country) == (alice(), user("clerk"), "US")
    page = client.get(response["Location"]).content.decode()
    assert "clerk" in page and alice().number in page


def test_the_admin_page_needs_add_order(as_user, client):
    client.force_login(user("warehouse"))

    assert client.get("/admin/orders/order/place-for-customer/").status_code == 403
