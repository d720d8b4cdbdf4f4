"""Soak benchmark: a mixed storefront load against gunicorn for a while, then the books must balance.

    DATABASE_URL=postgres://USER@HOST:5432/NAME .venv/bin/python bench/bench_soak.py [--seconds 300]

Eight clients (threads of this process, ``http.client`` over 127.0.0.1) each loop until the time is up:
place an order of one to three of a small catalogue's products (one in ten card tokens sent to review,
one in ten declined; the organization's buyers charge half their items to a trading agreement), read it
back, cancel one of their live orders every other round, ask for a product's availability and list their
orders. Meanwhile a back-office thread receives goods, releases authorized orders and fills backorders
through the services, as the warehouse and the jobs do. The server is ``gunicorn commerce.wsgi -w 2`` on
a free port (bench/bench_api.py). Reported: requests/s, p50/p99 latency, the count of every status, the
back-office steps, and afterwards ``check_inventory``'s drift and the agreement's ledger balance.
"""

import argparse
import json
import random
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_api import ADDRESS, Server, request
from bench.common import Row, analyze, bench_database, build_catalogue, percentile, prepare, report, verdict

CLIENTS = 8
SECONDS = 300
PRODUCTS = 12  # a small catalogue: every order meets the others on the same stock rows
ON_HAND = 20_000
BACKORDERABLE_ON_HAND = 40
RECEIVE_SHARE = 0.3  # of the back office's rounds: slower than the orders take, so backorders wait a while


def _token(rng: random.Random) -> str:
    draw = rng.random()
    return "tok_decline" if draw < 0.1 else "tok_review" if draw < 0.2 else "tok_approve"


def build_shop() -> dict:
    """The catalogue, receipts expected for its backorderable products, eight buyers (four in an
    organization with an unlimited trading agreement) and their API tokens."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from commerce.models import Currency, Customer, Organization
    from fulfillment.models import ExpectedReceipt, ExpectedReceiptLine, Stock
    from spending_limits.models import TradingAgreement

    catalogue = build_catalogue(products=PRODUCTS, on_hand=ON_HAND)
    # The backorderable products run short soon: their orders wait on receipts, the back office fills them.
    Stock.objects.filter(product__backorderable=True).update(on_hand=BACKORDERABLE_ON_HAND)
    for n, center in enumerate(catalogue.centers):
        receipt = ExpectedReceipt.objects.create(
            number=f"SOAK-{n}", fulfillment_center=center, expected_at=timezone.localdate() + timedelta(days=7)
        )
        ExpectedReceiptLine.objects.bulk_create(
            ExpectedReceiptLine(receipt=receipt, product=product, quantity_ordered=1_000_000)
            for product in catalogue.products
            if product.backorderable
        )
    organization = Organization.objects.create(name="Soak Buyers Inc.")
    agreement = TradingAgreement.objects.create(
        organization=organization,
        number="SOAK-TA",
        name="Soak agreement",
        currency=Currency.objects.get(code="USD"),
        limit_amount=None,
        requires_purchase_order=False,
    )
    clients = []
    user_model = get_user_model()
    for n in range(CLIENTS):
        user = user_model.objects.create_user(username=f"soak{n}", password="soak-only-password")
        in_organization = n % 2 == 0
        Customer.objects.create(user=user, organization=organization if in_organization else None)
        token = Token.objects.create(user=user).key
        clients.append({"token": token, "agreement": agreement.number if in_organization else ""})
    return {
        "catalogue": catalogue,
        "agreement": agreement,
        "clients": clients,
        "skus": [product.sku for product in catalogue.products],
    }


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: Counter = Counter()
        self.back_office: Counter = Counter()
        self.errors: list[str] = []

    def record(self, status: int, elapsed: float) -> None:
        with self.lock:
            self.latencies.append(elapsed)
            self.statuses[status] += 1


def storefront_client(port: int, client: dict, skus: list[str], deadline: float, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    live: list[str] = []

    def call(method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        started = time.perf_counter()
        try:
            status, content = request(port, method, path, client["token"], body)
        except OSError as exc:
            status, content = 599, repr(exc).encode()
        tally.record(status, time.perf_counter() - started)
        if status >= 500:
            with tally.lock:
                tally.errors.append(f"{method} {path}: {status} {content[:200]!r}")
        return status, content

    rounds = 0
    while time.monotonic() < deadline:
        rounds += 1
        items = []
        for sku in rng.sample(skus, rng.randint(1, 3)):
            line = {"sku": sku, "quantity": rng.randint(1, 3)}
            if client["agreement"] and rng.random() < 0.5:
                line["trading_agreement"] = client["agreement"]
            items.append(line)
        body = {"items": items, "payment": {"method": "card", "token": _token(rng)}, "shipping_address": ADDRESS}
        status, content = call("POST", "/api/v1/orders/", body)
        if status == 201:
            number = json.loads(content)["number"]
            live.append(number)
            call("GET", f"/api/v1/orders/{number}/")
        if rounds % 2 == 0 and live:
            number = live.pop(rng.randrange(len(live)))
            call("POST", f"/api/v1/orders/{number}/cancel/", {"reason": "Soak"})
        call("GET", f"/api/v1/products/{rng.choice(skus)}/availability/")
        call("GET", "/api/v1/orders/")


def back_office(shop: dict, deadline: float, tally: Tally) -> None:
    """Receive goods, release authorized orders and fill backorders, as the warehouse and the jobs do."""
    from django.db import connection

    from fulfillment.services import inventory_receive
    from orders import services
    from orders.models import Order, OrderStatus

    rng = random.Random(99)
    catalogue = shop["catalogue"]
    steps = {
        "release": (services.order_release, OrderStatus.AUTHORIZED),
        "backorder fill": (services.order_process_backorder, OrderStatus.BACKORDERED),
    }
    try:
        while time.monotonic() < deadline:
            try:
                if rng.random() < RECEIVE_SHARE:
                    inventory_receive(
                        fulfillment_center=rng.choice(catalogue.centers),
                        product=rng.choice(catalogue.products),
                        quantity=rng.randint(1, 3),
                    )
                    tally.back_office["receive"] += 1
                for name, (step, status) in steps.items():
                    ids = list(Order.objects.filter(status=status).order_by("?").values_list("pk", flat=True)[:3])
                    for order_id in ids:
                        step(order_id=order_id)
                        tally.back_office[name] += 1
            except Exception as exc:  # a step's failure is what the soak looks for
                with tally.lock:
                    tally.back_office["failed"] += 1
                    tally.errors.append(f"back office: {exc!r}")
            time.sleep(0.2)
    finally:
        connection.close()


def books(shop: dict) -> dict:
    """Drift between the stock counters and the allocation rows, and the agreement's ledger balance."""
    from django.db.models import Sum

    from fulfillment.services import inventory_check
    from orders.models import Order, OrderStatus
    from spending_limits.models import TradingAgreementPurchase, TradingAgreementRefund
    from spending_limits.services import order_purchase_amount

    check = inventory_check()
    agreement = shop["agreement"]
    unbalanced = 0
    for order in Order.objects.filter(items__trading_agreement=agreement).distinct().prefetch_related("items"):
        charged = TradingAgreementPurchase.objects.filter(order=order).aggregate(t=Sum("amount"))["t"] or Decimal(0)
        credited = TradingAgreementRefund.objects.filter(order=order).aggregate(t=Sum("amount"))["t"] or Decimal(0)
        expected = order_purchase_amount(items=[i for i in order.items.all() if i.trading_agreement_id == agreement.pk])
        final = order.status in (OrderStatus.CANCELLED, OrderStatus.APPROVAL_DENIED)
        if charged != expected or credited != (charged if final else 0):
            unbalanced += 1
    orders = Counter(Order.objects.values_list("status", flat=True))
    return {
        "stock_drift": len(check.stock_drift),
        "receipt_drift": len(check.receipt_drift),
        "unbalanced_orders": unbalanced,
        "orders": dict(orders),
    }


def run(seconds: float) -> list[Row]:
    with bench_database("soak") as url:
        print(f"Soak: {CLIENTS} clients for {seconds:.0f} s over a {PRODUCTS}-product catalogue ...", flush=True)
        shop = build_shop()
        analyze()
        from django.db import connections

        connections.close_all()
        server = Server(url)
        try:
            server.wait_ready(shop["clients"][0]["token"])
            tally = Tally()
            started = time.monotonic()
            deadline = started + seconds
            threads = [
                threading.Thread(target=storefront_client, args=(server.port, client, shop["skus"], deadline, tally, n))
                for n, client in enumerate(shop["clients"])
            ]
            threads.append(threading.Thread(target=back_office, args=(shop, deadline, tally)))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
        finally:
            server.stop()
        result = books(shop)
    print(f"  statuses {dict(sorted(tally.statuses.items()))}, back office {dict(tally.back_office)}", flush=True)
    print(f"  after: {result}", flush=True)
    for error in tally.errors[:20]:
        print(f"  error: {error}", flush=True)
    if tally.errors:
        print(f"  gunicorn's log: {server.log.name}", flush=True)
    return rows(tally, elapsed, result)


def rows(tally: Tally, elapsed: float, result: dict) -> list[Row]:
    name = f"Soak: mixed storefront, {CLIENTS} clients + back office, {elapsed / 60:.1f} min (gunicorn -w 2)"
    served = sum(tally.statuses.values())
    server_errors = sum(count for status, count in tally.statuses.items() if status >= 500)
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(tally.statuses.items()))
    drift = result["stock_drift"] + result["receipt_drift"]
    office = ", ".join(f"{step} {count}" for step, count in sorted(tally.back_office.items()))
    p50, p99 = (percentile(tally.latencies, fraction) * 1000 for fraction in (0.5, 0.99))
    failed = tally.back_office["failed"]
    unbalanced = result["unbalanced_orders"]
    return [
        Row(name, "requests/s", f"{served / elapsed:.0f}", note=f"{served} requests"),
        Row(name, "latency p50 / p99", f"{p50:.0f} / {p99:.0f} ms"),
        Row(name, "answers 5xx", str(server_errors), "0", verdict(server_errors == 0), statuses),
        Row(name, "back-office steps failed", str(failed), "0", verdict(failed == 0), office),
        Row(
            name,
            "stock / receipt drift, unbalanced ledgers",
            f"{drift} / {unbalanced}",
            "0 / 0",
            verdict(drift == 0 and unbalanced == 0),
            "check_inventory and the agreement's ledger",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=SECONDS, help="how long the clients run")
    parser.add_argument("--json", help="also write the result rows to this file (bench/run)")
    options = parser.parse_args()
    prepare()
    report(run(options.seconds), options.json)


if __name__ == "__main__":
    main()
