"""The admin's pages for daily work: search, money per status, the invoice PDF, CSV export, a date range.

The dashboard shows the search box and this month's money per status as panels (``orders.dashboard``),
and ``OrderAdmin`` mounts the views.
"""

import csv
from datetime import date

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from commerce.admin_base import money
from commerce.money import quantize_money
from orders.daily import Period, order_totals_by_status, orders_search, orders_with_payment_status
from orders.invoice import order_invoice_pdf
from orders.models import Order
from payments.models import PaymentStatus

VIEW_ORDER = "orders.view_order"
PAYMENT_LABELS = dict(PaymentStatus.choices)
CSV_COLUMNS = ["number", "placed_at", "status", "customer_number", "customer_name", "customer_email", "organization",
               "payment_status", "currency", "product_total", "tax_total", "shipping_total", "grand_total"]  # fmt: skip


def payment_label(status: str | None) -> str:
    return PAYMENT_LABELS.get(status, "no payment") if status else "no payment"


def _require(request, permission: str = VIEW_ORDER) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


# Search.


def search_view(model_admin, request):
    """Orders found by number, customer name or e-mail, SKU, tracking number (and what apps add)."""
    _require(request)
    query = request.GET.get("q", "").strip()[:200]
    orders = list(orders_search(query=query)) if query else []
    for order in orders:
        order.payment_label = payment_label(order.payment_status)
        order.total_display = money(order.grand_total, order.currency)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": f"Orders matching “{query}”" if query else "Find an order",
        "query": query,
        "orders": orders,
    }
    return TemplateResponse(request, "admin/orders/order/search.html", context)


# Money per status.


class PeriodForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            raise forms.ValidationError("The period ends before it starts.")
        return cleaned


def period_from(data) -> tuple[PeriodForm, Period]:
    """The period asked for, or the last 30 days when none (or a bad one) is given."""
    default = Period.last_days(30)
    if not data.get("start") and not data.get("end"):
        return PeriodForm(initial={"start": default.start, "end": default.end}), default
    form = PeriodForm(data)
    if form.is_valid():
        return form, Period(start=form.cleaned_data["start"], end=form.cleaned_data["end"])
    return form, default


def totals_rows(period: Period) -> list[dict]:
    changelist = reverse("admin:orders_order_changelist")
    start, end = period.start.isoformat(), period.end.isoformat()
    return [
        {
            "status": total.status,
            "label": total.label,
            "currency": total.currency,
            "orders": total.orders,
            "grand_total": f"{quantize_money(total.grand_total, total.currency)} {total.currency}",
            "url": f"{changelist}?status__exact={total.status}&placed_from={start}&placed_to={end}",
        }
        for total in order_totals_by_status(period=period)
    ]


def totals_view(model_admin, request):
    """Orders placed in a period and their grand totals, per status and currency."""
    _require(request)
    form, period = period_from(request.GET)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Money per status",
        "form": form,
        "period": period,
        "rows": totals_rows(period),
    }
    return TemplateResponse(request, "admin/orders/order/totals.html", context)


# The invoice.


def invoice_view(model_admin, request, object_id: int):
    """The printable order as PDF, on the store's paper size."""
    _require(request)
    order = get_object_or_404(Order.objects.select_related("store", "currency", "customer__user", "organization"),
                              pk=object_id)  # fmt: skip
    response = HttpResponse(order_invoice_pdf(order=order), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="invoice-{order.number}.pdf"'
    return response


# CSV export of the selected orders.


def export_csv(queryset) -> HttpResponse:
    orders = orders_with_payment_status(queryset).select_related("customer__user", "organization").order_by("pk")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="orders-{timezone.localdate():%Y%m%d}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for order in orders:
        user = order.customer.user
        writer.writerow(
            [
                order.number,
                timezone.localtime(order.placed_at).isoformat(timespec="seconds") if order.placed_at else "",
                order.status,
                order.customer.number,
                _csv_text(user.get_full_name()),
                _csv_text(user.email),
                _csv_text(order.organization.code if order.organization else ""),
                order.payment_status or "",
                order.currency_id,
                quantize_money(order.product_total, order.currency_id),
                quantize_money(order.tax_total, order.currency_id),
                quantize_money(order.shipping_total, order.currency_id),
                quantize_money(order.grand_total, order.currency_id),
            ]
        )
    return response


def _csv_text(value: str) -> str:
    """Text a spreadsheet will not run as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# The from-to filter of the order list.


class PlacedBetweenFilter(admin.ListFilter):
    """Orders placed from one day to another (both included), typed into two date fields."""

    title = "placed between"
    template = "admin/orders/order/date_range_filter.html"
    parameters = ("placed_from", "placed_to")

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.values: dict[str, date | None] = {}
        self.raw: dict[str, str] = {}
        for name in self.parameters:
            value = params.pop(name, None)
            value = value[-1] if isinstance(value, list) else value
            self.raw[name] = value or ""
            self.values[name] = _parse_date(value)
        self.used_parameters = {name: raw for name, raw in self.raw.items() if raw}

    def has_output(self) -> bool:
        return True

    def expected_parameters(self):
        return list(self.parameters)

    def queryset(self, request, queryset):
        start, end = self.values["placed_from"], self.values["placed_to"]
        if start is None and end is None:
            return queryset
        bounds = Period(start=start or date.min.replace(year=1970), end=end or timezone.localdate()).bounds
        if start is not None:
            queryset = queryset.filter(placed_at__gte=bounds[0])
        if end is not None:
            queryset = queryset.filter(placed_at__lt=bounds[1])
        return queryset

    def choices(self, changelist):
        # The template shows a form; the one "choice" is the link that clears the range.
        yield {
            "selected": not self.used_parameters,
            "query_string": changelist.get_query_string(remove=list(self.parameters)),
            "display": "Any date",
            "raw": self.raw,
            "hidden": [(key, value) for key, value in changelist.params.items() if key not in self.parameters],
        }


def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None
