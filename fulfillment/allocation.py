"""Promising inventory to order items: stock by center priority, then expected receipts.

Every function here runs inside the caller's transaction, which holds the order row (and before it any
spending-limit holder). Stock rows are locked next, in pk order, by one statement covering every stock
row of the items' products at every center; expected receipt lines after them, also by pk and by one
statement. Receiving goods and shipping lock in the same order (docs/locking.md), so they never deadlock
with each other or with placing and cancelling. Allocation rows are only read after those locks: each is
changed only by a transaction holding the stock row or receipt line it draws on.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import F, Q, Sum

from commerce.errors import InsufficientInventory
from fulfillment.models import Allocation, ExpectedReceipt, ExpectedReceiptLine, Stock
from orders.models import InventoryStatus


@dataclass
class AllocationPlan:
    """What one allocation pass did, and the rows it still has to write when deferred."""

    backordered_items: list = field(default_factory=list)
    stock: list[Stock] = field(default_factory=list)
    lines: list[ExpectedReceiptLine] = field(default_factory=list)
    allocations: list[Allocation] = field(default_factory=list)
    written: bool = False

    @property
    def fully_allocated(self) -> bool:
        return not self.backordered_items

    def write(self) -> None:
        """Write the plan: stock and receipt lines (locked when planned), then the allocation rows.

        Deferred plans are written after their items are inserted: the rows refer to the items.
        """
        if self.written:
            return
        if self.stock:
            Stock.objects.bulk_update(self.stock, ["allocated"])
        if self.lines:
            ExpectedReceiptLine.objects.bulk_update(self.lines, ["quantity_allocated"])
        if self.allocations:
            Allocation.objects.bulk_create(self.allocations)
        self.written = True


def _stock_rows(product_ids: Iterable[int]) -> list[Stock]:
    """Lock every stock row of these products, at every center, by pk in one statement.

    The same rows whether the caller allocates (active centers only) or gives back (any center), so a
    transaction doing both takes no row in a second statement.
    """
    return list(
        Stock.objects.select_for_update(of=("self",), no_key=True)
        .filter(product_id__in=set(product_ids))
        .select_related("fulfillment_center")
        .order_by("pk")
    )


def _line_rows(product_ids: Iterable[int]) -> list[ExpectedReceiptLine]:
    """Lock the receipt lines of these products still to receive or promised, by pk in one statement."""
    return list(
        ExpectedReceiptLine.objects.select_for_update(of=("self",), no_key=True)
        .filter(Q(quantity_received__lt=F("quantity_ordered")) | Q(quantity_allocated__gt=0))
        .filter(product_id__in=set(product_ids))
        .select_related("receipt__fulfillment_center")
        .order_by("pk")
    )


def _is_open(line: ExpectedReceiptLine) -> bool:
    """``ExpectedReceiptLine.objects.open()`` for a loaded line."""
    receipt = line.receipt
    return (
        receipt.status == ExpectedReceipt.Status.OPEN and receipt.fulfillment_center.active and line.open_quantity > 0
    )


def inventory_lock(*, items: Sequence, lines: bool = True) -> None:
    """Lock, ahead of any change, the stock rows and (with ``lines``) receipt lines these items can touch.

    For a transaction that both gives promises back and takes stock (filling a backorder): every later
    lock statement of the transaction then only meets rows it already holds.
    """
    product_ids = {item.product_id for item in items}
    if product_ids:
        _stock_rows(product_ids)
        if lines:
            _line_rows(product_ids)


def _lock_stock(product_ids: Iterable[int]) -> dict[int, list[Stock]]:
    """Lock the stock rows of these products; per product, the active centers' rows by center priority."""
    by_product: dict[int, list[Stock]] = defaultdict(list)
    for row in _stock_rows(product_ids):
        # A non-ATP center's on-hand belongs to its own stores (DESIGN section 18).
        if row.fulfillment_center.active and row.fulfillment_center.inventory_system == "atp":
            by_product[row.product_id].append(row)
    for stocks in by_product.values():
        stocks.sort(key=lambda s: (s.fulfillment_center.priority, s.fulfillment_center.code))
    return by_product


def _lock_receipt_lines(product_ids: Iterable[int]) -> dict[int, list[ExpectedReceiptLine]]:
    rows = [line for line in _line_rows(product_ids) if _is_open(line)]
    by_product: dict[int, list[ExpectedReceiptLine]] = defaultdict(list)
    for row in rows:
        by_product[row.product_id].append(row)
    for lines in by_product.values():
        lines.sort(key=lambda line: (line.receipt.expected_at, line.pk))
    return by_product


def _stock_allocated_quantities(items: Sequence) -> dict[int, int]:
    totals = (
        Allocation.objects.filter(order_item__in=items, kind=Allocation.Kind.STOCK)
        .values("order_item_id")
        .annotate(total=Sum("quantity"))
    )
    return {row["order_item_id"]: row["total"] for row in totals}


def allocate_items(
    *,
    items: Sequence,
    expires_at: datetime | None = None,
    already: dict[int, int] | None = None,
    allow_backorder: bool = True,
    defer_writes: bool = False,
) -> AllocationPlan:
    """Allocate what each item still lacks from stock, then (backorderable) from expected receipts.

    ``already`` maps item ids to units already promised to them (stock or expected), so a second pass
    only looks for the rest. With ``defer_writes`` the items may be unsaved: the stock rows are locked
    and the items' inventory statuses set, and the caller writes the plan once the items exist.
    A product that is not backorderable and cannot be covered raises ``InsufficientInventory``; the
    caller's transaction then leaves nothing allocated.
    """
    already = already or {}
    plan = AllocationPlan()
    needs = {id(item): item.quantity - already.get(item.pk, 0) for item in items}
    wanting = [item for item in items if needs[id(item)] > 0]
    stock_by_product = _lock_stock(item.product_id for item in wanting) if wanting else {}
    new_allocations: list[Allocation] = []
    touched_stock: dict[int, Stock] = {}
    short: list = []
    for item in wanting:
        remaining = needs[id(item)]
        for stock in stock_by_product.get(item.product_id, []):
            take = min(stock.on_hand - stock.allocated, remaining)
            if take <= 0:
                continue
            stock.allocated += take
            touched_stock[stock.pk] = stock
            new_allocations.append(
                Allocation(
                    order_item=item,
                    fulfillment_center_id=stock.fulfillment_center_id,
                    kind=Allocation.Kind.STOCK,
                    quantity=take,
                    expires_at=expires_at,
                )
            )
            remaining -= take
            if remaining == 0:
                break
        if remaining:
            short.append((item, remaining))

    refused = [(item, rest) for item, rest in short if not (allow_backorder and item.product.backorderable)]
    if refused:
        details = {"items": [{"sku": item.sku, "requested": item.quantity, "missing": rest} for item, rest in refused]}
        skus = ", ".join(f"{item.sku} (short by {rest})" for item, rest in refused)
        raise InsufficientInventory(f"Not enough stock for {skus}.", details=details)

    touched_lines: dict[int, ExpectedReceiptLine] = {}
    dates: dict[int, date | None] = {}  # id(item) -> estimated date of backordered items
    if short:
        lines_by_product = _lock_receipt_lines(item.product_id for item, _ in short)
        for item, rest in short:
            lines = lines_by_product.get(item.product_id, [])
            # All or nothing: promise the rest against receipts only when they cover all of it.
            if sum(line.unpromised_quantity for line in lines) < rest:
                dates[id(item)] = None
                continue
            remaining = rest
            latest = None
            for line in lines:
                take = min(line.unpromised_quantity, remaining)
                if take <= 0:
                    continue
                line.quantity_allocated += take
                touched_lines[line.pk] = line
                latest = line.receipt.expected_at
                new_allocations.append(
                    Allocation(
                        order_item=item,
                        fulfillment_center_id=line.receipt.fulfillment_center_id,
                        kind=Allocation.Kind.EXPECTED,
                        receipt_line=line,
                        quantity=take,
                        expires_at=expires_at,
                    )
                )
                remaining -= take
                if remaining == 0:
                    break
            dates[id(item)] = latest

    plan.stock = list(touched_stock.values())
    plan.lines = list(touched_lines.values())
    plan.allocations = new_allocations
    if not defer_writes:
        plan.write()

    for item in items:
        if id(item) in dates:
            item.mark_backordered(estimated_available_at=dates[id(item)])
            plan.backordered_items.append(item)
        elif item.inventory_status != InventoryStatus.ALLOCATED:
            item.mark_allocated()
    return plan


def _give_back(
    *, allocations: Sequence[Allocation], stocks: list[Stock] | None, lines: list[ExpectedReceiptLine] | None
) -> int:
    """Give the stock and receipt promises of these allocation rows back, and delete them.

    ``stocks`` and ``lines`` are the rows the caller locked already; ``None`` locks them here (stock
    rows, then lines, each by pk in one statement).
    """
    if not allocations:
        return 0
    stock_keys = defaultdict(int)
    line_quantities = defaultdict(int)
    for allocation in allocations:
        if allocation.kind == Allocation.Kind.STOCK:
            stock_keys[(allocation.fulfillment_center_id, allocation.order_item.product_id)] += allocation.quantity
        else:
            line_quantities[allocation.receipt_line_id] += allocation.quantity
    if stock_keys:
        product_ids = {product for _, product in stock_keys}
        if stocks is None or not product_ids <= {stock.product_id for stock in stocks}:
            stocks = _stock_rows(product_ids)
        changed = []
        for stock in stocks:
            quantity = stock_keys.get((stock.fulfillment_center_id, stock.product_id))
            if quantity:
                stock.allocated -= quantity
                changed.append(stock)
        Stock.objects.bulk_update(changed, ["allocated"])
    if line_quantities:
        held = {line.pk: line for line in lines or []}
        if not set(line_quantities) <= set(held):
            held = {
                line.pk: line
                for line in ExpectedReceiptLine.objects.select_for_update(of=("self",), no_key=True)
                .filter(pk__in=line_quantities)
                .order_by("pk")
            }
        changed_lines = [held[pk] for pk in sorted(line_quantities)]
        for line in changed_lines:
            line.quantity_allocated -= line_quantities[line.pk]
        ExpectedReceiptLine.objects.bulk_update(changed_lines, ["quantity_allocated"])
    return Allocation.objects.filter(pk__in=[a.pk for a in allocations]).delete()[0]


def deallocate(*, allocations: Sequence[Allocation]) -> int:
    """Give the stock and the receipt promises of these allocation rows back, and delete them."""
    return _give_back(allocations=allocations, stocks=None, lines=None)


def deallocate_items(*, items: Sequence) -> int:
    """Release every allocation of these items and mark them not allocated.

    The stock rows of the items' products are locked first (and, when an item is backordered, their
    receipt lines), then the allocations are read: a receipt that turned a promise into stock meanwhile
    is seen, and the units go back where they now are.
    """
    if not items:
        return 0
    held = (InventoryStatus.ALLOCATED, InventoryStatus.BACKORDERED)
    holding = [item for item in items if item.inventory_status in held]
    stocks = _stock_rows({item.product_id for item in holding}) if holding else []
    backordered = [item for item in items if item.inventory_status == InventoryStatus.BACKORDERED]
    lines = _line_rows({item.product_id for item in backordered}) if backordered else []
    allocations = list(Allocation.objects.filter(order_item__in=items).select_related("order_item").order_by("pk"))
    released = _give_back(allocations=allocations, stocks=stocks, lines=lines)
    for item in items:
        if item.inventory_status in (InventoryStatus.ALLOCATED, InventoryStatus.BACKORDERED):
            item.mark_unallocated()
    return released


def promised_quantities(*, items: Sequence) -> dict[int, int]:
    """Units already promised to each item, from stock or against receipts."""
    totals = Allocation.objects.filter(order_item__in=items).values("order_item_id").annotate(total=Sum("quantity"))
    return {row["order_item_id"]: row["total"] for row in totals}


def stock_allocated_quantities(*, items: Sequence) -> dict[int, int]:
    return _stock_allocated_quantities(items)


def allocations_set_expiry(*, items: Sequence, expires_at: datetime | None) -> int:
    return Allocation.objects.filter(order_item__in=items).update(expires_at=expires_at)


def expected_allocations_release(*, items: Sequence) -> int:
    """Give back the receipt promises of these items (before allocating them from stock instead)."""
    allocations = list(
        Allocation.objects.filter(order_item__in=items, kind=Allocation.Kind.EXPECTED)
        .select_related("order_item")
        .order_by("pk")
    )
    return deallocate(allocations=allocations)


def stock_drift() -> list[dict]:
    """Stock rows whose ``allocated`` differs from the sum of their stock allocations."""
    sums = defaultdict(int)
    rows = (
        Allocation.objects.filter(kind=Allocation.Kind.STOCK)
        .values("fulfillment_center_id", "order_item__product_id")
        .annotate(total=Sum("quantity"))
    )
    for row in rows:
        sums[(row["fulfillment_center_id"], row["order_item__product_id"])] = row["total"]
    drift = []
    for stock in Stock.objects.select_related("fulfillment_center", "product").order_by("pk"):
        expected = sums.pop((stock.fulfillment_center_id, stock.product_id), 0)
        if stock.allocated != expected:
            drift.append({"stock": stock, "recorded": stock.allocated, "actual": expected})
    return drift


def receipt_line_drift() -> list[dict]:
    sums = dict(
        Allocation.objects.filter(kind=Allocation.Kind.EXPECTED)
        .values("receipt_line_id")
        .annotate(total=Sum("quantity"))
        .values_list("receipt_line_id", "total")
    )
    drift = []
    lines = ExpectedReceiptLine.objects.exclude(quantity_allocated=0) | ExpectedReceiptLine.objects.filter(
        pk__in=list(sums)
    )
    for line in lines.select_related("receipt", "product").order_by("pk").distinct():
        actual = sums.get(line.pk, 0)
        if line.quantity_allocated != actual:
            drift.append({"line": line, "recorded": line.quantity_allocated, "actual": actual})
    return drift
