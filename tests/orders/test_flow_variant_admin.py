"""The admin for the flow variants: the store's variant, the I colour and count, shipping a non-ATP order."""

import pytest
from django.core.exceptions import ValidationError

from commerce.models import Store
from orders.models import Order
from tests.orders.conftest import place, user

pytestmark = pytest.mark.django_db


def admin_client(username: str):
    from django.test import Client

    client = Client()
    client.force_login(user(username))
    return client


def test_the_order_list_counts_and_colours_status_i(as_user, demo):
    place(as_user("alice"), ("DEMO-CAP", 1), method="cod", token="", store="demo-rules")

    page = admin_client("clerk").get("/admin/orders/order/").content.decode()

    assert "order-status-I" in page
    assert "I · Submitted" in page
    assert ".order-status-I {" in page


def test_the_order_page_shows_the_variant_and_a_non_atp_order_ships_from_its_form(as_user, demo):
    Store.objects.filter(code="demo-nonatp").update(
        payment_system="payment_rules", payment_rules={"card": "early_approval"}
    )
    number = place(as_user("alice"), ("DEMO-CAP", 2), store="demo-nonatp").json()["number"]
    order = Order.objects.get(number=number)
    warehouse = admin_client("warehouse")

    page = warehouse.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "inventory non_atp · payments payment_rules (card: early_approval)" in page
    assert f"/admin/orders/order/{order.pk}/ship/" in page

    response = warehouse.post(
        f"/admin/orders/order/{order.pk}/ship/", {"carrier": "UPS", "tracking_number": "1Z", "ship": ""}
    )

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "S"
    page = warehouse.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert f"Release {number}-1 shipped" in page


def test_the_shipping_form_needs_the_packing_permission(as_user, demo):
    number = place(as_user("alice"), ("DEMO-CAP", 2), store="demo-nonatp").json()["number"]
    order = Order.objects.get(number=number)

    response = admin_client("clerk").post(
        f"/admin/orders/order/{order.pk}/ship/", {"carrier": "UPS", "tracking_number": "1Z", "ship": ""}
    )

    assert response.status_code == 403
    assert Order.objects.get(pk=order.pk).status == "C"


def test_a_store_refuses_an_unknown_payment_rule(demo):
    store = Store.objects.get(code="demo-rules")
    store.payment_rules = {"card": "pay_whenever"}

    with pytest.raises(ValidationError) as caught:
        store.full_clean()

    assert "payment_rules" in caught.value.message_dict


def test_the_store_admin_edits_the_variant(demo):
    client = admin_client("admin")

    page = client.get(f"/admin/commerce/store/{Store.objects.get(code='demo-rules').pk}/change/").content.decode()

    assert 'name="inventory_system"' in page
    assert 'name="payment_system"' in page
    assert 'name="payment_rules"' in page
