"""The fulfillment admin: pages load, and its buttons and actions go through the services."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from commerce.roles import SUPERVISOR, WAREHOUSE
from fulfillment.batches import pick_batch_create
from fulfillment.models import Package, PickBatch, PrintRecord, Release
from fulfillment.shipping import package_create
from tests.factories.fulfillment import ExpectedReceiptLineFactory, released_order

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client_(db):
    return logged_in(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))


@pytest.fixture
def warehouse(staff_in_role):
    return logged_in(staff_in_role(WAREHOUSE, "wh"))


@pytest.fixture
def order(east, products):
    return released_order(lines=[(products[0], {east: 2})])


@pytest.mark.parametrize(
    "model",
    ["fulfillmentcenter", "stock", "expectedreceipt", "allocation", "release", "pickbatch", "package", "printrecord"],
)
def test_changelists_load(admin_client_, order, east, model):
    batch = pick_batch_create(fulfillment_center=east)
    package_create(release=batch.releases.get(), carrier="UPS", tracking_number="1")
    ExpectedReceiptLineFactory()

    assert admin_client_.get(f"/admin/fulfillment/{model}/").status_code == 200


def test_change_pages_load(admin_client_, order, east):
    batch = pick_batch_create(fulfillment_center=east)
    release = batch.releases.get()
    package = package_create(release=release, carrier="UPS", tracking_number="1")

    for url in (
        f"/admin/fulfillment/pickbatch/{batch.pk}/change/",
        f"/admin/fulfillment/release/{release.pk}/change/",
        f"/admin/fulfillment/package/{package.pk}/change/",
    ):
        response = admin_client_.get(url)
        assert response.status_code == 200, url
    assert b"Print pick ticket" in admin_client_.get(f"/admin/fulfillment/pickbatch/{batch.pk}/change/").content


def test_add_pick_batch_form_calls_the_service(warehouse, order, east):
    response = warehouse.post("/admin/fulfillment/pickbatch/add/", {"fulfillment_center": east.pk})

    batch = PickBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"/pickbatch/{batch.pk}/change/")
    assert (batch.created_by.username, batch.releases.get().order) == ("wh", order)


def test_add_pick_batch_with_nothing_ready_says_so(warehouse, east):
    response = warehouse.post("/admin/fulfillment/pickbatch/add/", {"fulfillment_center": east.pk}, follow=True)

    assert b"No release is ready to pick at EAST" in response.content
    assert not PickBatch.objects.exists()


def test_print_button_serves_the_pdf_and_records_the_print(warehouse, order, east):
    batch = pick_batch_create(fulfillment_center=east)

    response = warehouse.get(f"/admin/fulfillment/pickbatch/{batch.pk}/pick-ticket.pdf")

    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
    assert PrintRecord.objects.get().user.username == "wh"
    batch.refresh_from_db()
    assert batch.status == "printed"


def test_print_button_needs_the_permission(staff_in_role, order, east):
    batch = pick_batch_create(fulfillment_center=east)
    supervisor = logged_in(staff_in_role(SUPERVISOR, "sup"))

    assert supervisor.get(f"/admin/fulfillment/pickbatch/{batch.pk}/packing-slips.pdf").status_code == 403
    assert not PrintRecord.objects.exists()


def test_center_action_creates_a_pick_batch(warehouse, order, east):
    response = warehouse.post(
        "/admin/fulfillment/fulfillmentcenter/", {"action": "create_pick_batch", "_selected_action": [east.pk]}
    )

    assert response.status_code == 302
    assert PickBatch.objects.get().fulfillment_center == east


def test_pack_form_packs_everything_unpacked(warehouse, order, east):
    release = pick_batch_create(fulfillment_center=east).releases.get()

    response = warehouse.post(
        f"/admin/fulfillment/release/{release.pk}/pack/",
        {"carrier": "UPS", "tracking_number": "1Z", "weight": "1.5", "weight_unit": "kg"},
    )

    package = Package.objects.get()
    assert response["Location"].endswith(f"/package/{package.pk}/change/")
    assert list(package.items.values_list("quantity", flat=True)) == [2]


def test_pack_form_shows_the_service_refusal(warehouse, order):
    release = Release.objects.get(order=order)

    response = warehouse.post(
        f"/admin/fulfillment/release/{release.pk}/pack/",
        {"carrier": "UPS", "tracking_number": "1Z", "weight_unit": "kg"},
        follow=True,
    )

    assert b"only a release in a pick batch can be packed" in response.content
    assert not Package.objects.exists()


def test_confirm_shipment_action_and_button(warehouse, order, east, products):
    second = released_order(lines=[(products[1], {east: 1})])
    batch = pick_batch_create(fulfillment_center=east)
    first_package = package_create(release=batch.releases.get(order=order), carrier="UPS", tracking_number="1")
    second_package = package_create(release=batch.releases.get(order=second), carrier="UPS", tracking_number="2")

    warehouse.post(
        "/admin/fulfillment/package/", {"action": "confirm_shipment", "_selected_action": [first_package.pk]}
    )
    warehouse.post(f"/admin/fulfillment/package/{second_package.pk}/confirm-shipment/")

    assert list(Package.objects.order_by("pk").values_list("status", flat=True)) == ["shipped", "shipped"]
    assert PickBatch.objects.get().status == "done"


def test_order_release_inline_lists_releases_with_their_packages(order, east, rf):
    from django.contrib import admin

    from fulfillment.admin import OrderReleaseInline
    from orders.models import Order

    release = pick_batch_create(fulfillment_center=east).releases.get()
    package_create(release=release, carrier="UPS", tracking_number="1Z9")
    inline = OrderReleaseInline(Order, admin.site)
    request = rf.get("/")
    request.user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")

    (row,) = inline.get_queryset(request).filter(order=order)

    assert inline.shipments(row) == "UPS 1Z9 (packed)"
    assert release.number in inline.link(row)
