"""Reads of orders for the API and the admin."""

from django.db.models import Count, Prefetch, QuerySet, prefetch_related_objects

from commerce.errors import NotFound
from orders.models import Order, OrderEvent, OrderItem, OrderStatus


def _events_in_order() -> Prefetch:
    return Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "pk"))


def order_detail_queryset() -> QuerySet[Order]:
    """Orders with everything the detail view shows, in a fixed number of queries."""
    return Order.objects.select_related("currency", "customer__user", "store").prefetch_related(
        Prefetch("items", queryset=OrderItem.objects.order_by("pk")), _events_in_order(), "payments"
    )


def order_as_placed(*, order: Order) -> Order:
    """The order a placement has just written, with everything the detail view shows.

    Placing hands back the order with its store and its items (as it wrote them) in memory: only its
    events and payments are read, two queries instead of the detail's five. An order handed back
    without its items at hand is read afresh.
    """
    items = getattr(order, "_prefetched_objects_cache", {}).get("items")
    if items is None or any(item.pk is None for item in items):
        return order_by_number(number=order.number)
    prefetch_related_objects([order], _events_in_order(), "payments")
    return order


def orders_for_customer(*, customer, status: str | None = None, updated_since=None) -> QuerySet[Order]:
    """The customer's orders, newest first; changed since a time, oldest change first (for syncing)."""
    queryset = order_detail_queryset().filter(customer=customer).order_by("-created_at", "-pk")
    if status:
        queryset = queryset.filter(status=status)
    if updated_since is not None:
        queryset = queryset.filter(updated_at__gte=updated_since).order_by("updated_at", "pk")
    return queryset


def order_for_customer(*, customer, number: str) -> Order:
    """The customer's own order; another's is reported as not found, never as forbidden."""
    order = order_detail_queryset().filter(customer=customer, number=number).first()
    if order is None:
        raise NotFound(f"No order {number}.")
    return order


def orders_awaiting_approval(*, user) -> QuerySet[Order]:
    """Orders in W of the organizations this user approves for."""
    return (
        order_detail_queryset()
        .filter(status=OrderStatus.AWAITING_APPROVAL, organization__approvers=user)
        .order_by("placed_at", "pk")
    )


def order_for_approver(*, user, number: str) -> Order:
    order = order_detail_queryset().filter(number=number, organization__approvers=user).first()
    if order is None:
        raise NotFound(f"No order {number}.")
    return order


def order_by_number(*, number: str) -> Order:
    order = order_detail_queryset().filter(number=number).first()
    if order is None:
        raise NotFound(f"No order {number}.")
    return order


def status_counts() -> dict[str, int]:
    rows = Order.objects.values("status").annotate(n=Count("pk")).values_list("status", "n")
    counts = dict.fromkeys(OrderStatus.values, 0)
    counts.update(dict(rows))
    return counts


def orders_in_payment_review_after_release(*, limit: int = 200) -> list[Order]:
    """Released or shipped orders whose current payment (a reauthorization) waits for a person's review."""
    return list(
        Order.objects.filter(
            status__in=[OrderStatus.RELEASED, OrderStatus.SHIPPED],
            payments__is_current=True,
            payments__status="review",
        )
        .select_related("currency", "customer__user")
        .order_by("updated_at", "pk")[:limit]
    )


def order_deposits(*, order) -> list[dict]:
    """The order page's deposits: each shipped release with its goods' amount, and each deposit taken.

    Two queries: the shipped release lines (with their items), then the applied captures.
    """
    from collections import defaultdict
    from decimal import Decimal

    from django.apps import apps

    from commerce.money import quantize_money

    release_item_model = apps.get_model("fulfillment", "ReleaseItem")
    transaction_model = apps.get_model("payments", "PaymentTransaction")
    shipped = (
        release_item_model.objects.filter(release__order=order, release__status="shipped")
        .select_related("release", "order_item")
        .order_by("release__shipped_at", "release_id", "pk")
    )
    amounts: dict = defaultdict(Decimal)
    for line in shipped:
        item = line.order_item
        amounts[line.release] += item.purchase_amount * line.quantity_shipped / item.quantity
    currency = order.currency_id
    rows = [
        {
            "what": f"Release {release.number} shipped",
            "when": f"{release.shipped_at:%Y-%m-%d %H:%M}",
            "amount": f"{quantize_money(amount, order.currency)} {currency}",
        }
        for release, amount in amounts.items()
    ]
    captures = transaction_model.objects.filter(payment__order=order, kind="capture", applied=True)
    rows += [
        {
            "what": "Deposit",
            "when": f"{capture.created_at:%Y-%m-%d %H:%M}",
            "amount": f"{quantize_money(capture.amount, order.currency)} {currency}",
        }
        for capture in captures.order_by("created_at", "pk")
    ]
    return rows
