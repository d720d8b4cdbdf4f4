"""Back-office pick batch API: create, read, and print the two PDFs."""

import pytest

from commerce.roles import ORDER_CLERK, SUPERVISOR, WAREHOUSE
from fulfillment.batches import pick_batch_create
from fulfillment.models import Document, PrintRecord
from tests.conftest import client_for
from tests.factories.fulfillment import released_order
from tests.fulfillment.conftest import pdf_pages

pytestmark = pytest.mark.django_db

CREATE = "/api/v1/backoffice/pick-batches/"


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


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
def batch(order, east):
    return pick_batch_create(fulfillment_center=east)


def pdf_url(batch, kind: str) -> str:
    return f"/api/v1/backoffice/pick-batches/{batch.pk}/{kind}.pdf"


def test_create_returns_the_batch_with_its_releases_and_items(warehouse, order):
    response = warehouse.post(CREATE, {"fulfillment_center": "EAST"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "open"
    assert body["number"].startswith("PB-")
    assert (body["fulfillment_center"], body["created_by"], body["expedited"]) == ("EAST", "wh", False)
    (release,) = body["releases"]
    assert (release["number"], release["order"], release["status"], release["tote"]) == (
        f"{order.number}-1",
        order.number,
        "batched",
        1,
    )
    assert [(i["sku"], i["quantity"]) for i in release["items"]] == [("SKU-1", 2), ("SKU-2", 1)]
    assert release["ship_to"]["postal_code"] == order.ship_to_postal_code
    assert {d["kind"]: d["status"] for d in body["documents"]} == {"pick_ticket": "pending", "packing_slips": "pending"}
    assert body["documents"][0]["url"].startswith("http://testserver/api/v1/backoffice/pick-batches/")


def test_create_with_nothing_ready_is_409_nothing_to_pick(warehouse, east):
    assert_error(warehouse.post(CREATE, {"fulfillment_center": "EAST"}, format="json"), 409, "nothing_to_pick")


@pytest.mark.parametrize(
    ("body", "field"), [({}, "fulfillment_center"), ({"fulfillment_center": "MOON"}, "fulfillment_center")]
)
def test_create_bad_input_is_400_naming_the_field(warehouse, east, body, field):
    error = assert_error(warehouse.post(CREATE, body, format="json"), 400, "validation_error")

    assert field in error["details"]
    assert error["message"].startswith(field)


def test_create_needs_the_permission(supervisor, customer_client, east, api_client):
    assert_error(supervisor.post(CREATE, {"fulfillment_center": "EAST"}, format="json"), 403, "permission_denied")
    assert_error(customer_client.post(CREATE, {"fulfillment_center": "EAST"}, format="json"), 403, "permission_denied")
    assert_error(api_client.post(CREATE, {"fulfillment_center": "EAST"}, format="json"), 401, "not_authenticated")


def test_detail(supervisor, batch):
    response = supervisor.get(f"{CREATE}{batch.pk}/")

    assert response.status_code == 200
    assert response.json()["number"] == batch.number


def test_detail_unknown_is_404(supervisor, east):
    assert_error(supervisor.get(f"{CREATE}999999/"), 404, "not_found")


def test_detail_needs_the_permission(staff_in_role, customer_client, batch):
    clerk = client_for(staff_in_role(ORDER_CLERK, "clerk"))

    assert_error(clerk.get(f"{CREATE}{batch.pk}/"), 403, "permission_denied")
    assert_error(customer_client.get(f"{CREATE}{batch.pk}/"), 403, "permission_denied")


@pytest.mark.parametrize("kind", ["pick-ticket", "packing-slips"])
def test_pdf_is_served_and_the_print_recorded(warehouse, batch, order, kind):
    response = warehouse.get(pdf_url(batch, kind), HTTP_ACCEPT="application/pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f"{batch.number}-{kind}.pdf" in response["Content-Disposition"]
    (page,) = pdf_pages(b"".join(response.streaming_content))
    assert batch.number in page and order.number in page
    record = PrintRecord.objects.get()
    assert (record.user.username, record.document.kind, record.reprint) == ("wh", kind.replace("-", "_"), False)


def test_printing_the_pick_ticket_marks_the_batch_printed(warehouse, batch):
    warehouse.get(pdf_url(batch, "pick-ticket"))
    warehouse.get(pdf_url(batch, "pick-ticket"))

    batch.refresh_from_db()
    assert batch.status == "printed"
    assert list(PrintRecord.objects.order_by("pk").values_list("reprint", flat=True)) == [False, True]


def test_pdf_of_a_large_batch_still_rendering_is_202_with_retry(warehouse, east, products, settings):
    settings.PICK_BATCH_SYNC_RENDER_LIMIT = 1
    for _ in range(2):
        released_order(lines=[(products[0], {east: 1})])
    batch = pick_batch_create(fulfillment_center=east)

    response = warehouse.get(pdf_url(batch, "packing-slips"))

    error = assert_error(response, 202, "document_rendering")
    assert "retry" in error["message"]
    assert int(response["Retry-After"]) > 0
    assert Document.objects.get(batch=batch, kind="packing_slips").status == "pending"
    assert not PrintRecord.objects.exists()


def test_pdf_of_an_unknown_batch_is_a_json_404_even_asking_for_pdf(warehouse, east):
    response = warehouse.get("/api/v1/backoffice/pick-batches/999999/pick-ticket.pdf", HTTP_ACCEPT="application/pdf")

    assert response["Content-Type"] == "application/json"
    assert_error(response, 404, "not_found")


def test_pdf_needs_the_print_permission(supervisor, customer_client, batch):
    assert_error(supervisor.get(pdf_url(batch, "pick-ticket")), 403, "permission_denied")
    assert_error(customer_client.get(pdf_url(batch, "packing-slips")), 403, "permission_denied")
    assert not PrintRecord.objects.exists()


def test_detail_reads_a_constant_number_of_queries(supervisor, east, products, django_assert_max_num_queries):
    for _ in range(6):
        released_order(lines=[(products[0], {east: 1}), (products[1], {east: 2})])
    batch = pick_batch_create(fulfillment_center=east)

    with django_assert_max_num_queries(12):
        response = supervisor.get(f"{CREATE}{batch.pk}/")

    assert len(response.json()["releases"]) == 6
