"""What may be returned, what it credits, and why a return waits for staff: pure reads and arithmetic."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils import timezone

from commerce.currency import convert
from commerce.errors import NoExchangeRate
from commerce.money import ZERO, quantize_money
from orders.models import Order, OrderItem, OrderStatus
from orders.returns.errors import ReturnNotAllowed
from orders.returns.models import ReturnItem, ReturnItemStatus, ReturnStatus

RETURNABLE_ORDER_STATUSES = (OrderStatus.SHIPPED, OrderStatus.DEPOSITED)
NOT_RETURNABLE = "not_returnable"
OUTSIDE_WINDOW = "outside_window"
OVER_AUTO_APPROVE_LIMIT = "over_auto_approve_limit"
DENIED_BY_STAFF = "denied_by_staff"


@dataclass(frozen=True)
class Line:
    """One item of a return as asked for: the order item, how many, why."""

    order_item: OrderItem
    quantity: int
    reason: str


def return_window_ends(order: Order):
    """The last moment the order's goods may be asked back, or None before it shipped."""
    if order.shipped_at is None:
        return None
    return order.shipped_at + order.store.return_window


def is_inside_window(order: Order, *, now=None) -> bool:
    ends = return_window_ends(order)
    return ends is not None and (now or timezone.now()) <= ends


def covered_quantities(*, order: Order, exclude_return_id: int | None = None) -> dict[int, int]:
    """Per order item, what earlier returns already cover: open ones in full, closed ones as credited."""
    rows = ReturnItem.objects.filter(return_request__order=order).exclude(status=ReturnItemStatus.DENIED)
    if exclude_return_id is not None:
        rows = rows.exclude(return_request_id=exclude_return_id)
    covered: dict[int, int] = defaultdict(int)
    open_rows = rows.filter(return_request__status__in=(ReturnStatus.PENDING, ReturnStatus.APPROVED))
    for item_id, quantity in (
        open_rows.values("order_item_id").annotate(total=Sum("quantity")).values_list("order_item_id", "total")
    ):
        covered[item_id] += quantity
    for row in rows.filter(return_request__status=ReturnStatus.CLOSED):
        covered[row.order_item_id] += row.quantity_to_credit
    return covered


def check_returnable(*, order: Order, lines: Iterable[Line], exclude_return_id: int | None = None) -> None:
    """Raise ``return_not_allowed`` naming the first line that cannot be returned."""
    if order.status not in RETURNABLE_ORDER_STATUSES:
        raise ReturnNotAllowed(
            f"Order {order.number} is {order.get_status_display().lower()}: only shipped goods can be returned.",
            details={"order": order.number, "status": order.status},
        )
    covered = covered_quantities(order=order, exclude_return_id=exclude_return_id)
    inside = is_inside_window(order)
    for line in lines:
        item = line.order_item
        details = {"sku": item.sku}
        if not item.product.returnable:
            raise ReturnNotAllowed(f"{item.sku} cannot be returned.", details={**details, "reason": NOT_RETURNABLE})
        if not inside:
            ends = return_window_ends(order)
            raise ReturnNotAllowed(
                f"{item.sku}: the return window of order {order.number} ended on {ends:%Y-%m-%d}.",
                details={**details, "reason": OUTSIDE_WINDOW, "window_ended_at": ends.isoformat()},
            )
        left = item.quantity_shipped - covered.get(item.pk, 0)
        if line.quantity > left:
            raise ReturnNotAllowed(
                f"{item.sku}: {line.quantity} asked back, but only {max(left, 0)} of the {item.quantity_shipped} "
                "shipped are left to return.",
                details={
                    **details,
                    "reason": "quantity",
                    "quantity": line.quantity,
                    "returnable_quantity": max(left, 0),
                },
            )


def item_credit(*, order_item: OrderItem, quantity: int, already: int = 0, refund_shipping: bool) -> Decimal:
    """The returned share of an item's purchase amount for ``quantity`` more units after ``already``.

    Pro rata by quantity, rounded to the currency; computed as the difference of two cumulative
    shares, so the credits of several returns of one item add up to its purchase amount exactly.
    """
    total = order_item.product_total + order_item.tax - order_item.adjustment
    if refund_shipping:
        total += order_item.shipping_charge + order_item.shipping_tax
    currency = order_item.order.currency

    def share(units: int) -> Decimal:
        return quantize_money(total * units / order_item.quantity, currency)

    return max(share(already + quantity) - share(already), ZERO)


def credited_quantities(*, order: Order, exclude_return_id: int | None = None) -> dict[int, int]:
    """Per order item, the units closed returns have credited already."""
    credited: dict[int, int] = defaultdict(int)
    rows = ReturnItem.objects.filter(return_request__order=order, return_request__status=ReturnStatus.CLOSED)
    if exclude_return_id is not None:
        rows = rows.exclude(return_request_id=exclude_return_id)
    for row in rows:
        credited[row.order_item_id] += row.quantity_to_credit
    return credited


def estimated_credit(*, order: Order, lines: Iterable[tuple[OrderItem, int]], exclude_return_id=None) -> Decimal:
    credited = credited_quantities(order=order, exclude_return_id=exclude_return_id)
    return sum(
        (
            item_credit(
                order_item=item,
                quantity=quantity,
                already=credited.get(item.pk, 0),
                refund_shipping=order.store.refund_shipping,
            )
            for item, quantity in lines
        ),
        ZERO,
    )


def deny_reasons(*, order: Order, lines: list[tuple[OrderItem, int]], exclude_return_id=None) -> dict[int, list[str]]:
    """Per order item, why the return is not approved automatically (empty: it is)."""
    store = order.store
    credit = estimated_credit(order=order, lines=lines, exclude_return_id=exclude_return_id)
    over_limit = ""
    try:
        in_store_currency = convert(credit, from_currency=order.currency_id, to_currency=store.currency_id).amount
    except NoExchangeRate:
        over_limit = f"No exchange rate from {order.currency_id} to compare the credit with the auto-approve limit."
    else:
        if in_store_currency > store.return_auto_approve_limit:
            over_limit = (
                f"The return credits {quantize_money(in_store_currency, store.currency_id)} {store.currency_id}, "
                f"above the auto-approve limit of {quantize_money(store.return_auto_approve_limit, store.currency_id)}."
            )
    inside = is_inside_window(order)
    reasons: dict[int, list[str]] = {}
    for item, _quantity in lines:
        found = []
        if not item.product.returnable:
            found.append(f"{NOT_RETURNABLE}: {item.sku} is not returnable.")
        if not inside:
            found.append(f"{OUTSIDE_WINDOW}: the return window has ended.")
        if over_limit:
            found.append(f"{OVER_AUTO_APPROVE_LIMIT}: {over_limit}")
        reasons[item.pk] = found
    return reasons


def open_returns_filter() -> Q:
    return Q(status__in=(ReturnStatus.PENDING, ReturnStatus.APPROVED))
