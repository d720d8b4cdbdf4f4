"""Inventory systems (DESIGN section 18): how a store's order items get their goods.

A store's ``inventory_system`` names one of the classes of the ``INVENTORY_SYSTEMS`` setting. The order
services ask the store's system at submit (``allocate``), approval (``reallocate``), cancellation and
rejection (``deallocate``) and release (``release``); the jobs ask which of them apply to its stores.
Resolving a system reads settings only, never the database: the store row is already loaded.

- ``atp``: allocations against stock by center priority, expected receipts and backorders, releases to
  pick batches (sections 5 and 6).
- ``non_atp``: on-hand only. Each item is taken whole from one center's on-hand under a row lock and put
  back on cancel; the order ships with packages made for the order itself, without pick batches.
- ``none``: no goods to move (digital goods, services): items are allocated at once and the order is
  fulfilled when its payment is authorized.

A fourth kind is a subclass of ``InventorySystem`` and one entry in ``INVENTORY_SYSTEMS``.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from commerce.errors import InsufficientInventory
from fulfillment import allocation
from fulfillment.models import Allocation, FulfillmentCenter, Stock
from orders.models import InventoryStatus


class InventorySystem:
    """What an order's items need from inventory at each step; the default holds nothing."""

    name = ""
    # The ATP jobs (release_expired_allocations, process_backorders) select this system's stores.
    uses_atp_jobs = False
    # release_to_fulfillment selects this system's stores.
    uses_release_job = True
    # Releases ship from ``ready`` with packages made for the order, without pick batches.
    ships_without_pick_batch = False
    # The order is fulfilled (C → S) as soon as its payment is authorized (or reserved: R → S).
    fulfilled_without_shipment = False
    # release_to_fulfillment may release this system's authorized orders in sets (``orders.release_batch``):
    # its release is the one that set-based path writes (releases of the stock allocations).
    releases_in_sets = False

    def allocate(self, *, items: Sequence, expires_at: datetime | None = None, defer_writes: bool = False):
        """Give the items their goods; return a plan with ``backordered_items`` and ``write()``."""
        for item in items:
            if item.inventory_status != InventoryStatus.ALLOCATED:
                item.mark_allocated()
        return allocation.AllocationPlan(written=True)

    def reallocate(self, *, items: Sequence) -> None:
        """Allocate again what an order waiting for approval lost meanwhile (approve)."""

    def deallocate(self, *, items: Sequence) -> int:
        """Give the items' goods back (cancel, reject) and mark them not allocated."""
        for item in items:
            if item.inventory_status in (InventoryStatus.ALLOCATED, InventoryStatus.BACKORDERED):
                item.mark_unallocated()
        return 0

    def release(self, *, order, items: Sequence, acting_user=None, actor_name: str = "") -> list:
        """Make the releases for the items and return them; the orders app moves the items and the order."""
        from fulfillment.releases import releases_create

        return releases_create(order=order, items=items, acting_user=acting_user, actor_name=actor_name)


class AtpInventory(InventorySystem):
    """Sections 5 and 6 as built: allocations, expected receipts, backorders, pick batches."""

    name = "atp"
    uses_atp_jobs = True
    releases_in_sets = True

    def allocate(self, *, items: Sequence, expires_at: datetime | None = None, defer_writes: bool = False):
        return allocation.allocate_items(items=items, expires_at=expires_at, defer_writes=defer_writes)

    def reallocate(self, *, items: Sequence) -> None:
        allocation.allocate_items(items=items, already=allocation.promised_quantities(items=items))
        allocation.allocations_set_expiry(items=items, expires_at=None)

    def deallocate(self, *, items: Sequence) -> int:
        return allocation.deallocate_items(items=items)


@dataclass
class OnHandPlan:
    """What a non-ATP pass takes from on-hand; written at once or after the items are inserted."""

    stock: list[Stock] = field(default_factory=list)
    allocations: list[Allocation] = field(default_factory=list)
    backordered_items: list = field(default_factory=list)
    written: bool = False

    @property
    def fully_allocated(self) -> bool:
        return True

    def write(self) -> None:
        if self.written:
            return
        if self.stock:
            Stock.objects.bulk_update(self.stock, ["on_hand", "updated_at"])
        if self.allocations:
            Allocation.objects.bulk_create(self.allocations)
        self.written = True


class NonAtpInventory(InventorySystem):
    """On-hand only: each item taken whole from one of the store's centers, under the stock row's lock."""

    name = "non_atp"
    uses_release_job = False
    ships_without_pick_batch = True

    @staticmethod
    def _centers(store) -> list[FulfillmentCenter]:
        return list(
            FulfillmentCenter.objects.filter(stores=store, active=True, inventory_system=NonAtpInventory.name).order_by(
                "priority", "code"
            )
        )

    def allocate(self, *, items: Sequence, expires_at: datetime | None = None, defer_writes: bool = False):
        wanted = [item for item in items if item.inventory_status != InventoryStatus.ALLOCATED]
        plan = OnHandPlan()
        if not wanted:
            plan.written = True
            return plan
        centers = self._centers(wanted[0].order.store)
        rank = {center.pk: position for position, center in enumerate(centers)}
        # One statement locks every stock row the items could use, in pk order (the order every writer follows).
        rows = list(
            Stock.objects.select_for_update(of=("self",), no_key=True)
            .filter(product_id__in={item.product_id for item in wanted}, fulfillment_center__in=list(rank))
            .order_by("pk")
        )
        by_product: dict[int, list[Stock]] = defaultdict(list)
        for row in sorted(rows, key=lambda row: rank[row.fulfillment_center_id]):
            by_product[row.product_id].append(row)
        now = timezone.now()
        taken: dict[int, Stock] = {}
        for item in wanted:
            stock = next((row for row in by_product[item.product_id] if row.on_hand >= item.quantity), None)
            if stock is None:
                on_hand = max((row.on_hand for row in by_product[item.product_id]), default=0)
                raise InsufficientInventory(
                    f"Not enough {item.sku} on hand in one center: {item.quantity} wanted, {on_hand} at most.",
                    details={"sku": item.sku, "requested": item.quantity, "available": on_hand},
                )
            stock.on_hand -= item.quantity
            stock.updated_at = now
            taken[stock.pk] = stock
            plan.allocations.append(
                Allocation(
                    order_item=item,
                    fulfillment_center_id=stock.fulfillment_center_id,
                    kind=Allocation.Kind.ON_HAND,
                    quantity=item.quantity,
                )
            )
            item.mark_allocated()
        plan.stock = list(taken.values())
        if not defer_writes:
            plan.write()
        return plan

    def deallocate(self, *, items: Sequence) -> int:
        held = list(
            Allocation.objects.filter(order_item__in=items, kind=Allocation.Kind.ON_HAND)
            .select_related("order_item")
            .order_by("pk")
        )
        back: dict[tuple[int, int], int] = defaultdict(int)
        for row in held:
            back[(row.fulfillment_center_id, row.order_item.product_id)] += row.quantity
        if back:
            stocks = list(
                Stock.objects.select_for_update(no_key=True)
                .filter(product_id__in={product for _, product in back}, fulfillment_center_id__in={c for c, _ in back})
                .order_by("pk")
            )
            now = timezone.now()
            changed = []
            for stock in stocks:
                quantity = back.get((stock.fulfillment_center_id, stock.product_id))
                if quantity:
                    stock.on_hand += quantity
                    stock.updated_at = now
                    changed.append(stock)
            Stock.objects.bulk_update(changed, ["on_hand", "updated_at"])
        released = Allocation.objects.filter(pk__in=[row.pk for row in held]).delete()[0]
        super().deallocate(items=items)
        return released


class NoInventory(InventorySystem):
    """No goods (digital goods, services): nothing to hold, release, pick or ship."""

    name = "none"
    fulfilled_without_shipment = True

    def release(self, *, order, items: Sequence, acting_user=None, actor_name: str = "") -> list:
        return []


@cache
def _system(name: str) -> InventorySystem:
    try:
        path = settings.INVENTORY_SYSTEMS[name]
    except KeyError:
        raise ValueError(
            f"No inventory system {name!r}; INVENTORY_SYSTEMS has {', '.join(settings.INVENTORY_SYSTEMS)}."
        ) from None
    return import_string(path)()


def inventory_system_named(name: str) -> InventorySystem:
    return _system(name)


def inventory_system_for(store) -> InventorySystem:
    """The inventory system of a (loaded) store; no query."""
    return _system(store.inventory_system)


def inventory_system_names(*, uses: str) -> list[str]:
    """The names of the systems with the flag ``uses`` set (for the jobs' selections)."""
    return [name for name in settings.INVENTORY_SYSTEMS if getattr(_system(name), uses)]
