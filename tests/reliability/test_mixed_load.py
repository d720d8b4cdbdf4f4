"""A mixed load on PostgreSQL: placing, cancelling, declined payments, releasing, receiving and backorders at once.

The other race tests pit one operation against itself; here eight threads run a fixed, seeded mix over the
same stock rows, receipt lines and trading agreement, as storefront requests and job workers do. Every
request must answer below 500 (a deadlock is retried, never a server error) and afterwards stock, receipt
promises and the spending-limit ledgers must agree with the rows that back them.
"""

import random
import sys
import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.signals import got_request_exception
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from commerce.errors import ApplicationError
from fulfillment.models import Allocation, ExpectedReceiptLine, Stock
from fulfillment.services import inventory_receive
from orders import services
from orders.models import Order, OrderStatus
from spending_limits.models import TradingAgreementPurchase, TradingAgreementRefund
from spending_limits.services import order_purchase_amount
from tests.conftest import client_for
from tests.factories.commerce import CustomerFactory, OrganizationFactory, ProductFactory
from tests.factories.fulfillment import ExpectedReceiptFactory, ExpectedReceiptLineFactory, StockFactory
from tests.factories.spending_limits import TradingAgreementFactory
from tests.reliability.conftest import assert_consistent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

S = OrderStatus
WORKERS = 8
OPERATIONS = 14  # per worker, after its first placement
ADDRESS = {
    "name": "Load Buyer",
    "line1": "12 Elm Street",
    "city": "Springfield",
    "postal_code": "62701",
    "country": "US",
}


def _token(rng: random.Random) -> str:
    draw = rng.random()
    if draw < 0.1:
        return "tok_decline"
    if draw < 0.2:
        return "tok_review"
    return "tok_approve"


class Worker:
    """One storefront client (its own customer and API client) that also runs job steps and receives goods."""

    def __init__(self, index: int, shop, *, skus: list[str], agreement, customer, centers, products) -> None:
        self.rng = random.Random(1000 + index)
        self.shop = shop
        self.skus = skus
        self.agreement = agreement
        self.customer = customer
        self.centers = centers
        self.products = products
        self.client = client_for(customer.user)
        # A server error is answered (and counted) as the customer would see it, not raised into the test.
        self.client.raise_request_exception = False
        self.numbers: list[str] = []
        self.statuses: Counter = Counter()
        self.failures: list[str] = []

    def _request(self, method: str, path: str, body=None):
        call = getattr(self.client, method)
        response = call(path, body, format="json") if body is not None else call(path)
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self.failures.append(f"{method.upper()} {path}: {response.status_code} {response.content[:300]!r}")
        return response

    def place(self) -> None:
        skus = self.rng.sample(self.skus, self.rng.randint(1, 3))
        items = []
        for sku in skus:
            line = {"sku": sku, "quantity": self.rng.randint(1, 3)}
            if self.agreement is not None and self.rng.random() < 0.5:
                line["trading_agreement"] = self.agreement.number
            items.append(line)
        body = {"items": items, "payment": {"method": "card", "token": _token(self.rng)}, "shipping_address": ADDRESS}
        response = self._request("post", "/api/v1/orders/", body)
        if response is not None and response.status_code == 201:
            self.numbers.append(response.json()["number"])

    def cancel(self) -> None:
        if self.numbers:
            self._request("post", f"/api/v1/orders/{self.rng.choice(self.numbers)}/cancel/", {"reason": "Load"})

    def read(self) -> None:
        if self.numbers:
            self._request("get", f"/api/v1/orders/{self.rng.choice(self.numbers)}/")
        self._request("get", f"/api/v1/products/{self.rng.choice(self.skus)}/availability/")

    def _job_step(self, step) -> None:
        if not self.numbers:
            return
        order_id = Order.objects.filter(number=self.rng.choice(self.numbers)).values_list("pk", flat=True).first()
        try:
            step(order_id=order_id)
            self.statuses["job"] += 1
        except ApplicationError:
            self.statuses["job refused"] += 1
        except Exception as exc:
            self.failures.append(f"{step.__name__}: {exc!r}")

    def receive(self) -> None:
        try:
            inventory_receive(
                fulfillment_center=self.rng.choice(self.centers),
                product=self.rng.choice(self.products),
                quantity=self.rng.randint(1, 4),
            )
            self.statuses["received"] += 1
        except Exception as exc:
            self.failures.append(f"inventory_receive: {exc!r}")

    def run(self, barrier: threading.Barrier) -> None:
        try:
            barrier.wait(timeout=60)
            self.place()
            actions = [self.place] * 4 + [self.cancel] * 3 + [self.read] * 2 + [self.receive] * 2
            actions += [lambda: self._job_step(services.order_release)] * 2
            actions += [lambda: self._job_step(services.order_process_backorder)]
            for _ in range(OPERATIONS):
                self.rng.choice(actions)()
        finally:
            connection.close()


@pytest.fixture
def load_shop(shop):
    """The reliability shop plus a backorderable product short of stock, expected at both centers."""
    spare = ProductFactory(sku="REL-BACK", price=Decimal("42.00"), backorderable=True)
    StockFactory(product=spare, fulfillment_center=shop.east, on_hand=3)
    StockFactory(product=spare, fulfillment_center=shop.west, on_hand=2)
    for center in (shop.east, shop.west):
        due = timezone.localdate() + timedelta(days=5)
        receipt = ExpectedReceiptFactory(fulfillment_center=center, expected_at=due)
        ExpectedReceiptLineFactory(receipt=receipt, product=spare, quantity_ordered=400)
    shop.products.append(spare)
    return shop


def test_mixed_load_answers_no_server_error_and_keeps_stock_and_ledgers(load_shop):
    shop = load_shop
    organization = OrganizationFactory()
    agreement = TradingAgreementFactory(organization=organization, limit_amount=Decimal("1000000.00"))
    skus = [product.sku for product in shop.products]
    workers = []
    for index in range(WORKERS):
        in_organization = index % 2 == 0
        customer = CustomerFactory(organization=organization) if in_organization else CustomerFactory()
        workers.append(
            Worker(
                index,
                shop,
                skus=skus,
                agreement=agreement if in_organization else None,
                customer=customer,
                centers=[shop.east, shop.west],
                products=shop.products,
            )
        )
    server_errors: list[str] = []

    def record(sender, request=None, **kwargs):
        server_errors.append(f"{request.method} {request.path}: {sys.exc_info()[1]!r}")

    got_request_exception.connect(record, dispatch_uid="mixed-load")
    barrier = threading.Barrier(WORKERS)
    threads = [threading.Thread(target=worker.run, args=(barrier,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    got_request_exception.disconnect(dispatch_uid="mixed-load")
    assert not any(thread.is_alive() for thread in threads), "a worker hung"

    statuses = sum((worker.statuses for worker in workers), Counter())
    failures = server_errors + [failure for worker in workers for failure in worker.failures]
    assert failures == [], (statuses, "\n\n".join(failures))
    assert not [code for code in statuses if isinstance(code, int) and code >= 500], statuses
    # The mix really ran: orders placed, declined, cancelled, released and goods received.
    orders = Order.objects.all()
    assert orders.count() >= WORKERS * 3
    assert orders.filter(status=S.CANCELLED).exists()
    assert orders.filter(status=S.RELEASED).exists()
    assert statuses["received"] > 0

    # Stock: allocated equals the stock allocation rows per (center, product), within on hand.
    for stock in Stock.objects.all():
        allocated = Allocation.objects.filter(
            kind=Allocation.Kind.STOCK, fulfillment_center=stock.fulfillment_center, order_item__product=stock.product
        ).aggregate(total=Sum("quantity"))["total"]
        assert stock.allocated == (allocated or 0), stock
        assert 0 <= stock.allocated <= stock.on_hand, stock
    for line in ExpectedReceiptLine.objects.all():
        promised = Allocation.objects.filter(receipt_line=line).aggregate(total=Sum("quantity"))["total"]
        assert line.quantity_allocated == (promised or 0), line

    # Ledgers: a live order keeps its charge, a cancelled one got all of it back.
    for order in Order.objects.filter(items__trading_agreement=agreement).distinct():
        charged = TradingAgreementPurchase.objects.filter(order=order).aggregate(total=Sum("amount"))["total"] or 0
        credited = TradingAgreementRefund.objects.filter(order=order).aggregate(total=Sum("amount"))["total"] or 0
        on_agreement = order_purchase_amount(items=order.items.filter(trading_agreement=agreement))
        assert charged == on_agreement, order
        if order.status in (S.CANCELLED, S.APPROVAL_DENIED):
            assert credited == charged, order
        else:
            assert (charged, credited) == (on_agreement, 0), order
    assert_consistent()
