"""Reads behind the staff's daily work: finding an order from whatever the caller has, money per status.

Search looks through ``ORDER_SEARCH_FIELDS``: a new way to name an order (as returns brought the RMA
number) is one more lookup there, and the dashboard's search box finds orders by it too.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from orders.models import Order, OrderStatus
from payments.models import Payment

# Lookups of an order a person may type into the search box: order number, customer, SKU, tracking.
ORDER_SEARCH_FIELDS: list[str] = [
    "number__iexact",
    "customer__number__iexact",
    "customer__user__username__iexact",
    "customer__user__email__icontains",
    "customer__user__first_name__icontains",
    "customer__user__last_name__icontains",
    "items__sku__iexact",
    "releases__packages__tracking_number__iexact",
    "purchase_order_number__iexact",
    "returns__number__iexact",
]
SEARCH_LIMIT = 100


def orders_with_payment_status(queryset: QuerySet[Order] | None = None) -> QuerySet[Order]:
    """Orders annotated with the status of their latest payment (``payment_status``), in the same query."""
    queryset = queryset if queryset is not None else Order.objects.all()
    if "payment_status" in queryset.query.annotations:
        return queryset
    latest = Payment.objects.filter(order=OuterRef("pk")).order_by("-pk").values("status")[:1]
    return queryset.annotate(payment_status=Subquery(latest))


def orders_search(*, query: str, limit: int = SEARCH_LIMIT) -> QuerySet[Order]:
    """Orders matching the query on any search field; a full name matches first and last name together."""
    query = " ".join(query.split())
    if not query:
        return Order.objects.none()
    condition = Q()
    for lookup in ORDER_SEARCH_FIELDS:
        condition |= Q(**{lookup: query})
    first, _, last = query.partition(" ")
    if last:
        condition |= Q(customer__user__first_name__iexact=first, customer__user__last_name__iexact=last)
    matching = Order.objects.filter(condition).values("pk")
    return (
        orders_with_payment_status(Order.objects.filter(pk__in=matching))
        .select_related("customer__user", "currency", "organization")
        .order_by("-placed_at", "-pk")[:limit]
    )


@dataclass(frozen=True)
class Period:
    """Days from ``start`` to ``end``, both included, in the server's time zone."""

    start: date
    end: date

    @classmethod
    def last_days(cls, days: int = 30, *, today: date | None = None) -> "Period":
        today = today or timezone.localdate()
        return cls(start=today - timedelta(days=days - 1), end=today)

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        zone = timezone.get_current_timezone()
        start = datetime.combine(self.start, time.min, tzinfo=zone)
        end = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=zone)
        return start, end


@dataclass(frozen=True)
class StatusTotal:
    status: str
    label: str
    currency: str
    orders: int
    grand_total: Decimal


def order_totals_by_status(*, period: Period) -> list[StatusTotal]:
    """Orders placed in the period and their grand totals, per status and currency (one query)."""
    start, end = period.bounds
    rows = (
        Order.objects.filter(placed_at__gte=start, placed_at__lt=end)
        .values("status", "currency")
        .annotate(orders=Count("pk"), total=Sum("grand_total"))
        .order_by()
    )
    labels = dict(OrderStatus.choices)
    order = {code: index for index, code in enumerate(OrderStatus.values)}
    totals = [
        StatusTotal(
            row["status"], labels.get(row["status"], row["status"]), row["currency"], row["orders"], row["total"]
        )
        for row in rows
    ]
    return sorted(totals, key=lambda total: (order.get(total.status, 99), total.currency))
