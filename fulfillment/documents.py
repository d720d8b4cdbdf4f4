"""Pick tickets and packing slips: PDFs rendered with WeasyPrint, stored, and printed on record.

A batch's documents render synchronously on first print while the batch is small, and in a
django-q2 task (``fulfillment.tasks``) when it holds more releases than
``PICK_BATCH_SYNC_RENDER_LIMIT``. Packing slips render in chunks of releases joined with pypdf,
so memory stays bounded however large the batch.
"""

import logging
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Sum
from django.template.loader import render_to_string
from django.utils import timezone
from django_fsm import can_proceed
from django_q.tasks import async_task
from pypdf import PdfWriter

from commerce.errors import ApplicationError
from commerce.models import PaperSize
from fulfillment.models import Document, PickBatch, PrintRecord, Release, ReleaseItem, Stock
from orders.models import OrderStatus

logger = logging.getLogger(__name__)

# WeasyPrint lays out and holds this many slips at a time; the chunks are joined page by page.
PACKING_SLIP_CHUNK = 50
# A long tote list continues on the next row, so no table row outgrows a page.
TOTES_PER_ROW = 12
CSS_PAGE_SIZES = {PaperSize.A4: "A4", PaperSize.LETTER: "letter"}
RENDER_RETRY_SECONDS = 10


class DocumentNotReady(ApplicationError):
    """The document renders in the background; ask again shortly."""

    code = "document_rendering"
    status_code = 202


class DocumentRenderFailed(ApplicationError):
    """Rendering or storing the PDF failed; the document is marked failed and the next print retries."""

    code = "document_render_failed"
    status_code = 503


@dataclass
class PickLine:
    bin: str
    sku: str
    name: str
    quantity: int = 0
    drops: list[tuple[int, str, int]] = field(default_factory=list)  # (tote, release number, quantity)

    @property
    def drop_rows(self) -> list[list[tuple[int, str, int]]]:
        drops = sorted(self.drops)
        return [drops[i : i + TOTES_PER_ROW] for i in range(0, len(drops), TOTES_PER_ROW)]


@dataclass
class SlipLine:
    sku: str
    name: str
    ordered: int
    this_shipment: int
    other_shipments: int
    backordered: int


# Preparing, rendering and printing.


def documents_prepare(*, batch: PickBatch, background: bool) -> list[Document]:
    """Create the batch's pick ticket and packing slips documents; queue their render when asked."""
    documents = [
        Document.objects.create(batch=batch, kind=kind, paper_size=batch.store.paper_size) for kind in Document.Kind
    ]
    if background:
        _queue_render(batch_id=batch.pk, documents=documents)
    return documents


def _queue_render(*, batch_id: int, documents: list[Document]) -> None:
    for document in documents:
        document.mark_render_requested()
        document.save(update_fields=["render_requested_at"])
    transaction.on_commit(lambda: _enqueue(batch_id))


def _enqueue(batch_id: int) -> None:
    async_task("fulfillment.tasks.pick_batch_render", batch_id, task_name=f"render-pick-batch:{batch_id}")


def _needs_queueing(document: Document) -> bool:
    if document.status == Document.Status.READY:
        return False
    if document.status == Document.Status.RENDERING:
        return document.render_is_stale()
    if document.status == Document.Status.FAILED or document.render_requested_at is None:
        return True
    waited = (timezone.now() - document.render_requested_at).total_seconds()
    return waited > settings.Q_CLUSTER.get("timeout", 600)


def document_render(*, document_id: int) -> Document:
    """Render a document unless it is ready or another worker renders it now; store the file."""
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=document_id)
        if document.status == Document.Status.READY or not can_proceed(document.start_rendering):
            return document
        document.start_rendering()
        document.save(update_fields=["status", "render_started_at", "error"])
    batch = PickBatch.objects.select_related("store", "fulfillment_center").get(pk=document.batch_id)
    try:
        with tempfile.TemporaryDirectory(prefix="pick-batch-") as directory:
            target = Path(directory) / f"{batch.number}-{document.kind.replace('_', '-')}.pdf"
            pages = RENDERERS[document.kind](batch=batch, paper_size=document.paper_size, target=target)
            with transaction.atomic():
                document = Document.objects.select_for_update().get(pk=document_id)
                if document.status != Document.Status.RENDERING:
                    return document
                with target.open("rb") as handle:
                    document.file.save(f"{batch.number}/{target.name}", File(handle), save=False)
                document.finish_rendering(pages=pages)
                document.save(update_fields=["status", "file", "pages", "rendered_at"])
    except Exception as exc:
        # Whatever WeasyPrint or the storage raised, the document must not stay "rendering".
        logger.exception("Rendering %s of pick batch %s failed", document.kind, batch.number)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        with transaction.atomic():
            document = Document.objects.select_for_update().get(pk=document_id)
            if can_proceed(document.fail_rendering):
                document.fail_rendering(error=error)
                document.save(update_fields=["status", "error"])
        raise DocumentRenderFailed(
            f"The {document.get_kind_display().lower()} of pick batch {batch.number} could not be rendered "
            f"({error}); printing it again retries.",
            details={"document": document.kind, "batch": batch.number},
        ) from exc
    return document


def pick_batch_render(*, batch: PickBatch) -> list[Document]:
    """Render every document of a batch that is not ready yet; one failing does not stop the other."""
    documents, failures = [], []
    for kind in Document.Kind:
        document, _ = Document.objects.get_or_create(
            batch=batch, kind=kind, defaults={"paper_size": batch.store.paper_size}
        )
        try:
            documents.append(document_render(document_id=document.pk))
        except DocumentRenderFailed as exc:
            failures.append(exc)
    if failures:
        raise failures[0]
    return documents


def renders_in_background(batch: PickBatch) -> bool:
    return batch.releases.count() > settings.PICK_BATCH_SYNC_RENDER_LIMIT


def document_print(*, batch: PickBatch, kind: str, acting_user=None) -> PrintRecord:
    """Record a print of the batch's document, rendering it first when the batch is small.

    Raises ``DocumentNotReady`` while a large batch's document renders in the background.
    Printing the pick ticket marks the batch printed.
    """
    document, _ = Document.objects.get_or_create(
        batch=batch, kind=kind, defaults={"paper_size": batch.store.paper_size}
    )
    if document.status != Document.Status.READY:
        if renders_in_background(batch):
            with transaction.atomic():
                document = Document.objects.select_for_update().get(pk=document.pk)
                if _needs_queueing(document):
                    _queue_render(batch_id=batch.pk, documents=[document])
            raise DocumentNotReady(
                f"The {document.get_kind_display().lower()} of pick batch {batch.number} is being rendered; "
                f"retry in {RENDER_RETRY_SECONDS} seconds.",
                details={"status": document.status, "retry_after_seconds": RENDER_RETRY_SECONDS},
            )
        document = document_render(document_id=document.pk)
        if document.status != Document.Status.READY:
            raise DocumentNotReady(
                f"The {document.get_kind_display().lower()} of pick batch {batch.number} is being rendered "
                f"by another request; retry in a few seconds.",
                details={"status": document.status, "retry_after_seconds": RENDER_RETRY_SECONDS},
            )
    with transaction.atomic():
        locked_batch = PickBatch.objects.select_for_update().get(pk=batch.pk)
        record = PrintRecord.objects.create(
            document=document,
            user=acting_user if getattr(acting_user, "is_authenticated", False) else None,
            reprint=document.prints.exists(),
        )
        if kind == Document.Kind.PICK_TICKET and can_proceed(locked_batch.mark_printed):
            locked_batch.mark_printed()
            locked_batch.save(update_fields=["status", "printed_at"])
    batch.refresh_from_db(fields=["status", "printed_at"])
    return record


# The pick ticket.


def pick_ticket_context(*, batch: PickBatch) -> dict:
    """Lines per product and bin, in bin order, with what each tote takes; the tote legend."""
    releases = list(
        batch.releases.select_related("order__customer").annotate(units=Sum("items__quantity")).order_by("tote")
    )
    items = list(
        ReleaseItem.objects.filter(release__batch=batch)
        .select_related("release", "order_item__product")
        .order_by("release__tote", "pk")
    )
    product_ids = {item.order_item.product_id for item in items}
    bins = dict(
        Stock.objects.filter(fulfillment_center=batch.fulfillment_center, product_id__in=product_ids).values_list(
            "product_id", "bin"
        )
    )
    lines: dict[tuple[str, str], PickLine] = {}
    for item in items:
        product = item.order_item.product
        bin_code = bins.get(product.pk, "")
        line = lines.setdefault((bin_code, product.sku), PickLine(bin=bin_code, sku=product.sku, name=product.name))
        line.quantity += item.quantity
        line.drops.append((item.release.tote, item.release.number, item.quantity))
    # Unbinned products come last: they are found by asking, after the walk.
    ordered = sorted(lines.values(), key=lambda line: (line.bin == "", line.bin, line.sku))
    return {
        "batch": batch,
        "store": batch.store,
        "center": batch.fulfillment_center,
        "releases": releases,
        "lines": ordered,
        "total_units": sum(line.quantity for line in ordered),
        "generated_at": timezone.now(),
    }


def render_pick_ticket(*, batch: PickBatch, paper_size: str, target: Path) -> int:
    """Write the batch's pick ticket to ``target``; return its page count."""
    context = pick_ticket_context(batch=batch)
    html = render_to_string("fulfillment/pdf/pick_ticket.html", {**context, **_page_context(paper_size)})
    return _write_pdf(html, target)


# The packing slips.


def packing_slip_context(*, releases: list[Release]) -> list[dict]:
    """One slip per release: its items, what ships separately and what is still backordered."""
    order_ids = {release.order_id for release in releases}
    released: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))  # item -> release -> qty
    for item_id, release_id, quantity in (
        ReleaseItem.objects.filter(release__order_id__in=order_ids)
        .exclude(release__status=Release.Status.CANCELLED)
        .values_list("order_item_id", "release_id", "quantity")
    ):
        released[item_id][release_id] += quantity
    slips = []
    for release in releases:
        in_release = {item.order_item_id: item.quantity for item in release.items.all()}
        lines = []
        for order_item in release.order.items.all():
            total_released = sum(released[order_item.pk].values())
            this_shipment = in_release.get(order_item.pk, 0)
            cancelled = order_item.status == OrderStatus.CANCELLED
            backordered = 0 if cancelled else max(order_item.quantity - total_released, 0)
            if this_shipment == 0 and backordered == 0:
                continue
            lines.append(
                SlipLine(
                    sku=order_item.sku,
                    name=order_item.name,
                    ordered=order_item.quantity,
                    this_shipment=this_shipment,
                    other_shipments=total_released - this_shipment,
                    backordered=backordered,
                )
            )
        slips.append({"release": release, "order": release.order, "lines": lines})
    return slips


def _slip_releases(release_ids: list[int]) -> list[Release]:
    return list(
        Release.objects.filter(pk__in=release_ids)
        .select_related("order__customer", "order__store", "order__currency", "order__promotion")
        .prefetch_related("items", "order__items", "packages")
        .order_by("tote", "pk")
    )


def render_packing_slips(*, batch: PickBatch, paper_size: str, target: Path) -> int:
    """Write one slip per release, in tote order, to ``target``; return the page count.

    Page numbers run over the whole file. With several chunks a chunk cannot count the pages of
    those after it, so they are first numbered as if every slip fitted one page, and rendered
    once more with the true total only when a slip ran longer.
    """
    release_ids = list(batch.releases.order_by("tote", "pk").values_list("pk", flat=True))
    chunks = [release_ids[i : i + PACKING_SLIP_CHUNK] for i in range(0, len(release_ids), PACKING_SLIP_CHUNK)]
    if len(chunks) <= 1:
        html = _packing_slips_html(batch=batch, release_ids=release_ids, paper_size=paper_size)
        return _write_pdf(html, target)
    parts = [target.parent / f"{target.stem}-part-{index:04d}.pdf" for index in range(len(chunks))]
    chunk_pages = [len(chunk) for chunk in chunks]  # the guess: one page per slip
    for _ in range(2):
        total, first_page, counted = sum(chunk_pages), 1, []
        for chunk, part in zip(chunks, parts, strict=True):
            html = _packing_slips_html(
                batch=batch, release_ids=chunk, paper_size=paper_size, first_page=first_page, total_pages=total
            )
            pages = _write_pdf(html, part)
            counted.append(pages)
            first_page += pages
        if counted == chunk_pages:
            break
        # Page numbers do not change the layout, so the second pass numbers exactly.
        chunk_pages = counted
    return _join_pdfs(parts, target)


def _packing_slips_html(
    *, batch: PickBatch, release_ids: list[int], paper_size: str, first_page: int = 1, total_pages: int | None = None
) -> str:
    slips = packing_slip_context(releases=_slip_releases(release_ids))
    context = {
        "batch": batch,
        "store": batch.store,
        "store_address_lines": [line for line in batch.store.address.splitlines() if line.strip()],
        "center": batch.fulfillment_center,
        "slips": slips,
        "first_page": first_page,
        "total_pages": total_pages,
        **_page_context(paper_size),
    }
    return render_to_string("fulfillment/pdf/packing_slips.html", context)


# WeasyPrint and pypdf.


def _page_context(paper_size: str) -> dict:
    return {"css_page_size": CSS_PAGE_SIZES.get(paper_size, "A4"), "paper_size": paper_size}


def _write_pdf(html: str, target: Path) -> int:
    # Imported when a PDF is made, not with the module: WeasyPrint loads Pango's native libraries (slow,
    # and absent on machines that never render), and the admin imports this module in every process.
    from weasyprint import HTML

    document = HTML(string=html, base_url=str(settings.BASE_DIR)).render()
    document.write_pdf(target)
    return len(document.pages)


def _join_pdfs(parts: list[Path], target: Path) -> int:
    writer = PdfWriter()
    for part in parts:
        writer.append(str(part))
    with target.open("wb") as handle:
        writer.write(handle)
    pages = len(writer.pages)
    writer.close()
    for part in parts:
        part.unlink()
    return pages


RENDERERS = {
    Document.Kind.PICK_TICKET: render_pick_ticket,
    Document.Kind.PACKING_SLIPS: render_packing_slips,
}
