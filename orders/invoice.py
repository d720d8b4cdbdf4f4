"""The printable order (invoice) as PDF, rendered with WeasyPrint on the store's paper size."""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from commerce.admin_base import money
from commerce.models import PaperSize
from orders.models import Order

CSS_PAGE_SIZES = {PaperSize.A4: "A4", PaperSize.LETTER: "letter"}


def order_invoice_context(*, order: Order) -> dict:
    currency = order.currency
    items = [
        {
            "sku": item.sku,
            "name": item.name,
            "quantity": item.quantity,
            "unit_price": money(item.unit_price, currency),
            "amount": money(item.purchase_amount, currency),
        }
        for item in order.items.order_by("pk")
    ]
    totals = [
        ("Products", order.product_total),
        ("Tax", order.tax_total),
        ("Shipping", order.shipping_total),
        ("Shipping tax", order.shipping_tax_total),
    ]
    if order.adjustment_total:
        totals.append(("Adjustment", -order.adjustment_total))
    store = order.store
    return {
        "order": order,
        "store": store,
        "store_address_lines": [line for line in store.address.splitlines() if line.strip()],
        "customer": order.customer,
        "items": items,
        "totals": [(label, money(amount, currency)) for label, amount in totals],
        "grand_total": money(order.grand_total, currency),
        "css_page_size": CSS_PAGE_SIZES.get(store.paper_size, "A4"),
        "paper_size": store.paper_size,
        "generated_at": timezone.now(),
    }


def order_invoice_pdf(*, order: Order) -> bytes:
    """The order's invoice as PDF bytes (one order: small enough to render in the request)."""
    from weasyprint import HTML

    html = render_to_string("orders/pdf/invoice.html", order_invoice_context(order=order))
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()
