"""Gunicorn settings for the API benchmark (``gunicorn -c bench/gunicorn_hooks.py``).

Each worker counts the SQL statements and the CPU time (its own process's) of every request, per kind of
request, and when it exits writes them with its peak memory to ``$BENCH_STATS_DIR/worker-<pid>.json``.
Nothing of the product changes.
"""

import json
import os
import re
import time
from collections import defaultdict
from pathlib import Path

from bench.common import WARM_UP_HEADER, peak_rss_mib

KINDS = [
    ("place order", re.compile(r"^POST /api/v1/orders/$")),
    ("availability", re.compile(r"^GET /api/v1/products/[^/]+/availability/$")),
]

_requests: dict[str, int] = defaultdict(int)
_statements: dict[str, int] = defaultdict(int)
_cpu_seconds: dict[str, float] = defaultdict(float)
_current = {"statements": 0, "cpu": 0.0, "installed": False}


def _count(execute, sql, params, many, context):
    _current["statements"] += 1
    return execute(sql, params, many, context)


def _kind(req) -> str:
    if any(name == WARM_UP_HEADER.upper() for name, _ in req.headers):
        return "warm-up"
    request = f"{req.method} {req.path}"
    return next((name for name, pattern in KINDS if pattern.match(request)), "other")


def pre_request(worker, req):
    if not _current["installed"]:
        # The application is loaded by now; a sync worker serves every request on this thread's connection.
        from django.db import connection

        connection.execute_wrappers.append(_count)
        _current["installed"] = True
    _current["statements"] = 0
    _current["cpu"] = time.process_time()


def post_request(worker, req, environ, resp):
    kind = _kind(req)
    _requests[kind] += 1
    _statements[kind] += _current["statements"]
    _cpu_seconds[kind] += time.process_time() - _current["cpu"]


def worker_exit(server, worker):
    directory = os.environ.get("BENCH_STATS_DIR")
    if not directory:
        return
    peak_mib = peak_rss_mib()
    stats = {
        "requests": dict(_requests),
        "statements": dict(_statements),
        "cpu_seconds": dict(_cpu_seconds),
        "peak_rss_mib": peak_mib,
    }
    Path(directory, f"worker-{worker.pid}.json").write_text(json.dumps(stats))
