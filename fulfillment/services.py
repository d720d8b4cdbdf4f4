"""Inventory writes: receiving goods, checking and repairing the allocation counters.

Both lock in the product's order (docs/locking.md): stock rows by pk, then receipt lines by pk, each in
one statement; allocation rows after them, only the allocations' own rows (never their orders).
"""

from dataclasses import dataclass, field

from commerce.errors import ValidationFailed
from commerce.models import Product
from commerce.retry import atomic_with_retry
from fulfillment.allocation import receipt_line_drift, stock_drift
from fulfillment.models import Allocation, ExpectedReceipt, ExpectedReceiptLine, FulfillmentCenter, Stock


@dataclass
class ReceiptResult:
    stock: Stock
    quantity: int
    closed_lines: list[str] = field(default_factory=list)
    promised_to_backorders: int = 0


def _reserve_for_backorders(*, line: ExpectedReceiptLine, stock: Stock, quantity: int) -> int:
    """Turn ``quantity`` units promised on an expected line into stock allocations, oldest orders first."""
    remaining = quantity
    # Only the allocation rows: ordering by their orders joins those, and locking them here would take
    # order rows after stock rows, the reverse of cancelling.
    allocations = (
        Allocation.objects.select_for_update(of=("self",))
        .filter(receipt_line=line, kind=Allocation.Kind.EXPECTED)
        .order_by("order_item__order__placed_at", "order_item__order_id", "pk")
    )
    for allocation in allocations:
        if remaining == 0:
            break
        take = min(allocation.quantity, remaining)
        if take == allocation.quantity:
            allocation.kind = Allocation.Kind.STOCK
            allocation.receipt_line = None
            allocation.save(update_fields=["kind", "receipt_line"])
        else:
            allocation.quantity -= take
            allocation.save(update_fields=["quantity"])
            Allocation.objects.create(
                order_item_id=allocation.order_item_id,
                fulfillment_center_id=allocation.fulfillment_center_id,
                kind=Allocation.Kind.STOCK,
                quantity=take,
            )
        remaining -= take
    converted = quantity - remaining
    line.quantity_allocated -= converted
    stock.allocated += converted
    return converted


def inventory_receive(*, fulfillment_center: FulfillmentCenter, product: Product, quantity: int) -> ReceiptResult:
    """Raise on-hand, closing the center's expected receipt lines of the product, earliest first.

    Units already promised to backorders on a line that is now received stay theirs: they become
    stock allocations (oldest orders first), so a new order cannot take them before
    ``process_backorders`` moves the backorders on.
    """
    if quantity <= 0:
        raise ValidationFailed("quantity: must be a positive whole number.", details={"quantity": ["Must be > 0."]})
    return _receive(fulfillment_center=fulfillment_center, product=product, quantity=quantity)


@atomic_with_retry
def _receive(*, fulfillment_center: FulfillmentCenter, product: Product, quantity: int) -> ReceiptResult:
    stock, _ = Stock.objects.select_for_update(no_key=True).get_or_create(
        fulfillment_center=fulfillment_center, product=product
    )
    stock.on_hand += quantity
    result = ReceiptResult(stock=stock, quantity=quantity)
    # Locked by pk (only the lines, not their receipts), applied earliest receipt first.
    lines = sorted(
        ExpectedReceiptLine.objects.select_for_update(of=("self",), no_key=True)
        .open()
        .filter(receipt__fulfillment_center=fulfillment_center, product=product)
        .select_related("receipt")
        .order_by("pk"),
        key=lambda line: (line.receipt.expected_at, line.pk),
    )
    to_apply = quantity
    for line in lines:
        if to_apply == 0:
            break
        received = min(line.open_quantity, to_apply)
        line.quantity_received += received
        to_apply -= received
        overpromised = line.quantity_allocated - line.open_quantity
        if overpromised > 0:
            result.promised_to_backorders += _reserve_for_backorders(line=line, stock=stock, quantity=overpromised)
        line.save(update_fields=["quantity_received", "quantity_allocated"])
        if line.open_quantity == 0:
            result.closed_lines.append(f"{line.receipt.number}/{product.sku}")
    stock.save(update_fields=["on_hand", "allocated", "updated_at"])
    _close_received_receipts(fulfillment_center=fulfillment_center, product=product)
    return result


def inventory_restock(*, fulfillment_center: FulfillmentCenter, product: Product, quantity: int) -> Stock:
    """Put returned goods back on the shelf: raise on-hand under the stock row's lock, as receiving does.

    Returned goods are not a vendor's delivery, so expected receipt lines stay open; the new units
    are free stock that ATP shows at once and ``process_backorders`` may allocate.
    """
    if quantity <= 0:
        raise ValidationFailed("quantity: must be a positive whole number.", details={"quantity": ["Must be > 0."]})
    return _restock(fulfillment_center=fulfillment_center, product=product, quantity=quantity)


@atomic_with_retry
def _restock(*, fulfillment_center: FulfillmentCenter, product: Product, quantity: int) -> Stock:
    stock, _ = Stock.objects.select_for_update(no_key=True).get_or_create(
        fulfillment_center=fulfillment_center, product=product
    )
    stock.on_hand += quantity
    stock.save(update_fields=["on_hand", "updated_at"])
    return stock


def _close_received_receipts(*, fulfillment_center: FulfillmentCenter, product: Product) -> None:
    receipts = ExpectedReceipt.objects.filter(
        fulfillment_center=fulfillment_center, status=ExpectedReceipt.Status.OPEN, lines__product=product
    ).prefetch_related("lines")
    for receipt in receipts:
        if all(line.open_quantity == 0 for line in receipt.lines.all()):
            receipt.status = ExpectedReceipt.Status.CLOSED
            receipt.save(update_fields=["status"])


@dataclass
class InventoryCheck:
    stock_drift: list[dict]
    receipt_drift: list[dict]
    repaired: bool = False

    @property
    def clean(self) -> bool:
        return not self.stock_drift and not self.receipt_drift


def inventory_check(*, repair: bool = False) -> InventoryCheck:
    """Compare recorded allocations with the allocation rows; with ``repair``, make them agree."""
    return _check(repair=repair)


@atomic_with_retry
def _check(*, repair: bool) -> InventoryCheck:
    if repair:
        # Lock every stock row, then every receipt line (pk order, as allocation does) so no order moves
        # while we repair.
        list(Stock.objects.select_for_update(no_key=True).order_by("pk").values_list("pk", flat=True))
        list(ExpectedReceiptLine.objects.select_for_update(no_key=True).order_by("pk").values_list("pk", flat=True))
    report = InventoryCheck(stock_drift=stock_drift(), receipt_drift=receipt_line_drift())
    if repair and not report.clean:
        for row in report.stock_drift:
            stock = row["stock"]
            stock.allocated = row["actual"]
            stock.save(update_fields=["allocated", "updated_at"])
        for row in report.receipt_drift:
            line = row["line"]
            line.quantity_allocated = row["actual"]
            line.save(update_fields=["quantity_allocated"])
        report.repaired = True
    return report
