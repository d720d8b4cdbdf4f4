"""Back-office packing and shipment API."""

import pytest

from commerce.roles import SUPERVISOR, WAREHOUSE
from fulfillment.batches import pick_batch_create
from fulfillment.models import Package, Release
from fulfillment.shipping import package_create
from tests.conftest import client_for
from tests.factories.fulfillment import released_order
from tests.fulfillment.test_api_pick_batches import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def warehouse(staff_in_role):
    return client_for(staff_in_role(WAREHOUSE, "wh"))


@pytest.fixture
def supervisor(staff_in_role):
    return client_for(staff_in_role(SUPERVISOR, "sup"))


@pytest.fixture
def order(east, products):
    return released_order(lines=[(products[0], {east: 2}), (products[1], {east: 1})])


@pytest.fixture
def release(order, east):
    pick_batch_create(fulfillment_center=east)
    return Release.objects.get(order=order)


def packages_url(release) -> str:
    return f"/api/v1/backoffice/releases/{release.pk}/packages/"


def confirm_url(package) -> str:
    return f"/api/v1/backoffice/packages/{package.pk}/confirm-shipment/"


def test_pack_everything_unpacked_by_default(warehouse, release, order):
    response = warehouse.post(
        packages_url(release), {"carrier": "UPS", "tracking_number": "1Z1", "weight": "2.5"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["release"], body["order"], body["status"]) == (release.number, order.number, "packed")
    assert (body["carrier"], body["tracking_number"], body["weight"], body["weight_unit"]) == (
        "UPS",
        "1Z1",
        "2.500",
        "kg",
    )
    assert [(i["sku"], i["quantity"]) for i in body["items"]] == [("SKU-1", 2), ("SKU-2", 1)]


def test_pack_chosen_items(warehouse, release, order):
    item = order.items.get(sku="SKU-1")

    response = warehouse.post(
        packages_url(release),
        {
            "items": [{"order_item": item.pk, "quantity": 1}],
            "carrier": "DHL",
            "tracking_number": "D1",
            "shipping_cost": "4.20",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert [(i["order_item"], i["quantity"]) for i in body["items"]] == [(item.pk, 1)]
    assert (body["shipping_cost"], body["currency"]) == ("4.20", "USD")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tracking_number": "1"}, "carrier"),
        ({"carrier": "UPS"}, "tracking_number"),
        ({"carrier": "UPS", "tracking_number": "1", "weight": "-1"}, "weight"),
        ({"carrier": "UPS", "tracking_number": "1", "weight_unit": "stone"}, "weight_unit"),
        ({"carrier": "UPS", "tracking_number": "1", "items": []}, "items"),
        ({"carrier": "UPS", "tracking_number": "1", "items": [{"order_item": "x", "quantity": 1}]}, "items"),
        ({"carrier": "UPS", "tracking_number": "1", "items": [{"order_item": 1, "quantity": 0}]}, "items"),
    ],
)
def test_pack_bad_input_is_400_naming_the_field(warehouse, release, body, field):
    error = assert_error(warehouse.post(packages_url(release), body, format="json"), 400, "validation_error")

    assert field in error["details"]
    assert error["message"].startswith(field)
    assert not Package.objects.exists()


def test_pack_more_than_unpacked_is_400_naming_items(warehouse, release, order):
    item = order.items.get(sku="SKU-2")
    body = {"items": [{"order_item": item.pk, "quantity": 5}], "carrier": "UPS", "tracking_number": "1"}

    error = assert_error(warehouse.post(packages_url(release), body, format="json"), 400, "validation_error")

    assert error["message"].startswith("items: Only 1 of SKU-2")


def test_pack_an_item_of_another_release_is_400(warehouse, release, east, products):
    other = released_order(lines=[(products[2], {east: 1})])
    body = {"items": [{"order_item": other.items.get().pk, "quantity": 1}], "carrier": "UPS", "tracking_number": "1"}

    error = assert_error(warehouse.post(packages_url(release), body, format="json"), 400, "validation_error")

    assert "not in release" in error["message"]


def test_pack_a_release_not_picked_yet_is_409(warehouse, east, products):
    order = released_order(lines=[(products[2], {east: 1})])
    release = Release.objects.get(order=order)

    body = {"carrier": "UPS", "tracking_number": "1"}
    assert_error(warehouse.post(packages_url(release), body, format="json"), 409, "invalid_transition")


def test_pack_unknown_release_is_404(warehouse, east):
    response = warehouse.post("/api/v1/backoffice/releases/999999/packages/", {"carrier": "U"}, format="json")

    assert_error(response, 404, "not_found")


def test_pack_needs_the_permission(supervisor, customer_client, release):
    body = {"carrier": "UPS", "tracking_number": "1"}

    assert_error(supervisor.post(packages_url(release), body, format="json"), 403, "permission_denied")
    assert_error(customer_client.post(packages_url(release), body, format="json"), 403, "permission_denied")


def test_confirm_shipment_ships_and_is_idempotent(warehouse, release, order):
    package = package_create(release=release, carrier="UPS", tracking_number="1Z1")

    first = warehouse.post(confirm_url(package))
    second = warehouse.post(confirm_url(package))

    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == "shipped"
    assert first.json()["shipped_at"] == second.json()["shipped_at"]
    order.refresh_from_db()
    assert order.status == "S"


def test_confirm_unknown_package_is_404(warehouse, east):
    assert_error(warehouse.post("/api/v1/backoffice/packages/999999/confirm-shipment/"), 404, "not_found")


def test_confirm_needs_the_permission(supervisor, customer_client, release):
    package = package_create(release=release, carrier="UPS", tracking_number="1Z1")

    assert_error(supervisor.post(confirm_url(package)), 403, "permission_denied")
    assert_error(customer_client.post(confirm_url(package)), 403, "permission_denied")
    package.refresh_from_db()
    assert package.status == "packed"


def test_confirm_with_a_body_ignores_it(warehouse, release):
    package = package_create(release=release, carrier="UPS", tracking_number="1Z1")

    response = warehouse.post(confirm_url(package), {"anything": "x"}, format="json")

    assert response.status_code == 200
