"""Races between people, storefront requests and job workers, on PostgreSQL with real threads.

Already proven elsewhere, not repeated here: the last units of a product (tests/orders/test_concurrency.py),
concurrent charges of one spending limit (tests/spending_limits/test_services.py), two engine workers
over a sample job (tests/commerce/test_jobs.py), capture against void and repeated captures of one payment
(tests/payments/test_concurrency.py). These tests race the whole flow: checkout, the real jobs, cancellation.
"""

import threading
from dataclasses import asdict, replace
from decimal import Decimal

import pytest
from django.db import connection

from commerce.jobs import JobOutcome, job_run
from fulfillment.models import Allocation, Release, Stock
from orders import services
from orders.jobs import BALANCE_PAYMENT, RELEASE_TO_FULFILLMENT
from orders.models import Order, OrderStatus
from payments.models import Payment, PaymentStatus, SimulatedAuthorization
from spending_limits.models import TradingAgreementPurchase
from spending_limits.selectors import trading_agreement_remaining
from tests.conftest import client_for
from tests.factories.commerce import CustomerFactory, OrganizationFactory
from tests.factories.spending_limits import TradingAgreementFactory
from tests.reliability.conftest import ADDRESS, assert_consistent, place, placement, race, shipped_orders

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

S = OrderStatus


def stock_allocated(product) -> int:
    return sum(Stock.objects.filter(product=product).values_list("allocated", flat=True))


def test_cancel_racing_release_exactly_one_wins(shop):
    """Invariant: of a cancel and a release of one authorized order, exactly one wins.

    Cancelled: no release rows, its stock given back, its authorization voided; the release job skipped it.
    Released: the cancel was refused with invalid_transition and the order keeps its stock and payment.
    """
    tshirt, mug, _ = shop.products
    orders = [place([(tshirt, 2), (mug, 1)]) for _ in range(10)]
    assert {order.status for order in orders} == {S.AUTHORIZED}
    calls = []
    for order in orders:
        calls.append(lambda order=order: services.order_cancel(order=order, reason="Changed my mind").status)
        calls.append(lambda order=order: services.order_release(order_id=order.pk))

    outcomes = race(calls)

    for index, order in enumerate(orders):
        cancel, release = outcomes[2 * index], outcomes[2 * index + 1]
        order.refresh_from_db()
        if order.status == S.CANCELLED:
            assert (cancel, release) == (S.CANCELLED, JobOutcome.SKIPPED)
            assert not Release.objects.filter(order=order).exists()
            assert not Allocation.objects.filter(order_item__order=order).exists()
            assert set(order.items.values_list("status", flat=True)) == {S.CANCELLED}
        else:
            assert order.status == S.RELEASED
            assert (cancel, release) == ("invalid_transition", JobOutcome.SUCCEEDED)
            assert Release.objects.filter(order=order).count() == 1
            assert order.payments.get(is_current=True).status == PaymentStatus.AUTHORIZED
    released = Order.objects.filter(status=S.RELEASED).count()
    assert released + Order.objects.filter(status=S.CANCELLED).count() == 10
    assert (stock_allocated(tshirt), stock_allocated(mug)) == (2 * released, released)
    assert_consistent()


def pause_at_first_payment_read(paused: threading.Event, resume: threading.Event):
    """A database hook: hold the thread before its first read of a payment, until told to go on."""

    def hook(execute, sql, params, many, context):
        if not paused.is_set() and "payments_payment" in sql:
            paused.set()
            assert resume.wait(timeout=30)
        return execute(sql, params, many, context)

    return hook


def test_cancel_between_the_release_jobs_read_and_its_payment_check_leaves_no_authorization(shop):
    """Invariant: a cancelled order holds no authorization, whenever the release job looked at it.

    The interleaving is forced: the job reads the order (C), the cancel commits and voids the payment, then
    the job checks the payment.
    """
    tshirt, _, _ = shop.products
    order = place([(tshirt, 1)])
    paused, resume = threading.Event(), threading.Event()
    outcome: list[object] = []

    def release():
        try:
            with connection.execute_wrapper(pause_at_first_payment_read(paused, resume)):
                outcome.append(services.order_release(order_id=order.pk))
        finally:
            connection.close()

    worker = threading.Thread(target=release)
    worker.start()
    assert paused.wait(timeout=30)
    services.order_cancel(order=order, reason="Changed my mind")
    resume.set()
    worker.join(timeout=30)

    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert outcome == [JobOutcome.SKIPPED]
    assert not Payment.objects.filter(order=order, status=PaymentStatus.AUTHORIZED).exists()
    assert SimulatedAuthorization.objects.filter(state="approved").count() == 0
    assert_consistent()


def test_two_release_workers_release_every_order_exactly_once(shop):
    """Invariant: two workers running release_to_fulfillment at once release every order once.

    One set of releases per order (one release per center it ships from), release numbers unique, stock
    allocated still equal to the allocations, every order counted once over both runs.
    """
    tshirt, mug, poster = shop.products
    Stock.objects.filter(fulfillment_center=shop.east, product=poster).update(on_hand=30)
    orders = [place([(tshirt, 1), (poster, 2)] if n % 3 else [(mug, 3)]) for n in range(60)]
    spec = replace(RELEASE_TO_FULFILLMENT, chunk_size=7)

    runs = race([lambda: job_run(spec=spec, worker="w1"), lambda: job_run(spec=spec, worker="w2")])

    assert sum(run.succeeded for run in runs) == 60
    assert sum(run.failed for run in runs) == 0
    assert set(Order.objects.values_list("status", flat=True)) == {S.RELEASED}
    for order in orders:
        centers = set(Allocation.objects.filter(order_item__order=order).values_list("fulfillment_center", flat=True))
        assert Release.objects.filter(order=order).count() == len(centers)
        assert order.events.filter(to_status=S.RELEASED).count() == 1
    assert_consistent()


@pytest.mark.parametrize("concurrency", [1, 4])
def test_two_balance_workers_capture_every_order_exactly_once(shop, settings, concurrency):
    """Invariant: two workers running balance_payment at once capture each order's payment exactly once.

    The gateway holds one capture of the full amount per authorization; each payment counts one applied
    capture; every order is deposited. The set-based step sends a chunk's captures one after another or
    four at once (``PAYMENT_CAPTURE_CONCURRENCY``, threads with connections of their own).
    """
    settings.PAYMENT_CAPTURE_CONCURRENCY = concurrency
    orders = shipped_orders(shop, 30)
    spec = replace(BALANCE_PAYMENT, chunk_size=4)

    runs = race([lambda: job_run(spec=spec, worker="w1"), lambda: job_run(spec=spec, worker="w2")])

    assert sum(run.succeeded for run in runs) == 30
    assert sum(run.failed for run in runs) == 0
    for order in orders:
        order.refresh_from_db()
        assert order.status == S.DEPOSITED
        payment = order.payments.get(is_current=True)
        assert (payment.status, payment.captured_amount) == (PaymentStatus.DEPOSITED, order.grand_total)
        gateway = SimulatedAuthorization.objects.get(reference=payment.authorization_reference)
        assert (gateway.state, gateway.captured_amount) == ("captured", order.grand_total)
        assert payment.transactions.filter(kind="capture", applied=True).count() == 1
    assert_consistent()


def test_buyers_racing_for_one_spending_limit_through_checkout(shop):
    """Invariant: orders placed at once never together exceed their agreement's limit.

    The refused orders leave nothing behind: no ledger row, no stock held, no order.
    """
    organization = OrganizationFactory(code="acme")
    agreement = TradingAgreementFactory(organization=organization, limit_amount=Decimal("500.00"))
    _, _, lamp = shop.products  # 120.00 + 8 % tax + 5.00 shipping with tax = 135.00 an order
    buyers = [CustomerFactory(organization=organization) for _ in range(8)]

    def buy(buyer):
        data = placement(buyer, [(lamp, 1)])
        data = replace(data, items=[services.ItemInput(product=lamp, quantity=1, trading_agreement=agreement)])
        return services.order_place(data=data)[0].status

    outcomes = race([lambda buyer=buyer: buy(buyer) for buyer in buyers])

    assert sorted(outcomes) == [S.AUTHORIZED] * 3 + ["spending_limit_exceeded"] * 5
    purchases = TradingAgreementPurchase.objects.filter(trading_agreement=agreement)
    assert purchases.count() == 3
    assert sum(row.amount for row in purchases) == Decimal("405.00")
    assert trading_agreement_remaining(agreement=agreement) == Decimal("95.00")
    assert Order.objects.count() == 3
    assert stock_allocated(lamp) == 3
    assert_consistent()


def test_one_idempotency_key_sent_eight_times_at_once_makes_one_order(shop):
    """Invariant: one Idempotency-Key makes one order, whatever the timing of its retries.

    Seven identical requests answer the same order; a request reusing the key with another body is refused
    with idempotency_key_reused and changes nothing.
    """
    tshirt, mug, _ = shop.products
    customer = CustomerFactory()
    body = {
        "items": [{"sku": tshirt.sku, "quantity": 2}],
        "payment": {"method": "card", "token": "tok_approve"},
        "shipping_address": asdict(ADDRESS),
    }
    other = {**body, "items": [{"sku": mug.sku, "quantity": 1}]}

    client_for(customer.user)  # the token, made once

    def post(payload):
        response = client_for(customer.user).post(
            "/api/v1/orders/", payload, format="json", HTTP_IDEMPOTENCY_KEY="checkout-42"
        )
        data = response.json()
        return response.status_code, data.get("number") or data["error"]["code"]

    outcomes = race([lambda: post(body)] * 7 + [lambda: post(other)])

    order = Order.objects.get()
    winner = body if order.items.get().sku == tshirt.sku else other
    for payload, outcome in zip([body] * 7 + [other], outcomes, strict=True):
        assert outcome == ((201, order.number) if payload is winner else (409, "idempotency_key_reused"))
    assert (stock_allocated(tshirt), stock_allocated(mug)) == ((2, 0) if winner is body else (0, 1))
    assert_consistent()
