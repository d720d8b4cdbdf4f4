"""Faults: the gateway times out or fails, goods arrive late, a job process dies mid-run.

After each fault nothing is lost and nothing is done twice, and the order waits in a state a rerun (or a
person) finishes; every test shows that rerun finishing it. Gateway faults come from the simulated
gateway's tokens: ``tok_timeout`` carries out the first call of each idempotency key but loses its answer
(authorize, capture and void alike), ``tok_error`` fails every authorization.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from commerce.jobs import JobOutcome, job_run
from fulfillment.models import Allocation, ExpectedReceipt, ExpectedReceiptLine, Release, ReleaseItem, Stock
from fulfillment.services import inventory_receive
from orders import services
from orders.jobs import (
    BALANCE_PAYMENT,
    PAYMENT_CLEANUP,
    PROCESS_BACKORDERS,
    REAUTHORIZE_PAYMENTS,
    RELEASE_TO_FULFILLMENT,
    SYNC_PENDING_PAYMENTS,
)
from orders.models import InventoryStatus, Order, OrderEvent, OrderStatus
from payments.models import PaymentStatus, SimulatedAuthorization, SimulatedGatewayRecord
from tests.factories.commerce import ProductFactory
from tests.factories.fulfillment import StockFactory
from tests.reliability.conftest import assert_consistent, authorized_orders, place, shipped_orders

S = OrderStatus
P = PaymentStatus
ROOT = Path(__file__).resolve().parents[2]


def allocated(product) -> int:
    return sum(Stock.objects.filter(product=product).values_list("allocated", flat=True))


def gateway_authorizations(order) -> list[SimulatedAuthorization]:
    references = order.payments.exclude(authorization_reference="").values_list("authorization_reference", flat=True)
    return list(SimulatedAuthorization.objects.filter(reference__in=references).order_by("created_at", "pk"))


@pytest.fixture
def travel(monkeypatch):
    """Move Django's clock (our services and the simulated gateway both read it)."""

    def to(moment):
        monkeypatch.setattr(timezone, "now", lambda: moment)

    return to


@pytest.mark.django_db
class TestGatewayFaults:
    def test_authorization_timeout_waits_in_m_and_sync_authorizes_it_once(self, shop):
        tshirt, _, _ = shop.products

        order = place([(tshirt, 2)], token="tok_timeout")

        # The gateway authorized, the answer was lost: the order waits, holding its stock.
        assert order.status == S.PAYMENT_PENDING
        assert order.payments.get().status == P.PENDING
        assert allocated(tshirt) == 2
        run = job_run(spec=SYNC_PENDING_PAYMENTS)
        assert (run.succeeded, run.failed) == (1, 0)
        order.refresh_from_db()
        assert order.status == S.AUTHORIZED
        payment = order.payments.get()
        assert (payment.status, payment.approved_amount) == (P.AUTHORIZED, order.grand_total)
        assert SimulatedAuthorization.objects.count() == 1  # asked again with the same key: one authorization
        assert payment.transactions.filter(kind="authorize", applied=True).count() == 1
        assert job_run(spec=SYNC_PENDING_PAYMENTS).processed == 0
        assert job_run(spec=RELEASE_TO_FULFILLMENT).succeeded == 1
        assert_consistent()

    def test_authorization_error_waits_in_m_until_cleanup_cancels_it_and_gives_everything_back(self, shop):
        tshirt, _, _ = shop.products
        order = place([(tshirt, 3)], token="tok_error")
        assert order.status == S.PAYMENT_PENDING

        # Every retry fails again (each with a new key); the order keeps waiting, nothing is authorized.
        assert job_run(spec=SYNC_PENDING_PAYMENTS).skipped == 1
        assert Order.objects.get(pk=order.pk).status == S.PAYMENT_PENDING
        assert not SimulatedAuthorization.objects.exists()
        assert job_run(spec=PAYMENT_CLEANUP).processed == 0  # too early to give up
        Order.objects.filter(pk=order.pk).update(placed_at=timezone.now() - shop.store.payment_cleanup_after * 2)
        run = job_run(spec=PAYMENT_CLEANUP)

        assert (run.succeeded, run.failed) == (1, 0)
        order.refresh_from_db()
        assert order.status == S.CANCELLED
        assert order.payments.get().status == P.VOIDED
        assert allocated(tshirt) == 0
        keys = list(order.payments.get().transactions.values_list("idempotency_key", flat=True))
        assert len(keys) == len(set(keys)) == 2  # checkout and the one sync, never a key twice
        assert not order.payments.get().transactions.filter(kind="void").exists()  # nothing held to void
        assert_consistent()

    def test_capture_timeout_fails_the_run_and_the_rerun_deposits_captured_once(self, shop):
        orders = shipped_orders(shop, 3, token="tok_timeout")

        first = job_run(spec=BALANCE_PAYMENT)

        # The gateway captured; the answers were lost: the run says so, the orders wait in S.
        assert (first.succeeded, first.failed) == (0, 3)
        assert set(Order.objects.values_list("status", flat=True)) == {S.SHIPPED}
        for order in orders:
            assert order.payments.get(is_current=True).pending_operation == "capture"
            assert gateway_authorizations(order)[0].captured_amount == order.grand_total
        second = job_run(spec=BALANCE_PAYMENT)
        assert (second.succeeded, second.failed) == (3, 0)
        for order in orders:
            order.refresh_from_db()
            assert order.status == S.DEPOSITED
            payment = order.payments.get(is_current=True)
            assert (payment.status, payment.captured_amount, payment.pending_operation) == (
                P.DEPOSITED,
                order.grand_total,
                "",
            )
            (gateway,) = gateway_authorizations(order)
            assert (gateway.state, gateway.captured_amount) == ("captured", order.grand_total)
            assert SimulatedGatewayRecord.objects.get(idempotency_key=f"deposit-{order.number}").calls == 2
        assert_consistent()

    def test_a_capture_left_in_flight_is_finished_by_sync_and_balance_then_deposits(self, shop):
        (order,) = shipped_orders(shop, 1, token="tok_timeout")
        assert job_run(spec=BALANCE_PAYMENT).failed == 1

        assert job_run(spec=SYNC_PENDING_PAYMENTS).succeeded == 1
        assert order.payments.get(is_current=True).status == P.DEPOSITED
        assert job_run(spec=BALANCE_PAYMENT).succeeded == 1

        order.refresh_from_db()
        assert order.status == S.DEPOSITED
        assert gateway_authorizations(order)[0].captured_amount == order.grand_total
        assert_consistent()

    def test_void_timeout_at_cancel_is_finished_by_sync_voided_once(self, shop):
        tshirt, _, _ = shop.products
        order = place([(tshirt, 1)], token="tok_timeout")
        job_run(spec=SYNC_PENDING_PAYMENTS)

        services.order_cancel(order=order, reason="Changed my mind")

        # The order is cancelled and its stock back at once; the void's answer is still owed.
        order.refresh_from_db()
        assert order.status == S.CANCELLED
        assert allocated(tshirt) == 0
        payment = order.payments.get()
        assert (payment.status, payment.pending_operation) == (P.VOIDED, "void")
        assert job_run(spec=SYNC_PENDING_PAYMENTS).succeeded == 1
        payment.refresh_from_db()
        assert payment.pending_operation == ""
        assert payment.transactions.filter(kind="void", applied=True).count() == 1
        assert [a.state for a in gateway_authorizations(order)] == ["voided"]
        assert job_run(spec=SYNC_PENDING_PAYMENTS).processed == 0
        assert_consistent()

    def test_authorization_lapsed_before_capture_is_renewed_and_the_rerun_deposits(self, shop, travel):
        (order,) = shipped_orders(shop, 1, token="tok_expiring")
        travel(timezone.now() + timedelta(hours=2))

        # The authorization lapsed (valid one hour): the capture is refused, not sent.
        first = job_run(spec=BALANCE_PAYMENT)
        assert first.failed == 1
        assert "expired" in first.errors[0]["error"]
        assert job_run(spec=REAUTHORIZE_PAYMENTS).succeeded == 1
        assert job_run(spec=BALANCE_PAYMENT).succeeded == 1

        order.refresh_from_db()
        assert order.status == S.DEPOSITED
        payments = list(order.payments.order_by("pk"))
        assert [p.status for p in payments] == [P.EXPIRED, P.DEPOSITED]
        assert [a.captured_amount for a in gateway_authorizations(order)] == [0, order.grand_total]
        assert_consistent()


def backorder(shop) -> Order:
    """An order of 4 lamps with 1 in stock and 10 expected: backordered against the receipt."""
    lamp = ProductFactory(sku="REL-LAMP", backorderable=True)
    StockFactory(product=lamp, fulfillment_center=shop.east, on_hand=1)
    receipt = ExpectedReceipt.objects.create(
        number="PO-77", fulfillment_center=shop.east, expected_at=timezone.localdate() + timedelta(days=5)
    )
    ExpectedReceiptLine.objects.create(receipt=receipt, product=lamp, quantity_ordered=10)
    order = place([(lamp, 4)])
    assert order.status == S.BACKORDERED
    return order


@pytest.mark.django_db
def test_backorder_waits_for_goods_and_is_filled_once_they_arrive(shop):
    order = backorder(shop)
    lamp = order.items.get().product
    assert services.order_process_backorder(order_id=order.pk) == JobOutcome.SKIPPED  # nothing arrived yet

    inventory_receive(fulfillment_center=shop.east, product=lamp, quantity=10)

    assert services.order_process_backorder(order_id=order.pk) == JobOutcome.SUCCEEDED
    order.refresh_from_db()
    assert order.status == S.AUTHORIZED
    assert order.items.get().inventory_status == InventoryStatus.ALLOCATED
    assert not Allocation.objects.filter(kind=Allocation.Kind.EXPECTED).exists()
    # The authorization still holds the full amount: kept, not replaced (DESIGN section 16).
    assert [p.status for p in order.payments.order_by("pk")] == [P.AUTHORIZED]
    assert job_run(spec=RELEASE_TO_FULFILLMENT).succeeded == 1
    assert_consistent()


@pytest.mark.django_db
def test_the_process_backorders_job_fills_a_backorder_after_goods_arrive(shop):
    order = backorder(shop)
    inventory_receive(fulfillment_center=shop.east, product=order.items.get().product, quantity=10)

    run = job_run(spec=PROCESS_BACKORDERS)

    assert (run.succeeded, run.failed) == (1, 0)
    assert Order.objects.get(pk=order.pk).status == S.AUTHORIZED
    assert_consistent()


def database_url() -> str:
    settings = connection.settings_dict
    user = settings["USER"] + (f":{settings['PASSWORD']}" if settings["PASSWORD"] else "")
    return f"postgres://{user}@{settings['HOST'] or 'localhost'}:{settings['PORT'] or 5432}/{settings['NAME']}"


def release_command() -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "commerce.settings",
        "SECRET_KEY": "reliability-test-only",
        "LOG_LEVEL": "ERROR",
    }
    env.pop("DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", "release_to_fulfillment", "--skip-checks", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(predicate, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_release_job_killed_mid_run_loses_nothing_and_the_rerun_releases_each_order_once(shop):
    """Invariant: a release_to_fulfillment process killed at any moment leaves every order released once.

    The killed run's open transaction rolls back with its connection; the rerun releases the rest. Each order
    ends with exactly one release (one center), release numbers are unique and stock matches allocations.
    """
    orders = authorized_orders(shop, 300)
    ids = [order.pk for order in orders]

    killed = release_command()
    try:
        wait_until(lambda: Order.objects.filter(status=S.RELEASED).exists() or killed.poll() is not None)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=30)
    released_before = Order.objects.filter(status=S.RELEASED).count()
    assert 0 < released_before < 300, "the kill should land mid-run"

    rerun = release_command()
    out, err = rerun.communicate(timeout=120)

    assert rerun.returncode == 0, err
    assert out.strip() == f"processed={300 - released_before} succeeded={300 - released_before} failed=0 skipped=0"
    assert set(Order.objects.filter(pk__in=ids).values_list("status", flat=True)) == {S.RELEASED}
    assert Release.objects.filter(order__in=ids).count() == 300
    assert ReleaseItem.objects.filter(release__order__in=ids).count() == 300
    assert OrderEvent.objects.filter(order__in=ids, to_status=S.RELEASED).count() == 300
    assert_consistent()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_release_processes_at_once_release_each_order_once_and_their_summaries_add_up(shop):
    """Invariant: two release_to_fulfillment processes started together release each of 200 orders once.

    Each process selects with skip-locked row locks, so neither waits on nor repeats the other's orders;
    the succeeded counts of the two summaries add up to the orders, and nothing failed.
    """
    ids = [order.pk for order in authorized_orders(shop, 200)]

    processes = [release_command(), release_command()]
    outputs = [process.communicate(timeout=180) for process in processes]

    summaries = []
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        summaries.append({key: int(value) for key, value in (pair.split("=") for pair in out.split())})
    # What one process skipped (the other held or had released it) the other released: the counts add up.
    for summary in summaries:
        assert summary["processed"] == summary["succeeded"] + summary["skipped"]
    assert sum(summary["succeeded"] for summary in summaries) == 200
    assert [summary["failed"] for summary in summaries] == [0, 0]
    assert set(Order.objects.filter(pk__in=ids).values_list("status", flat=True)) == {S.RELEASED}
    assert Release.objects.filter(order__in=ids).count() == 200
    assert OrderEvent.objects.filter(order__in=ids, to_status=S.RELEASED).count() == 200
    assert_consistent()
