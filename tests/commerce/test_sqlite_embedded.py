"""The embedded default: the web server and a django-q2 cluster write one SQLite file at once, and no job
fails on "database is locked" (WAL journal, immediate transactions, a busy timeout)."""

import sqlite3
import time

import pytest
from django.conf import settings
from django.db import connection

from commerce.schedules import JOB_FUNC
from tests.commerce.processes import (
    MANAGE,
    free_port,
    http_json,
    manage,
    product_environment,
    start,
    stop,
    wait_for_http,
)

# Every job has a schedule (setup_schedules registers one per JOB_SCHEDULE_DEFAULTS entry).
JOBS = len(settings.JOB_SCHEDULE_DEFAULTS)
WAIT_SECONDS = 150  # the scheduler looks for due schedules about every 30 s
ORDER = {
    "items": [{"sku": "DEMO-TSHIRT", "quantity": 1}, {"sku": "DEMO-MUG", "quantity": 1}],
    "payment": {"method": "card", "token": "tok_approve"},
    "shipping_address": {"name": "Alice Example", "line1": "12 Elm Street", "city": "Springfield",
                         "region": "IL", "postal_code": "62701", "country": "US"},
    "ship_mode": "STANDARD",
}  # fmt: skip

MAKE_ALL_DUE = (
    "from datetime import timedelta; from django.utils import timezone; from django_q.models import Schedule; "
    "Schedule.objects.update(next_run=timezone.now() - timedelta(minutes=1))"
)


def finished_jobs(db_path) -> dict[str, tuple[int, str]]:
    with sqlite3.connect(db_path, timeout=30) as db:
        rows = db.execute("SELECT name, failed, status FROM commerce_jobrun WHERE finished_at IS NOT NULL").fetchall()
    return {name: (failed, status) for name, failed, status in rows}


@pytest.mark.cluster
@pytest.mark.slow
@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="uses a SQLite file of its own; runs once, in the suite's SQLite pass"
)
def test_web_server_and_worker_share_sqlite_without_a_failed_job(tmp_path):
    # Given a fresh SQLite database set up as scripts/run does, with every job schedule due.
    db_path = tmp_path / "commerce.sqlite3"
    env = product_environment(
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{db_path}",
        Q_WORKERS="1",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    manage("migrate", "--noinput", env=env)
    manage("seed_demo", "--with-orders", env=env)
    manage("setup_schedules", env=env)
    manage("shell", "-c", MAKE_ALL_DUE, env=env)

    # When the web server takes orders while the cluster runs every job.
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = start([*MANAGE, "runserver", f"127.0.0.1:{port}", "--noreload"], env=env, log=tmp_path / "web.log")
    cluster = start([*MANAGE, "qcluster"], env=env, log=tmp_path / "cluster.log")
    statuses = []
    try:
        wait_for_http(f"{base}/api/v1/products/")
        login = {"username": "alice", "password": "demo-password"}
        status, body = http_json("POST", f"{base}/api/v1/auth/token/", login)
        assert status == 200, body
        headers = {"Authorization": f"Token {body['token']}"}
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and len(finished_jobs(db_path)) < JOBS:
            status, body = http_json("POST", f"{base}/api/v1/orders/", ORDER, headers=headers)
            statuses.append(status)
            assert status == 201, body
            time.sleep(0.2)
    finally:
        stop(cluster)
        stop(web)
    logs = "\n".join(f"--- {name}\n{(tmp_path / name).read_text()[-3000:]}" for name in ("web.log", "cluster.log"))

    # Then every job ran without a failed order, no task failed, and every order placed was taken.
    jobs = finished_jobs(db_path)
    assert len(jobs) == JOBS, f"jobs finished: {sorted(jobs)}\n{logs}"
    assert {name: failed for name, (failed, _) in jobs.items()} == dict.fromkeys(jobs, 0), logs
    with sqlite3.connect(db_path) as db:
        tasks = db.execute("SELECT success, result FROM django_q_task WHERE func = ?", (JOB_FUNC,)).fetchall()
        with_failures = db.execute("SELECT count(*) FROM commerce_jobitemfailure").fetchone()[0]
    assert len(tasks) >= JOBS
    assert [result for success, result in tasks if not success] == []
    assert with_failures == 0
    assert "database is locked" not in logs
    assert statuses and set(statuses) == {201}
