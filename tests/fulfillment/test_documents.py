"""Pick tickets and packing slips, read back from the PDFs; rendering, storing and printing them."""

import io
import re

import pytest
from pypdf import PdfReader

from fulfillment import documents
from fulfillment.batches import pick_batch_create
from fulfillment.documents import DocumentNotReady, DocumentRenderFailed, document_print, pick_batch_render
from fulfillment.models import Document, PrintRecord, Release, Stock
from tests.factories.commerce import ProductFactory, StaffUserFactory, StoreFactory
from tests.factories.fulfillment import released_order
from tests.fulfillment.conftest import pdf_pages

pytestmark = pytest.mark.django_db

TIMES, DASH = "\u00d7", "\u2013"  # the multiplication sign of tote drops, the dash of "none"


def rendered(batch, kind) -> Document:
    (document,) = [d for d in pick_batch_render(batch=batch) if d.kind == kind]
    assert document.status == "ready", document.error
    return document


def text_of(document: Document) -> list[str]:
    with document.file.open("rb") as handle:
        return pdf_pages(handle.read())


@pytest.fixture
def store(db):
    return StoreFactory(
        name="Acme Outfitters", address="Acme Outfitters\n5 Harbor Road\nPortland", packing_slip_note="Thanks!"
    )


def set_bins(center, bins: dict):
    for product, code in bins.items():
        Stock.objects.filter(fulfillment_center=center, product=product).update(bin=code)


def test_pick_ticket_lists_lines_per_product_in_bin_order_with_each_totes_quantity(east, products, store):
    first = released_order(lines=[(products[0], {east: 2}), (products[1], {east: 1})], store=store)
    second = released_order(
        lines=[(products[0], {east: 3}), (products[2], {east: 4})], store=store, ship_mode="EXPRESS"
    )
    set_bins(east, {products[0]: "C-03", products[1]: "A-01", products[2]: "B-02"})
    batch = pick_batch_create(fulfillment_center=east)

    (page,) = text_of(rendered(batch, "pick_ticket"))

    assert batch.number in page
    assert "Acme Outfitters" in page and "EAST" in page and "EXPEDITED" in page
    assert batch.created_at.strftime("%Y-%m-%d") in page
    positions = [page.index(code) for code in ("A-01", "B-02", "C-03")]
    assert positions == sorted(positions)
    product_line = re.search(rf"C-03\s+SKU-1.*?(\d+)\s+T1 {TIMES} 2\s*T2 {TIMES} 3", page, re.S)
    assert product_line and product_line.group(1) == "5"
    assert "SKU-3" in page and f"T2 {TIMES} 4" in page
    for order in (first, second):
        assert order.number in page
        assert Release.objects.get(order=order).number in page
    assert "Page 1 of 1" in page


def test_pick_ticket_puts_products_without_a_bin_last(east, products, store):
    released_order(lines=[(products[0], {east: 1}), (products[1], {east: 1})], store=store)
    set_bins(east, {products[0]: "", products[1]: "Z-99"})
    batch = pick_batch_create(fulfillment_center=east)

    (page,) = text_of(rendered(batch, "pick_ticket"))

    assert page.index("Z-99") < page.index("(no bin)")


def test_packing_slips_one_page_per_release_with_what_the_customer_needs(east, products, store):
    orders = [
        released_order(
            lines=[(products[0], {east: 2}), (products[1], {east: 1})],
            store=store,
            shipping_note="Leave at the door",
            invoice_note="PO 4711",
            ship_to_name=f"Buyer {n}",
            ship_to_line1=f"{n} Elm Street",
        )
        for n in range(3)
    ]
    batch = pick_batch_create(fulfillment_center=east)

    pages = text_of(rendered(batch, "packing_slips"))

    assert len(pages) == 3
    for number, (order, page) in enumerate(zip(orders, pages, strict=True), start=1):
        release = Release.objects.get(order=order)
        assert release.number in page and order.number in page and batch.number in page
        assert order.customer.number in page and "Acme Outfitters" in page and "5 Harbor Road" in page
        for line in order.ship_to_lines:
            assert line in page
        assert re.search(r"SKU-1\s+Product 1\s+2\s+2", page)
        assert re.search(r"SKU-2\s+Product 2\s+1\s+1", page)
        assert "Standard ground" in page
        assert "Leave at the door" in page and "PO 4711" in page and "Thanks!" in page
        assert f"Page {number} of 3" in page


def test_packing_slip_shows_what_ships_separately_and_what_is_backordered(east, west, products, store):
    order = released_order(lines=[(products[0], {east: 1, west: 2})], store=store)
    backordered = order.items.create(
        product=products[2],
        sku=products[2].sku,
        name=products[2].name,
        quantity=5,
        unit_price="1.00",
        status="R",
        inventory_status="BO",
    )
    batch = pick_batch_create(fulfillment_center=east)

    (page,) = text_of(rendered(batch, "packing_slips"))

    assert re.search(rf"SKU-1\s+Product 1\s+3\s+1\s+2\s+{DASH}", page)
    assert re.search(rf"{backordered.sku}\s+Product 3\s+5\s+0\s+{DASH}\s+5", page)


def test_large_batches_render_slips_in_chunks_numbered_over_the_whole_file(east, products, store, monkeypatch):
    monkeypatch.setattr(documents, "PACKING_SLIP_CHUNK", 2)
    many = [ProductFactory(sku=f"LONG-{n:02d}", name=f"Long product {n}") for n in range(45)]
    long_lines = [(product, {east: 1}) for product in many]
    orders = [
        released_order(lines=lines, store=store)
        for lines in ([(products[0], {east: 1})], long_lines, [(products[1], {east: 1})], [(products[1], {east: 1})])
    ]
    batch = pick_batch_create(fulfillment_center=east)

    document = rendered(batch, "packing_slips")
    pages = text_of(document)

    total = len(pages)
    assert total > len(orders)  # the long slip runs over a page
    assert document.pages == total
    assert [f"Page {n} of {total}" in page for n, page in enumerate(pages, start=1)] == [True] * total
    numbers = [Release.objects.get(order=order).number for order in orders]
    first_pages = [next(i for i, page in enumerate(pages) if number in page) for number in numbers]
    assert first_pages == sorted(first_pages)
    assert f"Release {numbers[1]}" in pages[2]  # a continuation page names its release in the footer


def test_no_table_row_is_cut_and_headers_repeat_on_every_page(east, products, store):
    many = [ProductFactory(sku=f"ROW-{n:02d}", name=f"Row product {n}") for n in range(45)]
    released_order(lines=[(product, {east: 1}) for product in many], store=store)
    batch = pick_batch_create(fulfillment_center=east)

    pages = text_of(rendered(batch, "packing_slips"))

    assert len(pages) >= 2
    assert all("THIS SHIPMENT" in page.upper() for page in pages)
    rows = [sku for page in pages for sku in re.findall(r"ROW-\d\d", page)]
    assert sorted(rows) == sorted(p.sku for p in many)


def test_paper_size_follows_the_store(east, products):
    released_order(lines=[(products[0], {east: 1})], store=StoreFactory(code="us", paper_size="Letter"))
    batch = pick_batch_create(fulfillment_center=east)

    document = rendered(batch, "pick_ticket")

    with document.file.open("rb") as handle:
        box = PdfReader(io.BytesIO(handle.read())).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    assert document.paper_size == "Letter"


def test_printing_records_who_and_reprints_and_the_pick_ticket_marks_the_batch_printed(east, products, store):
    released_order(lines=[(products[0], {east: 1})], store=store)
    batch = pick_batch_create(fulfillment_center=east)
    first, second = StaffUserFactory(username="one"), StaffUserFactory(username="two")

    slips = document_print(batch=batch, kind="packing_slips", acting_user=first)
    assert batch.status == "open"
    ticket = document_print(batch=batch, kind="pick_ticket", acting_user=first)
    again = document_print(batch=batch, kind="pick_ticket", acting_user=second)

    assert (slips.reprint, ticket.reprint, again.reprint) == (False, False, True)
    assert [(r.user.username, r.document.kind) for r in PrintRecord.objects.order_by("pk")] == [
        ("one", "packing_slips"),
        ("one", "pick_ticket"),
        ("two", "pick_ticket"),
    ]
    batch.refresh_from_db()
    assert batch.status == "printed"
    assert batch.printed_at is not None
    assert ticket.document.file.name.endswith(".pdf")
    assert Document.objects.get(pk=ticket.document.pk).rendered_at is not None


def test_a_large_batch_is_not_rendered_in_the_request_but_queued(east, products, store, settings):
    settings.PICK_BATCH_SYNC_RENDER_LIMIT = 1
    for _ in range(2):
        released_order(lines=[(products[0], {east: 1})], store=store)
    batch = pick_batch_create(fulfillment_center=east)  # its after-commit task never runs under this test's transaction

    with pytest.raises(DocumentNotReady) as raised:
        document_print(batch=batch, kind="pick_ticket")

    assert raised.value.status_code == 202
    assert raised.value.details["retry_after_seconds"] > 0
    document = Document.objects.get(batch=batch, kind="pick_ticket")
    assert (document.status, document.render_requested_at is not None) == ("pending", True)
    assert not PrintRecord.objects.exists()


def test_a_large_batch_prints_once_its_task_has_rendered(
    east, products, store, settings, django_capture_on_commit_callbacks
):
    settings.PICK_BATCH_SYNC_RENDER_LIMIT = 1
    for _ in range(2):
        released_order(lines=[(products[0], {east: 1})], store=store)
    with django_capture_on_commit_callbacks(execute=True):
        batch = pick_batch_create(fulfillment_center=east)

    record = document_print(batch=batch, kind="packing_slips")

    assert record.document.pages == 2


def test_a_failed_render_is_recorded_and_retried_on_the_next_print(east, products, store, settings, tmp_path):
    released_order(lines=[(products[0], {east: 1})], store=store)
    batch = pick_batch_create(fulfillment_center=east)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    good_root, settings.MEDIA_ROOT = settings.MEDIA_ROOT, str(blocker / "media")

    with pytest.raises(DocumentRenderFailed, match="printing it again retries") as raised:
        document_print(batch=batch, kind="pick_ticket")

    assert isinstance(raised.value.__cause__, OSError)

    document = Document.objects.get(batch=batch, kind="pick_ticket")
    assert document.status == "failed"
    assert "Error" in document.error
    settings.MEDIA_ROOT = good_root
    record = document_print(batch=batch, kind="pick_ticket")
    assert (record.document.status, record.document.error) == ("ready", "")


def test_rendering_a_ready_document_again_keeps_its_file(east, products, store):
    released_order(lines=[(products[0], {east: 1})], store=store)
    batch = pick_batch_create(fulfillment_center=east)
    first = rendered(batch, "pick_ticket")

    second = rendered(batch, "pick_ticket")

    assert (second.file.name, second.rendered_at) == (first.file.name, first.rendered_at)


def test_packing_slip_shows_the_promotion_of_the_order(as_user):
    from fulfillment.models import FulfillmentCenter
    from orders import services
    from orders.models import Order
    from tests.orders.conftest import place

    number = place(as_user("alice"), ("DEMO-HOODIE", 3), coupon="DEMO10").json()["number"]
    order = Order.objects.get(number=number)
    services.order_release(order_id=order.pk)
    batch = pick_batch_create(fulfillment_center=FulfillmentCenter.objects.get(code="EAST"), actor_name="test")

    (page,) = text_of(rendered(batch, Document.Kind.PACKING_SLIPS))

    assert "PROMOTION" in page  # the label's style writes it in capitals
    assert "coupon DEMO10" in page
    assert "-13.50 USD off the order total" in page
