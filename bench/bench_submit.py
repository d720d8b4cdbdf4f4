"""Benchmark: order placement at the service level (``order_place``), in one process and in two.

    DATABASE_URL=postgres://USER@HOST:5432/NAME .venv/bin/python bench/bench_submit.py

Each order has 3 random items of 200 products (1 to 3 units each), pays by card (``tok_approve``) through
the simulated gateway, allocates stock at two centers and queues its e-mail (the ORM broker; tasks are not
run). The database holds 20,000 past orders of 2,000 customers. One process places the orders one after
another; then two processes place them at once. Each is a fresh process (``multiprocessing`` spawn) with
its own connection, warmed up with a few orders first. Reported: the median of the runs, SQL statements
per order, and peak memory.
"""

import argparse
import multiprocessing
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Row,
    analyze,
    bench_database,
    build_catalogue,
    counting_statements,
    median,
    peak_rss_mib,
    preload_history,
    prepare,
    report,
    verdict,
)

ORDERS_PER_RUN = 300
RUNS = 3
WARM_UP = 20
TARGET_ONE = 150
TARGET_STATEMENTS = 16


def placement(rng: random.Random, products: list, customers: list):
    from orders import services

    return services.PlacementInput(
        customer=rng.choice(customers),
        items=[services.ItemInput(product=product, quantity=rng.randint(1, 3)) for product in rng.sample(products, 3)],
        payment_method="card",
        payment_token="tok_approve",
        shipping_address=services.AddressInput(
            name="Bench Buyer", line1="12 Elm Street", city="Springfield", postal_code="62701", country="US"
        ),
    )


def place_orders(products: list, customers: list, count: int, seed: int) -> dict:
    """Place ``count`` orders; return the time span, the statements and the statuses."""
    from orders import services

    rng = random.Random(seed)
    inputs = [placement(rng, products, customers) for _ in range(count)]
    statuses: dict[str, int] = {}
    with counting_statements() as counter:
        started = time.perf_counter()
        for data in inputs:
            order, _ = services.order_place(data=data)
            statuses[str(order.status)] = statuses.get(str(order.status), 0) + 1
        finished = time.perf_counter()
    return {
        "started": started,
        "finished": finished,
        "orders": count,
        "statements": counter.total,
        "gateway_statements": counter.gateway,
        "optional_statements": counter.optional,
        "statuses": statuses,
    }


def _worker(count: int, seed: int, start, results) -> None:
    """A fresh process (spawned, so its memory is its own): warm up, wait for the start, place the orders."""
    import django

    prepare()
    django.setup()
    from commerce.models import Customer, Product

    products = list(Product.objects.select_related("currency").order_by("sku"))
    customers = list(Customer.objects.select_related("user", "organization").order_by("number"))
    place_orders(products, customers, WARM_UP, seed + 1000)
    start.wait()
    result = place_orders(products, customers, count, seed)
    results.put({**result, "peak_rss_mib": peak_rss_mib()})


def in_processes(processes: int, count: int, seed: int) -> dict:
    """Place ``count`` orders in each of ``processes`` processes started together; sum them up."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(processes), context.Queue()
    children = [context.Process(target=_worker, args=(count, seed + n, start, results)) for n in range(processes)]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=900) for _ in children]
    for child in children:
        child.join()
    return {
        "orders": sum(o["orders"] for o in outcomes),
        "seconds": max(o["finished"] for o in outcomes) - min(o["started"] for o in outcomes),
        "statements": sum(o["statements"] for o in outcomes),
        "gateway_statements": sum(o["gateway_statements"] for o in outcomes),
        "optional_statements": sum(o["optional_statements"] for o in outcomes),
        "peak_rss_mib": max(o["peak_rss_mib"] for o in outcomes),
        "statuses": outcomes[0]["statuses"],
    }


def run(orders: int = ORDERS_PER_RUN, runs: int = RUNS) -> list[Row]:
    with bench_database("submit"):
        print("Building 20,000 past orders of 2,000 customers and a 200-product catalogue ...", flush=True)
        preload_history(build_catalogue())
        analyze()
        from django.db import connections

        connections.close_all()
        measured = {1: [], 2: []}
        for processes in (1, 2):
            for n in range(runs):
                result = in_processes(processes, orders, seed=100 * processes + 10 * n)
                measured[processes].append(result)
                print(
                    f"  {processes} process{'es' if processes > 1 else ''}, run {n + 1}: "
                    f"{result['orders'] / result['seconds']:.0f} orders/s {result['statuses']}",
                    flush=True,
                )
    one, two = measured[1], measured[2]

    rate_one = median(r["orders"] / r["seconds"] for r in one)
    rate_two = median(r["orders"] / r["seconds"] for r in two)
    statements = median(r["statements"] / r["orders"] for r in one)
    gateway = median(r["gateway_statements"] / r["orders"] for r in one)
    optional = max(r["optional_statements"] / r["orders"] for r in one + two)
    name = "Order submit (service, 3 items)"
    return [
        Row(name, "orders/s, one process", f"{rate_one:.0f}", f">= {TARGET_ONE}", verdict(rate_one >= TARGET_ONE)),
        Row(
            name,
            "orders/s, two processes",
            f"{rate_two:.0f} ({rate_two / rate_one:.2f}x)",
            ">= 1.7x one process",
            verdict(rate_two >= 1.7 * rate_one),
            "2 cores shared with PostgreSQL",
        ),
        Row(
            name,
            "SQL statements per order",
            f"{statements:.1f}",
            f"<= {TARGET_STATEMENTS}",
            verdict(statements <= TARGET_STATEMENTS),
            f"of which {gateway:.1f} are the simulated gateway's own tables",
        ),
        Row(
            name,
            "statements per order on returns, promotions, webhooks, variants (none used)",
            f"{optional:.2f}",
            "0",
            verdict(optional == 0),
            "tables matched by name in every statement of the measured orders",
        ),
        Row(name, "peak RSS per process", f"{max(r['peak_rss_mib'] for r in one + two):.0f} MiB"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=ORDERS_PER_RUN, help="orders per run (and per process)")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--json", help="also write the result rows to this file (bench/run)")
    options = parser.parse_args()
    prepare()
    report(run(options.orders, options.runs), options.json)


if __name__ == "__main__":
    main()
