"""Products by SKU and by search."""

from io import StringIO

import pytest
from django.core.management import call_command

from tests.conftest import client_for
from tests.factories.commerce import CustomerFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(db):
    call_command("seed_demo", stdout=StringIO())
    return client_for(CustomerFactory().user)


def test_a_product_by_its_sku(alice):
    response = alice.get("/api/v1/products/DEMO-MUG/")

    assert response.status_code == 200
    assert response.json() == {
        "sku": "DEMO-MUG",
        "name": response.json()["name"],
        "description": response.json()["description"],
        "price": "12.50",
        "currency": "USD",
        "backorderable": True,
        "weight": response.json()["weight"],
        "weight_unit": response.json()["weight_unit"],
    }


def test_an_unknown_or_inactive_sku_is_404(alice):
    ProductFactory(sku="OLD-1", active=False)

    for sku in ["NOPE", "OLD-1"]:
        response = alice.get(f"/api/v1/products/{sku}/")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_search_finds_by_part_of_the_sku_or_name_in_any_case(alice):
    ProductFactory(sku="XYZ-1", name="Blue Coffee Mug", active=True)
    ProductFactory(sku="XYZ-2", name="Coffee filter", active=False)

    by_sku = alice.get("/api/v1/products/", {"search": "demo-tsh"}).json()
    by_name = alice.get("/api/v1/products/", {"search": "COFFEE"}).json()
    nothing = alice.get("/api/v1/products/", {"search": "no such thing"}).json()

    assert [p["sku"] for p in by_sku["results"]] == ["DEMO-TSHIRT"]
    assert [p["sku"] for p in by_name["results"]] == ["XYZ-1"]
    assert nothing == {"count": 0, "next": None, "previous": None, "results": []}
