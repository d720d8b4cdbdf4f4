"""Benchmark: render the pick ticket and packing slips of a 25-release and a 500-release batch.

    DATABASE_URL=postgres://USER@HOST:5432/NAME .venv/bin/python bench/bench_documents.py

Builds its own data in a throw-away database next to NAME (``bench_<NAME>``, dropped at the end),
then renders each document in a fresh subprocess, so the peak resident memory it reports
(the process's own ``VmHWM``) belongs to that render alone. A 25-release document renders twice in its
process: the second render is the time shown, as in a running server or worker, whose fonts and styles
are loaded; the first (a fresh process's) is shown beside it. That runs three times (median shown);
the 500-release batch renders once. The baseline row is a subprocess that only starts Django.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "commerce.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key")
os.environ.setdefault("LOG_LEVEL", "ERROR")

from bench.common import peak_rss_mib  # noqa: E402  (after the path and settings above)

SIZES = (25, 500)
PRODUCTS = 60


def _setup_django():
    import django

    django.setup()


def render_once(batch_id: int, kind: str, renders: int) -> dict:
    """Child process: render one document ``renders`` times to a temporary file; report the last render's
    time (a running server's or worker's, its fonts and styles loaded), the first one's (a fresh process),
    the pages, the size and the peak memory."""
    _setup_django()
    from fulfillment.documents import RENDERERS
    from fulfillment.models import PickBatch

    batch = PickBatch.objects.select_related("store", "fulfillment_center").get(pk=batch_id)
    timings = []
    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory) / "out.pdf"
        for _ in range(renders):
            started = time.perf_counter()
            pages = RENDERERS[kind](batch=batch, paper_size=batch.store.paper_size, target=target)
            timings.append(time.perf_counter() - started)
        size = target.stat().st_size
    return {
        "seconds": timings[-1],
        "first_seconds": timings[0],
        "pages": pages,
        "bytes": size,
        "peak_rss_mb": peak_rss_mib(),
    }


def build_data() -> dict[int, int]:
    """Products with bins, allocated orders, their releases, and one batch per size; {size: batch id}."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from commerce.models import Currency, Customer, Product, Store
    from fulfillment.batches import pick_batch_create
    from fulfillment.models import Allocation, FulfillmentCenter, Stock
    from fulfillment.releases import releases_create
    from orders.models import InventoryStatus, Order, OrderItem

    rng = random.Random(42)  # the same data on every run
    usd, _ = Currency.objects.get_or_create(code="USD", defaults={"name": "US dollar", "minor_units": 2})
    store = Store.objects.create(
        code="bench",
        name="Benchmark Outfitters",
        currency=usd,
        address="Benchmark Outfitters\n1 Dock Street\nNewark",
        packing_slip_note="Thank you for your order. Returns within 30 days.",
    )
    center = FulfillmentCenter.objects.create(code="BENCH", name="Benchmark warehouse")
    products = Product.objects.bulk_create(
        Product(sku=f"BENCH-{n:04d}", name=f"Benchmark product number {n}", price="9.99", currency=usd)
        for n in range(PRODUCTS)
    )
    stocks = {
        stock.product_id: stock
        for stock in Stock.objects.bulk_create(
            Stock(fulfillment_center=center, product=p, on_hand=100_000, bin=f"{chr(65 + n % 20)}-{n:03d}-{n % 4}")
            for n, p in enumerate(products)
        )
    }
    user_model = get_user_model()
    for n in range(sum(SIZES)):
        with transaction.atomic():
            user = user_model.objects.create(username=f"bench{n}", email=f"bench{n}@example.com")
            order = Order.objects.create(
                store=store,
                customer=Customer.objects.create(user=user),
                currency=usd,
                status="C",
                ship_mode=rng.choice(["STANDARD", "STANDARD", "EXPRESS"]),
                ship_to_name=f"Customer {n}",
                ship_to_line1=f"{n} Market Street",
                ship_to_city="Springfield",
                ship_to_region="IL",
                ship_to_postal_code=f"{62700 + n % 90}",
                ship_to_country="US",
                shipping_note="Leave at the back door." if n % 5 == 0 else "",
            )
            items = []
            for product in rng.sample(products, rng.randint(1, 4)):
                quantity = rng.randint(1, 3)
                item = OrderItem.objects.create(
                    order=order,
                    product=product,
                    sku=product.sku,
                    name=product.name,
                    quantity=quantity,
                    unit_price=product.price,
                    status="C",
                    inventory_status=InventoryStatus.ALLOCATED,
                )
                Allocation.objects.create(order_item=item, fulfillment_center=center, kind="stock", quantity=quantity)
                stocks[product.pk].allocated += quantity
                items.append(item)
            releases_create(order=order, items=items, actor_name="bench")
    Stock.objects.bulk_update(list(stocks.values()), ["allocated"])
    batches = {}
    for size in SIZES:
        Store.objects.filter(pk=store.pk).update(batch_size=size)
        batches[size] = pick_batch_create(fulfillment_center=center).pk
    return batches


def run_child(env: dict, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, *args], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("Set DATABASE_URL to a PostgreSQL database; the benchmark builds its data beside it.", file=sys.stderr)
        return 2
    _setup_django()
    from django.db import connection

    base_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = f"bench_{base_name}"
    print(f"Creating the database bench_{base_name} and building {sum(SIZES)} released orders ...", flush=True)
    bench_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        started = time.perf_counter()
        batches = build_data()
        print(f"Data built in {time.perf_counter() - started:.1f} s.\n", flush=True)
        env = {**os.environ, "DATABASE_URL": url.rsplit("/", 1)[0] + f"/{bench_name}"}
        baseline = run_child(env, "--baseline")
        rows = [("baseline (Django started, nothing rendered)", "", "", "", "", f"{baseline['peak_rss_mb']:.0f}")]
        for size, batch_id in batches.items():
            small = size <= 25
            for kind in ("pick_ticket", "packing_slips"):
                renders = "2" if small else "1"
                runs = [run_child(env, "--render", str(batch_id), kind, renders) for _ in range(3 if small else 1)]
                seconds = statistics.median(r["seconds"] for r in runs)
                first = statistics.median(r["first_seconds"] for r in runs)
                label = f"{size} releases, {kind.replace('_', ' ')}"
                timing = f"{seconds:.2f} s" + (" (median of 3)" if len(runs) > 1 else "")
                rows.append(
                    (
                        label,
                        timing,
                        f"{first:.2f} s",
                        str(runs[0]["pages"]),
                        f"{runs[0]['bytes'] / 1024:.0f} KiB",
                        f"{max(r['peak_rss_mb'] for r in runs):.0f}",
                    )
                )
        widths = [max(len(row[i]) for row in rows) for i in range(6)]
        header = ("render", "time", "first in a fresh process", "pages", "size", "peak RSS MB")
        widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
        for row in (header, *rows):
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    finally:
        connection.creation.destroy_test_db(base_name, verbosity=0)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render", nargs=3, metavar=("BATCH_ID", "KIND", "RENDERS"), help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.render:
        print(json.dumps(render_once(int(options.render[0]), options.render[1], int(options.render[2]))))
    elif options.baseline:
        _setup_django()
        print(json.dumps({"peak_rss_mb": peak_rss_mib()}))
    else:
        sys.exit(main())
