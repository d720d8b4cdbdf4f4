"""The reference flow from an order to its shipment, through the contract commands and API only."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.db.models import Sum

from fulfillment.models import Allocation, Stock
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def login(username: str):
    return client_for(get_user_model().objects.get(username=username))


def stock(sku: str) -> dict[str, tuple[int, int]]:
    # The Demo Store's (ATP) centers; the non-ATP demo center belongs to demo-nonatp.
    rows = Stock.objects.filter(product__sku=sku, fulfillment_center__inventory_system="atp").values_list(
        "fulfillment_center__code", "on_hand", "allocated"
    )
    return {code: (on_hand, allocated) for code, on_hand, allocated in rows}


def test_an_order_split_over_two_centers_ships_in_two_releases(django_capture_on_commit_callbacks):
    call_command("seed_demo", stdout=StringIO())
    alice, warehouse = login("alice"), login("warehouse")
    before = stock("DEMO-TSHIRT")
    order_body = {
        "items": [{"sku": "DEMO-TSHIRT", "quantity": 120}, {"sku": "DEMO-POSTER", "quantity": 2}],
        "payment": {"method": "card", "token": "tok_approve"},
        "shipping_address": {
            "name": "Alice",
            "line1": "1 Main St",
            "city": "Boston",
            "postal_code": "02110",
            "country": "US",
        },
    }
    with django_capture_on_commit_callbacks(execute=True):
        placed = alice.post("/api/v1/orders/", order_body, format="json")
    assert placed.status_code == 201, placed.content
    number = placed.json()["number"]
    call_command("release_to_fulfillment", stdout=StringIO())
    assert alice.get(f"/api/v1/orders/{number}/").json()["status"] == "R"

    for center, expected_status in (("EAST", "R"), ("WEST", "S")):
        batch = warehouse.post("/api/v1/backoffice/pick-batches/", {"fulfillment_center": center}, format="json")
        assert batch.status_code == 201, batch.content
        (release,) = batch.json()["releases"]
        assert warehouse.get(f"/api/v1/backoffice/pick-batches/{batch.json()['id']}/pick-ticket.pdf").status_code == 200
        package = warehouse.post(
            f"/api/v1/backoffice/releases/{release['id']}/packages/",
            {"carrier": "UPS", "tracking_number": f"1Z-{center}"},
            format="json",
        )
        assert package.status_code == 201, package.content
        with django_capture_on_commit_callbacks(execute=True):
            shipped = warehouse.post(f"/api/v1/backoffice/packages/{package.json()['id']}/confirm-shipment/")
        assert shipped.json()["status"] == "shipped"
        assert alice.get(f"/api/v1/orders/{number}/").json()["status"] == expected_status

    order = alice.get(f"/api/v1/orders/{number}/").json()
    assert sorted(s["tracking_number"] for s in order["shipments"]) == ["1Z-EAST", "1Z-WEST"]
    after = stock("DEMO-TSHIRT")
    shipped_per_center = {code: before[code][0] - after[code][0] for code in before}
    assert shipped_per_center == {"EAST": 100, "WEST": 20}
    for row in Stock.objects.all():
        held = Allocation.objects.filter(
            order_item__product=row.product, fulfillment_center=row.fulfillment_center, kind="stock"
        ).aggregate(total=Sum("quantity"))["total"]
        assert row.allocated == (held or 0), row
    shipped_mails = [m for m in mail.outbox if "shipped" in m.subject]
    assert [m.subject.startswith("Part of") for m in shipped_mails] == [True, False]
