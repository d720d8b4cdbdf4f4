"""Benchmark: order placement at the service level (``order_place``), in one process and in two.

    DATABASE_URL=postgres://USER@HOST:5432/NAME .venv/bin/python bench/bench_submit.py [--api [ORDERS]]

Each order has 3 random items of 200 products (1 to 3 units each), pays by card (``tok_approve``) through
the simulated gateway, allocates stock at two centers and queues its e-mail (the ORM broker; tasks are not
run). The database holds 20,000 past orders of 2,000 customers. Each round places orders in one process,
one after another, then in two processes at once. Each is a fresh process (``multiprocessing`` spawn) with
its own connection, warmed up with a few orders first. Reported: the median of the rounds, SQL statements
per order, and peak memory.

With ``--api``, gunicorn (bench/bench_api.py's server: two workers, 127.0.0.1) serves the same database
and each round places ``ORDERS`` more between the one process and the two: ``POST /api/v1/orders/`` from 8
client threads of this process, the same kind of order. The API's orders/s per worker is set beside the
one process of the same round (target: at least 75 %), with p50 / p99 latency and the statements each
request costs in the workers.
"""

import argparse
import multiprocessing
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_api import CLIENTS, WORKERS, Server, customers_with_tokens, load, placement_request
from bench.common import (
    Row,
    analyze,
    bench_database,
    build_catalogue,
    counting_statements,
    median,
    peak_rss_mib,
    percentile,
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
API_ORDERS_PER_RUN = 400
API_WARM_UP = 40
TARGET_API = 100
TARGET_SHARE = 0.75


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
        started, cpu = time.perf_counter(), time.process_time()
        for data in inputs:
            order, _ = services.order_place(data=data)
            statuses[str(order.status)] = statuses.get(str(order.status), 0) + 1
        finished, cpu = time.perf_counter(), time.process_time() - cpu
    return {
        "started": started,
        "finished": finished,
        "cpu_seconds": cpu,
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
        "cpu_seconds": sum(o["cpu_seconds"] for o in outcomes),
        "gateway_statements": sum(o["gateway_statements"] for o in outcomes),
        "optional_statements": sum(o["optional_statements"] for o in outcomes),
        "peak_rss_mib": max(o["peak_rss_mib"] for o in outcomes),
        "statuses": outcomes[0]["statuses"],
    }


def run(orders: int = ORDERS_PER_RUN, runs: int = RUNS, api_orders: int = 0) -> list[Row]:
    """``runs`` rounds over one database, each: one process, the API (with ``api_orders``), two processes."""
    with bench_database("submit") as url:
        print("Building 20,000 past orders of 2,000 customers and a 200-product catalogue ...", flush=True)
        catalogue = preload_history(build_catalogue())
        tokens = customers_with_tokens(catalogue, CLIENTS) if api_orders else []
        place = placement_request([product.sku for product in catalogue.products])
        analyze()
        from django.db import connections

        connections.close_all()
        measured = {1: [], "api": [], 2: []}
        server = Server(url) if api_orders else None
        try:
            if server is not None:
                server.wait_ready(tokens[0])
                load(server.port, tokens, API_WARM_UP, place, warm_up=True)
            for n in range(runs):
                for step in (1, "api", 2):
                    if step == "api":
                        if server is None:
                            continue
                        result = load(server.port, tokens, api_orders, place)
                        result["orders"] = api_orders
                        label, statuses = "API (8 clients, gunicorn -w 2)", result["statuses"]
                    else:
                        result = in_processes(step, orders, seed=100 * step + 10 * n)
                        label = f"{step} process{'es' if step > 1 else ''}"
                        statuses = result["statuses"]
                    measured[step].append(result)
                    rate = result["orders"] / result["seconds"]
                    print(f"  round {n + 1}, {label}: {rate:.0f} orders/s {statuses}", flush=True)
        finally:
            counts = server.stop() if server is not None else None
    table = service_rows(measured[1], measured[2])
    if server is not None:
        table += api_rows(measured[1], measured["api"], counts)
    return table


def service_rows(one: list[dict], two: list[dict]) -> list[Row]:
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


def api_rows(one: list[dict], api: list[dict], counts: dict) -> list[Row]:
    """The API's rows, each round's API figure per worker beside the one process of the same round."""
    rate = median(r["orders"] / r["seconds"] for r in api)
    rounds = zip(one, api, strict=True)
    shares = [(a["orders"] / a["seconds"] / WORKERS) / (o["orders"] / o["seconds"]) for o, a in rounds]
    share = median(shares)
    latencies = [latency for result in api for latency in result["latencies"]]
    errors = sum(count for r in api for status, count in r["statuses"].items() if status != 201)
    served = counts["requests"].get("place order", 0)
    per_request = counts["statements"].get("place order", 0) / served if served else 0
    api_cpu_ms = 1000 * counts["cpu_seconds"].get("place order", 0) / served if served else 0
    service_cpu_ms = median(1000 * r["cpu_seconds"] / r["orders"] for r in one)
    name = "API POST /api/v1/orders/ (8 clients, gunicorn -w 2)"
    each = ", ".join(f"{100 * s:.0f} %" for s in shares)
    return [
        Row(
            name,
            "orders/s",
            f"{rate:.0f}",
            f">= {TARGET_API}",
            verdict(rate >= TARGET_API),
            f"{errors} of {sum(r['orders'] for r in api)} not answered 201" if errors else "",
        ),
        Row(name, "orders/s per worker", f"{rate / WORKERS:.1f}"),
        Row(
            name,
            "per worker / service one process, same run",
            f"{100 * share:.0f} %",
            ">= 75 %",
            verdict(share >= TARGET_SHARE and not errors),
            f"median of the rounds ({each}), each beside the one process of its round; the 2 cores run the "
            "2 workers, PostgreSQL and the 8 client threads (one Python process, requests built before "
            "the clock, raw sockets), where the one process shares them with PostgreSQL alone",
        ),
        Row(
            name,
            "latency p50 / p99",
            f"{percentile(latencies, 0.50) * 1000:.0f} / {percentile(latencies, 0.99) * 1000:.0f} ms",
            note=f"over {len(latencies)} requests",
        ),
        Row(
            name,
            "CPU per order of the placing process: API worker / service one process",
            f"{api_cpu_ms:.0f} / {service_cpu_ms:.0f} ms ({api_cpu_ms / service_cpu_ms:.2f}x)",
            note="each process's own CPU time (time.process_time), the request's from gunicorn's pre_request "
            "to post_request: what one order costs the process, less moved than wall time by other work "
            f"on the cores; service / API = {100 * service_cpu_ms / api_cpu_ms:.0f} %",
        ),
        Row(name, "SQL statements per request", f"{per_request:.1f}", note="counted in the workers"),
        Row("API (gunicorn workers)", "peak RSS per worker", f"{counts['peak_rss_mib']:.0f} MiB"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=ORDERS_PER_RUN, help="orders per run (and per process)")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument(
        "--api",
        type=int,
        nargs="?",
        const=API_ORDERS_PER_RUN,
        default=0,
        metavar="ORDERS",
        help=f"also place ORDERS (default {API_ORDERS_PER_RUN}) through the API in each round",
    )
    parser.add_argument("--json", help="also write the result rows to this file (bench/run)")
    options = parser.parse_args()
    prepare()
    report(run(options.orders, options.runs, options.api), options.json)


if __name__ == "__main__":
    main()
