"""Dashboard pieces of the orders app, usable on any admin page: the search box and money per status."""

from django import template
from django.urls import reverse

from orders.admin_views import VIEW_ORDER, period_from, totals_rows

register = template.Library()


@register.inclusion_tag("admin/orders/dashboard/search_panel.html", takes_context=True)
def order_search_box(context) -> dict:
    request = context.get("request")
    allowed = request is not None and request.user.has_perm(VIEW_ORDER)
    return {"show": allowed, "query": ""}


@register.inclusion_tag("admin/orders/dashboard/totals_panel.html", takes_context=True)
def order_totals_panel(context) -> dict:
    request = context.get("request")
    if request is None or not request.user.has_perm(VIEW_ORDER):
        return {"show": False}
    _, period = period_from({})
    return {
        "show": True,
        "period": period,
        "rows": totals_rows(period),
        "totals_url": reverse("admin:orders_order_totals"),
    }
