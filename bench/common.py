"""What the benchmarks share: a throw-away database, a realistic catalogue and order history, counters
of SQL statements and memory, and the markdown table of results.

A benchmark script calls ``prepare()`` before anything touches Django's settings, then builds its data
inside ``with bench_database("name"):``. That creates the PostgreSQL database ``bench_<name>_<your
database>`` on the server ``DATABASE_URL`` points at, points ``DATABASE_URL`` (and so every child process)
at it, migrates, and drops it at the end.
"""

import json
import os
import random
import re
import resource
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
HISTORY_ORDERS = 20_000
HISTORY_CUSTOMERS = 2_000
PRODUCTS = 200
BATCH = 2_000
WARM_UP_HEADER = "X-Bench-Warm-Up"  # a request the gunicorn workers leave out of their counts


def prepare() -> None:
    """Settings for every benchmark: production-like (DEBUG off), the ORM broker, tasks queued not run."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commerce.settings")
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    for name in ("DEBUG", "Q_SYNC", "Q_BROKER_URL"):
        os.environ.pop(name, None)


def server_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL database; the benchmark creates its own beside it.")
    return url


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _admin(url: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as connection:
        connection.execute(statement)


@contextmanager
def bench_database(kind: str) -> Iterator[str]:
    """Create, migrate and finally drop ``bench_<kind>_<base name>``; yield its URL."""
    import django
    from django.core.management import call_command

    base = server_url()
    name = f"bench_{kind}_{urlsplit(base).path.lstrip('/') or 'postgres'}"[:63]
    url = _with_database(base, name)
    _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(base, f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    try:
        django.setup()
        call_command("migrate", verbosity=0)
        yield url
    finally:
        from django.db import connections

        connections.close_all()
        _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        os.environ["DATABASE_URL"] = base


def analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# Data.


@dataclass
class Catalogue:
    store: object
    centers: list
    products: list
    customers: list = field(default_factory=list)


def build_catalogue(*, products: int = PRODUCTS, on_hand: int = 1_000_000) -> Catalogue:
    """The default store (tax and shipping on US addresses, the demo accept policies), two centers,
    ``products`` products in stock at both."""
    from commerce.models import Currency, Product, Store
    from fulfillment.models import FulfillmentCenter, Stock
    from payments.demo import seed_payment_policies

    usd, _ = Currency.objects.get_or_create(code="USD", defaults={"name": "US dollar", "minor_units": 2})
    store = Store.objects.create(
        code="bench",
        name="Benchmark Outfitters",
        currency=usd,
        is_default=True,
        tax_rates={"US": "0.0825"},
        shipping_charges={"STANDARD": "5.00", "EXPRESS": "15.00"},
    )
    seed_payment_policies(store=store)
    centers = [
        FulfillmentCenter.objects.create(code="EAST", name="East", priority=1),
        FulfillmentCenter.objects.create(code="WEST", name="West", priority=2),
    ]
    rng = random.Random(7)
    items = Product.objects.bulk_create(
        Product(
            sku=f"BENCH-{n:04d}",
            name=f"Benchmark product {n}",
            currency=usd,
            price=Decimal(rng.randrange(199, 19999)) / 100,
            backorderable=n % 4 == 0,
        )
        for n in range(products)
    )
    Stock.objects.bulk_create(
        Stock(fulfillment_center=center, product=product, on_hand=on_hand, bin=f"{center.code[0]}-{n:04d}")
        for center in centers
        for n, product in enumerate(items)
    )
    return Catalogue(store=store, centers=centers, products=items)


def preload_history(catalogue: Catalogue, *, orders: int = HISTORY_ORDERS, customers: int = HISTORY_CUSTOMERS):
    """Customers and their past orders in final statuses (deposited or cancelled), with items, payments
    and events, written in bulk: the tables a live shop has, for realistic plans and index sizes."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from commerce.models import Customer
    from orders.models import InventoryStatus, Order, OrderEvent, OrderItem, OrderStatus
    from payments.models import Payment, PaymentStatus

    rng = random.Random(11)
    unusable = make_password(None)
    users = get_user_model().objects.bulk_create(
        (
            get_user_model()(username=f"buyer{n:05d}", email=f"buyer{n:05d}@example.com", password=unusable)
            for n in range(customers)
        ),
        batch_size=BATCH,
    )
    catalogue.customers = Customer.objects.bulk_create(
        (Customer(user=user, number=f"C{n:08d}") for n, user in enumerate(users)), batch_size=BATCH
    )
    now = timezone.now()
    store, currency = catalogue.store, catalogue.store.currency
    for start in range(0, orders, BATCH):
        batch, lines = [], []
        for n in range(start, min(start + BATCH, orders)):
            status = OrderStatus.CANCELLED if n % 5 == 0 else OrderStatus.DEPOSITED
            placed = now - timedelta(days=rng.uniform(1, 365))
            order = Order(
                number=f"H{n:09d}",
                store=store,
                customer=rng.choice(catalogue.customers),
                currency=currency,
                status=status,
                ship_to_name="Past Buyer",
                ship_to_line1=f"{n} Elm Street",
                ship_to_city="Springfield",
                ship_to_postal_code="62701",
                ship_to_country="US",
                placed_at=placed,
                cancelled_at=placed if status == OrderStatus.CANCELLED else None,
                shipped_at=None if status == OrderStatus.CANCELLED else placed + timedelta(days=2),
            )
            items = []
            for product in rng.sample(catalogue.products, rng.randint(1, 3)):
                quantity = rng.randint(1, 3)
                items.append(
                    OrderItem(
                        order=order,
                        product=product,
                        sku=product.sku,
                        name=product.name,
                        quantity=quantity,
                        unit_price=product.price,
                        product_total=product.price * quantity,
                        status=status,
                        inventory_status=InventoryStatus.NOT_ALLOCATED
                        if status == OrderStatus.CANCELLED
                        else InventoryStatus.FULFILLED,
                        quantity_shipped=0 if status == OrderStatus.CANCELLED else quantity,
                    )
                )
            order.product_total = order.grand_total = sum(item.product_total for item in items)
            batch.append(order)
            lines.append(items)
        Order.objects.bulk_create(batch)
        for order, items in zip(batch, lines, strict=True):
            for item in items:
                item.order = order  # now that the order has its pk
        OrderItem.objects.bulk_create([item for items in lines for item in items])
        Payment.objects.bulk_create(
            Payment(
                order=order,
                method="card",
                gateway="simulated",
                token="tok_approve",
                currency=currency,
                amount=order.grand_total,
                approved_amount=order.grand_total,
                captured_amount=0 if order.status == OrderStatus.CANCELLED else order.grand_total,
                status=PaymentStatus.VOIDED if order.status == OrderStatus.CANCELLED else PaymentStatus.DEPOSITED,
                authorization_reference=f"SIM-HIST{order.number}",
                authorized_at=order.placed_at,
            )
            for order in batch
        )
        OrderEvent.objects.bulk_create(
            OrderEvent(
                order=order,
                from_status=from_status,
                to_status=to_status,
                actor_name="history",
                created_at=order.placed_at,
            )
            for order in batch
            for from_status, to_status in (("P", "M"), ("M", "C"), ("C", order.status))
        )
    return catalogue


# Measuring.


class StatementCounter:
    """Counts the SQL statements a connection runs (BEGIN and COMMIT are not statements here)."""

    def __init__(self) -> None:
        self.total = 0
        self.gateway = 0
        self.optional = 0

    def __call__(self, execute, sql, params, many, context):
        self.total += 1
        # The simulated gateway keeps its state in our database; a real one would be a network call.
        if "payments_simulated" in sql:
            self.gateway += 1
        if optional_feature_tables(sql):
            self.optional += 1
        return execute(sql, params, many, context)


# Tables of features an order may not use (returns, promotions, webhooks, flow variants): a placement
# that uses none of them should not touch them. Matched on the tables a statement names, not its columns
# (the store's ``webhook_event_types`` column is how unused webhooks cost nothing).
OPTIONAL_FEATURE_TABLES = ("orders_return", "orders_promotion", "webhook", "variant")
TABLE_NAMED = re.compile(r'(?:FROM|INTO|UPDATE|JOIN)\s+"(\w+)"')


def optional_feature_tables(sql: str) -> list[str]:
    """The tables of optional features a statement reads or writes."""
    return [table for table in TABLE_NAMED.findall(sql) if any(part in table for part in OPTIONAL_FEATURE_TABLES)]


@contextmanager
def counting_statements() -> Iterator[StatementCounter]:
    from django.db import connection

    counter = StatementCounter()
    with connection.execute_wrapper(counter):
        yield counter


def peak_rss_mib() -> float:
    """This process's peak resident memory since it started its program.

    Linux's ``ru_maxrss`` carries the parent's peak over ``fork`` and ``exec``, so a child started by a
    benchmark that has built thousands of rows would report the parent's memory; ``VmHWM`` belongs to the
    process's own address space.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(values) -> float:
    return statistics.median(values)


def percentile(values, fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# Reporting.


@dataclass
class Row:
    """One line of the results table."""

    benchmark: str
    measure: str
    measured: str
    target: str = ""
    verdict: str = ""  # "met", "missed" or "" when there is no target
    note: str = ""


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("met" if ok else "missed")


VERDICTS = {"met": "yes", "missed": "**no**", "": ""}


def markdown(rows: list[Row]) -> str:
    lines = ["| benchmark | measure | measured | target | met | note |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {row.benchmark} | {row.measure} | {row.measured} | {row.target} | {VERDICTS[row.verdict]} | {row.note} |"
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def report(rows: list[Row], json_path: str | None) -> None:
    """Print the table; with ``json_path``, also write the rows there for ``bench/run``."""
    print()
    print(markdown(rows))
    if json_path:
        Path(json_path).write_text(json.dumps([asdict(row) for row in rows]))
