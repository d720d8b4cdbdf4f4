"""The set-based path of ``release_to_fulfillment``: a chunk of authorized orders released together.

The per-order step (``orders.services.order_release``) spends some seventeen statements on an order:
it loads it, checks its spending limits and its payment, locks it and its items, reads its
allocations and centers, inserts each release, moves the items, saves the order and writes the
events. Here a chunk of orders takes the same steps once each, one statement per table:

1. **Payment checks of the chunk first** (no lock, one query): an order goes the set-based way only
   when the per-order step would answer it without a gateway call or a write: authorized (C), no
   payment check due after a failed fulfillment, no purchase order or trading agreement to re-check,
   and a current payment authorized for its grand total, not expiring, with nothing in flight.
   Its store's inventory system must release in sets (``atp``; DESIGN section 18). Every other order
   of the chunk (a backorder released in part, a submitted order's reserve event, a store without
   inventory, a payment to reauthorize, a limit to re-check) is left to the per-order step.
2. **One transaction** (``atomic_with_retry``) over the orders that passed: lock the orders
   (``FOR NO KEY UPDATE SKIP LOCKED``, by pk; one another worker holds is skipped, as the per-order
   step skips it), then their items (by pk, ``of=self``): the lock order of docs/locking.md, levels 1
   and 2 only, so no wait can close a cycle. Then one read of allocations, centers and earlier
   release numbers, one INSERT of releases, one of release items, one UPDATE of items, one of orders
   and one INSERT of events. An order whose items are not all allocated from stock is left out of
   the writes and goes to the per-order step, which explains why it cannot be released.

Any error in step 2 rolls the chunk back whole; ``commerce.jobs`` then runs the per-order step for
every order of the chunk, so one bad order still fails only itself. The rows written are the ones the
per-order step writes: same statuses, release numbers and snapshots, release items and events.
"""

from collections import defaultdict

from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from commerce.jobs import JobOutcome
from commerce.retry import atomic_with_retry
from fulfillment.inventory_systems import inventory_system_names
from fulfillment.models import Allocation, FulfillmentCenter, Release, ReleaseItem
from orders.events import order_events_record_bulk
from orders.models import InventoryStatus, Order, OrderEvent, OrderItem, OrderStatus

S = OrderStatus
PAYMENT_AUTHORIZED = "authorized"
SNAPSHOT = (
    "ship_mode",
    "ship_to_name",
    "ship_to_line1",
    "ship_to_line2",
    "ship_to_city",
    "ship_to_region",
    "ship_to_postal_code",
    "ship_to_country",
)


def _releasable_without_gateway(order_ids: list[int]) -> list[int]:
    """The orders of the chunk whose release needs no gateway call, limit check or partial release."""
    from payments.models import Payment  # the payments app is a peer whose models load after ours

    holding = Payment.objects.filter(
        order=OuterRef("pk"),
        is_current=True,
        status=PAYMENT_AUTHORIZED,
        pending_operation="",
        approved_amount=OuterRef("grand_total"),
    ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
    on_agreement = OrderItem.objects.filter(order=OuterRef("pk"), trading_agreement__isnull=False)
    return list(
        Order.objects.filter(
            pk__in=order_ids,
            status=S.AUTHORIZED,
            payment_check_due=False,
            purchase_order__isnull=True,
            purchase_order_number="",
            store__inventory_system__in=inventory_system_names(uses="releases_in_sets"),
        )
        .filter(Exists(holding), ~Exists(on_agreement))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def orders_release_chunk(*, order_ids: list[int], actor_name: str = "release_to_fulfillment") -> dict[int, JobOutcome]:
    """Release the orders of a chunk that need no gateway call, together; answer the outcome of each.

    Orders missing from the answer are for the per-order step. Raises when the chunk's transaction
    fails; nothing of it is then written and the caller falls back to the per-order step.
    """
    eligible = _releasable_without_gateway(order_ids)
    if not eligible:
        return {}
    return _release_locked(eligible, actor_name)


@atomic_with_retry
def _release_locked(order_ids: list[int], actor_name: str) -> dict[int, JobOutcome]:
    fields = ("pk", "number", "status", "store_id", *SNAPSHOT)
    orders = {
        row["pk"]: row
        for row in Order.objects.select_for_update(skip_locked=True, of=("self",), no_key=True)
        .filter(pk__in=order_ids, status=S.AUTHORIZED, payment_check_due=False)
        .order_by("pk")
        .values(*fields)
    }
    # An order another worker holds, or that moved on since the check, is the per-order step's to skip.
    outcomes: dict[int, JobOutcome] = {}
    if not orders:
        return outcomes
    items_by_order: dict[int, list[tuple]] = defaultdict(list)
    for row in (
        OrderItem.objects.select_for_update(of=("self",), no_key=True)
        .filter(order_id__in=list(orders))
        .order_by("pk")
        .values_list("pk", "order_id", "sku", "quantity", "status", "inventory_status")
    ):
        items_by_order[row[1]].append(row)
    item_ids = [row[0] for rows in items_by_order.values() for row in rows]
    stock: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    expected: set[int] = set()
    for item_id, center_id, kind, quantity in Allocation.objects.filter(order_item_id__in=item_ids).values_list(
        "order_item_id", "fulfillment_center_id", "kind", "quantity"
    ):
        if kind == Allocation.Kind.STOCK:
            stock[item_id][center_id] += quantity
        else:
            expected.add(item_id)

    ready: list[int] = []
    for order_id in orders:
        rows = items_by_order.get(order_id, [])
        whole = rows and all(
            status == S.AUTHORIZED
            and inventory == InventoryStatus.ALLOCATED
            and item_id not in expected
            and sum(stock[item_id].values()) == quantity
            for item_id, _, _, quantity, status, inventory in rows
        )
        if whole:
            ready.append(order_id)
    if not ready:
        return outcomes

    last = dict(
        Release.objects.filter(order_id__in=ready)
        .values("order_id")
        .annotate(last=Max("sequence"))
        .values_list("order_id", "last")
    )
    center_ids = {center for order_id in ready for row in items_by_order[order_id] for center in stock[row[0]]}
    codes = dict(FulfillmentCenter.objects.filter(pk__in=center_ids).values_list("pk", "code"))
    releases: list[Release] = []
    lines: list[tuple[Release, list[tuple[int, str, int]]]] = []
    for order_id in ready:
        order = orders[order_id]
        by_center: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
        for item_id, _, sku, _, _, _ in items_by_order[order_id]:
            for center_id, quantity in sorted(stock[item_id].items()):
                if quantity > 0:
                    by_center[center_id].append((item_id, sku, quantity))
        for offset, center_id in enumerate(sorted(by_center), start=1):
            sequence = (last.get(order_id) or 0) + offset
            release = Release(
                number=f"{order['number']}-{sequence}",
                sequence=sequence,
                order_id=order_id,
                fulfillment_center_id=center_id,
                **{name: order[name].upper() if name == "ship_to_country" else order[name] for name in SNAPSHOT},
            )
            releases.append(release)
            lines.append((release, by_center[center_id]))
    Release.objects.bulk_create(releases)
    ReleaseItem.objects.bulk_create(
        ReleaseItem(release=release, order_item_id=item_id, quantity=quantity)
        for release, items in lines
        for item_id, _, quantity in items
    )
    ready_items = [row[0] for order_id in ready for row in items_by_order[order_id]]
    moved = OrderItem.objects.filter(
        pk__in=ready_items, status=S.AUTHORIZED, inventory_status=InventoryStatus.ALLOCATED
    ).update(status=S.RELEASED)
    if moved != len(ready_items):
        raise RuntimeError(f"{len(ready_items) - moved} items changed under their order's lock.")
    now = timezone.now()
    moved = Order.objects.filter(pk__in=ready, status=S.AUTHORIZED).update(
        status=S.RELEASED, released_at=now, payment_check_due=False, updated_at=now
    )
    if moved != len(ready):
        raise RuntimeError(f"{len(ready) - moved} orders changed under their lock.")

    numbers: dict[int, list[str]] = defaultdict(list)
    events: list[OrderEvent] = []
    # The events' orders as the status-change webhooks need them (number, store), without loading rows.
    stubs = {
        order_id: Order(pk=order_id, number=orders[order_id]["number"], store_id=orders[order_id]["store_id"])
        for order_id in ready
    }
    for release, items in lines:
        numbers[release.order_id].append(release.number)
        code = codes[release.fulfillment_center_id]
        events.append(
            OrderEvent(
                order=stubs[release.order_id],
                kind=OrderEvent.Kind.FULFILLMENT,
                message=f"Release {release.number} to {code}"[:255],
                extra={"release": release.number, "fulfillment_center": code,
                       "items": [[sku, quantity] for _, sku, quantity in items]},
                actor=None,
                actor_name=actor_name,
            )
        )  # fmt: skip
    for order_id in ready:
        events.append(
            OrderEvent(
                order=stubs[order_id],
                kind=OrderEvent.Kind.STATUS,
                from_status=S.AUTHORIZED,
                to_status=S.RELEASED,
                extra={"releases": numbers[order_id]},
                actor=None,
                actor_name=actor_name,
            )
        )
    order_events_record_bulk(events)  # and the status-change webhooks, for stores that want them
    for order_id in ready:
        outcomes[order_id] = JobOutcome.SUCCEEDED
    return outcomes
