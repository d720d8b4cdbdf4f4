"""The job commands of DESIGN section 9: contract names, what each selects, how they run."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command, get_commands, load_command_class
from django.utils import timezone

from commerce.management.jobcommand import JobCommand
from commerce.models import JobRun
from fulfillment.models import Allocation
from orders.jobs import JOBS
from orders.models import InventoryStatus, OrderEvent, OrderStatus
from tests.factories.commerce import ProductFactory, StoreFactory
from tests.factories.fulfillment import FulfillmentCenterFactory, StockFactory
from tests.factories.orders import OrderFactory, OrderItemFactory

S = OrderStatus
CONTRACT_NAMES = [
    "release_expired_allocations",
    "sync_pending_payments",
    "process_backorders",
    "release_to_fulfillment",
    "reauthorize_payments",
    "balance_payment",
    "payment_cleanup",
    "return_credit_and_close",
    "order_payment_synchronize",
    "process_depositable_amount",
    "order_close",
]

pytestmark = pytest.mark.django_db


def selected(job: str) -> list[int]:
    return list(JOBS[job].select())


def dry_run(job: str, *args) -> str:
    out = StringIO()
    call_command(job, "--dry-run", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def allocated_item(order, *, expires_at, quantity=2):
    center = FulfillmentCenterFactory(code="EAST")
    product = ProductFactory()
    stock = StockFactory(fulfillment_center=center, product=product, on_hand=10, allocated=quantity)
    item = OrderItemFactory(order=order, product=product, quantity=quantity, inventory_status=InventoryStatus.ALLOCATED)
    Allocation.objects.create(
        order_item=item, fulfillment_center=center, kind=Allocation.Kind.STOCK, quantity=quantity, expires_at=expires_at
    )
    return item, stock


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_each_contract_command_runs_its_job(name):
    assert get_commands()[name] == "orders"
    command = load_command_class("orders", name)

    assert isinstance(command, JobCommand)
    assert command.spec is JOBS[name]
    assert command.spec.name == name


def test_every_job_has_a_schedule_default_and_no_more():
    assert sorted(JOBS) == sorted(CONTRACT_NAMES) == sorted(settings.JOB_SCHEDULE_DEFAULTS)


def test_release_expired_allocations_selects_unsubmitted_orders_past_expiry():
    past, future = timezone.now() - timedelta(minutes=1), timezone.now() + timedelta(hours=1)
    due = [OrderFactory(status=status) for status in (S.PENDING, S.AWAITING_APPROVAL, S.APPROVAL_DENIED)]
    for order in due:
        allocated_item(order, expires_at=past)
    not_yet = OrderFactory(status=S.PENDING)
    allocated_item(not_yet, expires_at=future)
    submitted = OrderFactory(status=S.AUTHORIZED)
    allocated_item(submitted, expires_at=past)
    allocated_item(OrderFactory(status=S.PENDING), expires_at=None)

    assert selected("release_expired_allocations") == [order.pk for order in due]
    assert dry_run("release_expired_allocations") == "processed=3 succeeded=0 failed=0 skipped=3\n"


def test_sync_pending_payments_selects_payment_pending_orders():
    pending = OrderFactory(status=S.PAYMENT_PENDING)
    OrderFactory(status=S.PAYMENT_REVIEW)

    assert selected("sync_pending_payments") == [pending.pk]


def test_process_backorders_selects_backorders_oldest_placed_first():
    now = timezone.now()
    newer = OrderFactory(status=S.BACKORDERED, placed_at=now - timedelta(days=1))
    oldest = OrderFactory(status=S.BACKORDERED, placed_at=now - timedelta(days=3))
    middle = OrderFactory(status=S.BACKORDERED, placed_at=now - timedelta(days=2))
    OrderFactory(status=S.AUTHORIZED, placed_at=now - timedelta(days=9))

    assert selected("process_backorders") == [oldest.pk, middle.pk, newer.pk]


def test_release_to_fulfillment_selects_authorized_and_partially_releasable_backorders():
    partial = StoreFactory(code="partial", partial_release=True)
    whole = StoreFactory(code="whole", partial_release=False)
    authorized = OrderFactory(status=S.AUTHORIZED, store=whole)
    backorder_partial = OrderFactory(status=S.BACKORDERED, store=partial)
    OrderFactory(status=S.BACKORDERED, store=whole)
    OrderFactory(status=S.RELEASED, store=partial)

    assert selected("release_to_fulfillment") == [authorized.pk, backorder_partial.pk]
    assert dry_run("release_to_fulfillment", "--store", "partial") == "processed=1 succeeded=0 failed=0 skipped=1\n"


def test_balance_payment_selects_shipped_orders():
    shipped = OrderFactory(status=S.SHIPPED)
    OrderFactory(status=S.RELEASED)
    OrderFactory(status=S.DEPOSITED)

    assert selected("balance_payment") == [shipped.pk]


def test_payment_cleanup_selects_payment_pending_orders_older_than_their_stores_limit():
    now = timezone.now()
    patient = StoreFactory(code="patient", payment_cleanup_after=timedelta(days=3))
    hasty = StoreFactory(code="hasty", payment_cleanup_after=timedelta(hours=12))
    stale = OrderFactory(status=S.PAYMENT_PENDING, store=patient, placed_at=now - timedelta(days=4))
    OrderFactory(status=S.PAYMENT_PENDING, store=patient, placed_at=now - timedelta(days=1))
    stale_for_hasty = OrderFactory(status=S.PAYMENT_PENDING, store=hasty, placed_at=now - timedelta(days=1))
    OrderFactory(status=S.PAYMENT_REVIEW, store=hasty, placed_at=now - timedelta(days=9))

    assert selected("payment_cleanup") == [stale.pk, stale_for_hasty.pk]


def test_reauthorize_payments_selects_authorizations_expiring_within_their_stores_margin():
    payment_factories = pytest.importorskip("tests.factories.payments")
    now = timezone.now()
    store = StoreFactory(code="margin", reauthorize_before=timedelta(hours=24))
    soon = OrderFactory(status=S.AUTHORIZED, store=store)
    payment_factories.PaymentFactory(order=soon, status="authorized", expires_at=now + timedelta(hours=2))
    later = OrderFactory(status=S.AUTHORIZED, store=store)
    payment_factories.PaymentFactory(order=later, status="authorized", expires_at=now + timedelta(days=5))
    done = OrderFactory(status=S.DEPOSITED, store=store)
    payment_factories.PaymentFactory(order=done, status="authorized", expires_at=now + timedelta(hours=2))
    renewed = OrderFactory(status=S.RELEASED, store=store)
    payment_factories.PaymentFactory(
        order=renewed, status="authorized", expires_at=now + timedelta(hours=2), is_current=False
    )
    payment_factories.PaymentFactory(order=renewed, status="authorized", expires_at=now + timedelta(days=6))

    assert selected("reauthorize_payments") == [soon.pk]


def test_a_job_runs_its_service_per_order_end_to_end():
    """release_expired_allocations through the real service: the stock comes back, the run is recorded."""
    pytest.importorskip("orders.services")
    order = OrderFactory(status=S.PENDING)
    item, stock = allocated_item(order, expires_at=timezone.now() - timedelta(minutes=5), quantity=3)
    out = StringIO()

    call_command("release_expired_allocations", stdout=out, stderr=StringIO())

    assert out.getvalue() == "processed=1 succeeded=1 failed=0 skipped=0\n"
    stock.refresh_from_db()
    item.refresh_from_db()
    assert (stock.on_hand, stock.allocated) == (10, 0)
    assert item.inventory_status == InventoryStatus.NOT_ALLOCATED
    assert not Allocation.objects.filter(order_item=item).exists()
    assert OrderEvent.objects.filter(order=order, actor_name="release_expired_allocations").exists()
    run = JobRun.objects.get()
    assert (run.name, run.status, run.succeeded) == ("release_expired_allocations", JobRun.Status.SUCCEEDED, 1)
