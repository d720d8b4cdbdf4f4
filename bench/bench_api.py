"""Benchmark: the API over real HTTP, against gunicorn with two workers and 8 concurrent clients.

    DATABASE_URL=postgres://USER@HOST:5432/NAME .venv/bin/python bench/bench_api.py [--only orders|availability]

``orders``: ``POST /api/v1/orders/`` with 3 random items, a card (``tok_approve``), token auth, 8 customers
each on its own client thread. ``availability``: ``GET /api/v1/products/{sku}/availability/`` of random
products. The server is ``gunicorn commerce.wsgi -w 2`` on 127.0.0.1 only, DEBUG off, over a database
holding 20,000 past orders; the clients are threads of this process (each request built before the clock
starts and sent on a raw socket, a connection per request as gunicorn's sync workers close it), on the same
two cores as the server and PostgreSQL. ``bench/bench_submit.py --api`` measures the placement beside the
service level in one run over one database.
Reported: throughput (median of the runs), p50 and p99 latency over all measured requests, SQL
statements per request (counted inside the workers) and the workers' peak memory.
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    ROOT,
    WARM_UP_HEADER,
    Row,
    analyze,
    bench_database,
    build_catalogue,
    median,
    percentile,
    preload_history,
    prepare,
    report,
    verdict,
)

CLIENTS = 8
WORKERS = 2
RUNS = 3
ORDERS_PER_RUN = 400
LOOKUPS_PER_RUN = 2_000
WARM_UP = 40
TARGET_ORDERS = 100
ADDRESS = {
    "name": "Bench Buyer",
    "line1": "12 Elm Street",
    "city": "Springfield",
    "postal_code": "62701",
    "country": "US",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """gunicorn serving the project on 127.0.0.1, its workers counting statements (bench/gunicorn_hooks.py)."""

    def __init__(self, database_url: str) -> None:
        self.port = free_port()
        self.stats_dir = tempfile.mkdtemp(prefix="bench-gunicorn-")
        self.log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "commerce.settings",
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            "BENCH_STATS_DIR": self.stats_dir,
        }
        env.pop("DEBUG", None)
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(
            [
                str(gunicorn),
                "commerce.wsgi",
                "-w",
                str(WORKERS),
                "-b",
                f"127.0.0.1:{self.port}",
                "-c",
                str(ROOT / "bench" / "gunicorn_hooks.py"),
                "--graceful-timeout",
                "10",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, token: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log.name}")
            try:
                if request(self.port, "GET", "/api/v1/products/", token)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer in {timeout:.0f} s; see {self.log.name}")

    def stop(self) -> dict:
        """Stop gracefully (the workers write their counts) and return the counts summed over workers.

        Per kind of request: ``requests``, ``statements`` and ``cpu_seconds`` (the workers' own CPU time).
        """
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        totals = {"requests": {}, "statements": {}, "cpu_seconds": {}, "peak_rss_mib": 0.0}
        for path in Path(self.stats_dir).glob("worker-*.json"):
            worker = json.loads(path.read_text())
            for key in ("requests", "statements", "cpu_seconds"):
                for kind, value in worker[key].items():
                    totals[key][kind] = totals[key].get(kind, 0) + value
            totals["peak_rss_mib"] = max(totals["peak_rss_mib"], worker["peak_rss_mib"])
        return totals


def request(port: int, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        connection.request(method, path, payload, headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def request_bytes(method: str, path: str, token: str, body: dict | None = None, *, warm_up: bool = False) -> bytes:
    """A whole HTTP/1.1 request, built before the clock starts; the workers leave warm-ups out of their counts."""
    payload = b"" if body is None else json.dumps(body).encode()
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Authorization: Token {token}\r\nAccept: application/json\r\n"
    )
    if warm_up:
        head += f"{WARM_UP_HEADER}: 1\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    return (head + "\r\n").encode() + payload


def send(port: int, data: bytes) -> int:
    """Send a prepared request on a new connection, read the answer to its end, return its status."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(data)
        first = connection.recv(65536)
        while connection.recv(65536):
            pass
    return int(first.split(b" ", 2)[1])


def load(port: int, tokens: list[str], total: int, make, *, warm_up: bool = False) -> dict:
    """``total`` requests from one thread per token, each taking the next as soon as it has an answer.

    The clients are lean, as the server should get the cores: every request is built (``make``) before
    the clock starts, sent on a raw socket and read to its end without being parsed beyond its status.
    """
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    issued = iter(range(total))
    prepared = {}
    for n, token in enumerate(tokens):
        rng = random.Random(n)
        requests = [make(rng) for _ in range(total)]
        prepared[token] = [request_bytes(method, path, token, body, warm_up=warm_up) for method, path, body in requests]

    def client(token: str) -> None:
        requests = iter(prepared[token])
        while True:
            with lock:
                if next(issued, None) is None:
                    return
            data = next(requests)
            started = time.perf_counter()
            status = send(port, data)
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=client, args=(token,)) for token in tokens]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"seconds": time.perf_counter() - started, "latencies": latencies, "statuses": statuses}


def measure(port: int, tokens: list[str], make, per_run: int, runs: int, label: str) -> dict:
    load(port, tokens, WARM_UP, make, warm_up=True)
    results = []
    for n in range(runs):
        result = load(port, tokens, per_run, make)
        results.append(result)
        print(f"  {label}, run {n + 1}: {per_run / result['seconds']:.0f}/s {result['statuses']}", flush=True)
    latencies = [latency for result in results for latency in result["latencies"]]
    return {
        "rate": median(per_run / result["seconds"] for result in results),
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": sum(count for r in results for status, count in r["statuses"].items() if status >= 300),
        "requests": per_run * runs,
    }


def placement_request(skus: list[str]):
    """What a client posts: 3 random items of ``skus``, 1 to 3 units each, paid by card."""

    def place(rng):
        items = [{"sku": sku, "quantity": rng.randint(1, 3)} for sku in rng.sample(skus, 3)]
        body = {"items": items, "payment": {"method": "card", "token": "tok_approve"}, "shipping_address": ADDRESS}
        return "POST", "/api/v1/orders/", body

    return place


def customers_with_tokens(catalogue, count: int) -> list[str]:
    from rest_framework.authtoken.models import Token

    return [Token.objects.create(user=customer.user).key for customer in catalogue.customers[:count]]


def run(only: str | None = None, runs: int = RUNS) -> list[Row]:
    with bench_database("api") as url:
        print("Building 20,000 past orders of 2,000 customers and a 200-product catalogue ...", flush=True)
        catalogue = preload_history(build_catalogue())
        tokens = customers_with_tokens(catalogue, CLIENTS)
        skus = [product.sku for product in catalogue.products]
        analyze()
        from django.db import connections

        connections.close_all()
        server = Server(url)
        try:
            server.wait_ready(tokens[0])
            results = {}
            if only in (None, "orders"):
                place = placement_request(skus)
                results["orders"] = measure(server.port, tokens, place, ORDERS_PER_RUN, runs, "place order")
            if only in (None, "availability"):

                def look_up(rng):
                    return "GET", f"/api/v1/products/{rng.choice(skus)}/availability/", None

                results["availability"] = measure(server.port, tokens, look_up, LOOKUPS_PER_RUN, runs, "availability")
        finally:
            counts = server.stop()
    return rows(results, counts)


def rows(results: dict, counts: dict) -> list[Row]:
    table = []
    for kind, label, unit, name in [
        ("orders", "place order", "orders/s", "API POST /api/v1/orders/ (8 clients, gunicorn -w 2)"),
        ("availability", "availability", "requests/s", "API GET availability (8 clients, gunicorn -w 2)"),
    ]:
        if kind not in results:
            continue
        result = results[kind]
        target, ok = (f">= {TARGET_ORDERS}", result["rate"] >= TARGET_ORDERS) if kind == "orders" else ("", None)
        errors = f"{result['errors']} of {result['requests']} answered an error" if result["errors"] else ""
        table.append(Row(name, unit, f"{result['rate']:.0f}", target, verdict(ok), errors))
        table.append(Row(name, "latency p50 / p99", f"{result['p50_ms']:.0f} / {result['p99_ms']:.0f} ms"))
        served = counts["requests"].get(label, 0)
        if served:
            per_request = counts["statements"].get(label, 0) / served
            table.append(Row(name, "SQL statements per request", f"{per_request:.1f}", note="counted in the workers"))
    table.append(Row("API (gunicorn workers)", "peak RSS per worker", f"{counts['peak_rss_mib']:.0f} MiB"))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["orders", "availability"])
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--json", help="also write the result rows to this file (bench/run)")
    options = parser.parse_args()
    prepare()
    report(run(options.only, options.runs), options.json)


if __name__ == "__main__":
    main()
