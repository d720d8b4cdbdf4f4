"""The order state machine: DESIGN section 3's transition table, pair by pair."""

import itertools

import pytest
from django.db import transaction
from django_fsm import ConcurrentTransition, TransitionNotAllowed, can_proceed

from orders.models import InventoryStatus, Order, OrderItem, OrderStatus
from tests.factories.orders import OrderFactory, OrderItemFactory

STATUSES = [s.value for s in OrderStatus]

# Written out from DESIGN.md, independently of the model's decorators.
ALLOWED = {
    ("P", "W"), ("P", "M"), ("P", "A"), ("P", "B"), ("P", "C"),
    ("W", "M"), ("W", "A"), ("W", "B"), ("W", "C"), ("W", "N"),
    ("M", "A"), ("M", "B"), ("M", "C"), ("M", "X"),
    ("A", "B"), ("A", "C"), ("A", "X"),
    ("B", "C"), ("B", "A"), ("B", "R"),
    ("C", "R"),
    ("R", "S"),
    ("S", "D"),
    ("P", "X"), ("W", "X"), ("N", "X"), ("B", "X"), ("C", "X"),
    # DESIGN section 16: a reauthorization in review (C → A), a remote fulfillment failure (R → C).
    ("C", "A"), ("R", "C"),
    # DESIGN section 18: status I (submitted, payment not yet started) under a rule that approves later,
    # and an order without inventory fulfilled once paid for (C → S).
    ("P", "I"), ("W", "I"), ("B", "I"), ("I", "R"), ("I", "X"),
    ("C", "S"),
}  # fmt: skip

TRANSITION_METHODS = [
    "submit_for_approval",
    "await_payment",
    "hold_for_review",
    "backorder",
    "authorize",
    "reject",
    "release",
    "ship",
    "deposit",
    "cancel",
    "return_from_fulfillment",
    "submit_unpaid",
    "fulfill_without_shipment",
]


def methods_reaching(target: str) -> list[str]:
    names = []
    for name in TRANSITION_METHODS:
        meta = getattr(Order, name)._django_fsm
        if any(t.target == target for t in meta.transitions.values()):
            names.append(name)
    return names


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_transition_table(source, target):
    order = OrderFactory(status=source)
    reachable = [name for name in methods_reaching(target) if can_proceed(getattr(order, name), check_conditions=False)]

    assert bool(reachable) == ((source, target) in ALLOWED)


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), sorted(ALLOWED))
def test_allowed_transition_changes_status(source, target):
    order = OrderFactory(status=source)
    item_status = {"R": "R", "S": "S"}.get(target, source)
    if (source, target) == ("R", "C"):
        item_status = "C"  # the service takes the items back from fulfillment first
    OrderItemFactory(order=order, status=item_status)
    method = next(n for n in methods_reaching(target) if can_proceed(getattr(order, n)))

    getattr(order, method)()
    order.save()

    order.refresh_from_db()
    assert order.status == target


@pytest.mark.django_db
@pytest.mark.parametrize("method", TRANSITION_METHODS)
def test_final_statuses_refuse_every_transition(method):
    for status in ("D", "X"):
        order = OrderFactory(status=status)
        with pytest.raises(TransitionNotAllowed):
            getattr(order, method)()


@pytest.mark.django_db
def test_status_cannot_be_assigned():
    order = OrderFactory(status="C")

    with pytest.raises(AttributeError):
        order.status = "D"


@pytest.mark.django_db
def test_cancel_refused_once_an_item_is_released():
    order = OrderFactory(status="B")
    OrderItemFactory(order=order, status="R")
    OrderItemFactory(order=order, status="B")

    assert not can_proceed(order.cancel)
    with pytest.raises(TransitionNotAllowed):
        order.cancel()


@pytest.mark.django_db
def test_release_needs_every_item_released():
    order = OrderFactory(status="B")
    OrderItemFactory(order=order, status="R")
    OrderItemFactory(order=order, status="B")

    assert not can_proceed(order.release)


@pytest.mark.django_db
def test_ship_needs_every_item_shipped():
    order = OrderFactory(status="R")
    OrderItemFactory(order=order, status="S")
    OrderItemFactory(order=order, status="R")

    assert not can_proceed(order.ship)


@pytest.mark.django_db
def test_concurrent_transition_is_refused():
    order = OrderFactory(status="A")
    first = Order.objects.get(pk=order.pk)
    second = Order.objects.get(pk=order.pk)
    first.authorize()
    first.save()

    second.cancel(reason="declined meanwhile")
    with pytest.raises(ConcurrentTransition), transaction.atomic():
        second.save()
    assert Order.objects.get(pk=order.pk).status == "C"


@pytest.mark.django_db
def test_submit_sets_placed_at_once():
    order = OrderFactory(status="P")
    order.submit_for_approval()
    placed = order.placed_at
    order.authorize()

    assert placed is not None
    assert order.placed_at == placed


@pytest.mark.django_db
def test_item_inventory_status_moves():
    item = OrderItemFactory()
    item.mark_backordered(estimated_available_at=None)
    item.mark_allocated()
    item.mark_fulfilled()
    item.save()

    item = OrderItem.objects.get(pk=item.pk)
    assert item.inventory_status == InventoryStatus.FULFILLED
    with pytest.raises(TransitionNotAllowed):
        item.mark_unallocated()


@pytest.mark.django_db
def test_order_numbers_are_unique():
    numbers = {OrderFactory().number for _ in range(50)}

    assert len(numbers) == 50


# Status I on the items (DESIGN section 18), pair by pair: items follow their order into and out of I,
# are released from I and cancelled from I, and nothing else reaches or leaves it.

ITEM_METHODS = [
    "follow_order",
    "release",
    "ship",
    "return_from_fulfillment",
    "deposit",
    "cancel",
    "fulfill_without_shipment",
]
PRE_RELEASE_CODES = ["P", "W", "N", "M", "A", "B", "C", "I"]
ITEM_ALLOWED_WITH_I = (
    {(source, "I") for source in PRE_RELEASE_CODES}  # follow_order: an item follows its order into I
    | {("I", target) for target in PRE_RELEASE_CODES}  # ... and out of it, before release
    | {("I", "R"), ("I", "X")}
)


def item_can_reach(item: OrderItem, target: str) -> bool:
    for name in ITEM_METHODS:
        meta = getattr(OrderItem, name)._django_fsm
        transition = meta.get_transition(item.status)
        if transition is None:
            continue
        targets = (
            transition.target.allowed_states if hasattr(transition.target, "allowed_states") else [transition.target]
        )
        if target in targets:
            return True
    return False


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("source", "target"),
    [(s, t) for s, t in itertools.product(STATUSES, STATUSES) if "I" in (s, t) and s != t],
)
def test_item_transition_table_for_status_i(source, target):
    item = OrderItemFactory(status=source)

    assert item_can_reach(item, target) == ((source, target) in ITEM_ALLOWED_WITH_I)
