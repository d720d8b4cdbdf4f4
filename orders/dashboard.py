"""The orders' part of the admin dashboard: orders per status, the exceptions queue, the order queues."""

from django.urls import reverse

from commerce.admin_site import BackOfficeSite, DashboardLink, DashboardPanel
from orders.admin_views import VIEW_ORDER, period_from, totals_rows
from orders.exceptions import EXCEPTION_TITLES, exception_counts
from orders.models import OrderStatus
from orders.returns.admin import return_queue_panel
from orders.selectors import status_counts

S = OrderStatus


def dashboard_statuses(request) -> dict | None:
    """Orders per status, each linking to the order list filtered by it."""
    if not request.user.has_perm("orders.view_order"):
        return None
    counts = status_counts()
    changelist = reverse("admin:orders_order_changelist")
    return {
        "statuses": [
            {"code": code, "label": label, "count": counts[code], "url": f"{changelist}?status__exact={code}"}
            for code, label in S.choices
        ]
    }


def dashboard_exceptions(request) -> dict | None:
    """The exceptions queue's count, in total and per kind."""
    if not request.user.has_perm("orders.view_exceptions"):
        return None
    counts = exception_counts()
    url = reverse("admin:orders_order_exceptions")
    return {
        "total": sum(counts.values()),
        "url": url,
        "kinds": [
            {"title": EXCEPTION_TITLES[kind], "count": count, "url": f"{url}#{kind}"} for kind, count in counts.items()
        ],
    }


def dashboard_search(request) -> dict | None:
    """The search box: order number, customer name or e-mail, SKU, tracking or RMA number."""
    if not request.user.has_perm(VIEW_ORDER):
        return None
    return {"query": ""}


def dashboard_totals(request) -> dict | None:
    """Orders and grand totals per status over the last 30 days, with a link to choose another period."""
    if not request.user.has_perm(VIEW_ORDER):
        return None
    _, period = period_from({})
    return {"period": period, "rows": totals_rows(period), "totals_url": reverse("admin:orders_order_totals")}


def register(site: BackOfficeSite) -> None:
    site.register_dashboard_panel(
        DashboardPanel("order_search", "admin/orders/dashboard/search_panel.html", dashboard_search, position=5)
    )
    site.register_dashboard_panel(
        DashboardPanel("order_statuses", "admin/orders/dashboard/statuses.html", dashboard_statuses, position=10)
    )
    site.register_dashboard_panel(
        DashboardPanel("order_exceptions", "admin/orders/dashboard/exceptions.html", dashboard_exceptions, position=20)
    )
    site.register_dashboard_panel(
        DashboardPanel("returns", "admin/orders/returnrequest/queue_panel.html", return_queue_panel, position=30)
    )
    site.register_dashboard_panel(
        DashboardPanel("order_totals", "admin/orders/dashboard/totals_panel.html", dashboard_totals, position=40)
    )
    site.register_dashboard_links(
        [
            DashboardLink(
                "Place an order for a customer",
                "admin:orders_order_place_on_behalf",
                "orders.add_order",
                help="Items with live ATP, the customer's last ship-to, payment",
            ),
            DashboardLink("Promotions", "admin:orders_promotion_changelist", "orders.view_promotion"),
            DashboardLink(
                "Payment review queue",
                "admin:orders_order_changelist",
                "orders.review_payment",
                f"?status__exact={S.PAYMENT_REVIEW}",
                "Approve or decline payments held for review",
            ),
            DashboardLink(
                "Awaiting approval",
                "admin:orders_order_changelist",
                "orders.approve_order",
                f"?status__exact={S.AWAITING_APPROVAL}",
                "Orders a buyer's approver has not decided on",
            ),
            DashboardLink(
                "Ready to release",
                "admin:orders_order_changelist",
                "orders.release_order",
                f"?status__exact={S.AUTHORIZED}",
                "Authorized orders the release job has not picked up yet",
            ),
        ],
        position=10,
    )
    site.register_dashboard_links(
        [DashboardLink("Returns (RMA)", "admin:orders_returnrequest_changelist", "orders.view_returnrequest")],
        position=25,
    )
