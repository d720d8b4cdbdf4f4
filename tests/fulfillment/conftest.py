import io

import pytest
from pypdf import PdfReader

from tests.factories.commerce import ProductFactory
from tests.factories.fulfillment import FulfillmentCenterFactory


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Keep each test's rendered PDFs apart from the others'."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings.MEDIA_ROOT


@pytest.fixture
def east(db):
    return FulfillmentCenterFactory(code="EAST", name="East warehouse", priority=1)


@pytest.fixture
def west(db):
    return FulfillmentCenterFactory(code="WEST", name="West warehouse", priority=2)


@pytest.fixture
def products(db):
    return [ProductFactory(sku=f"SKU-{n}", name=f"Product {n}") for n in range(1, 4)]


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page of a PDF."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]
