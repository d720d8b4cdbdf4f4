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
