"""Scale-out: two django-q2 clusters against Redis run every schedule once and do each order once."""

import os
import time
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule, Task

from commerce.models import JobRun
from commerce.schedules import JOB_FUNC, schedules_register
from orders.models import Order, OrderEvent, OrderStatus
from tests.commerce.processes import MANAGE, product_environment, start, stop
from tests.commerce.test_cluster import database_url
from tests.conftest import client_for
from tests.orders.conftest import order_body, user

redis = pytest.importorskip("redis")

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
# Every job has a schedule (setup_schedules registers one per JOB_SCHEDULE_DEFAULTS entry).
JOBS = len(settings.JOB_SCHEDULE_DEFAULTS)
ORDERS = 12
WAIT_SECONDS = 150  # each cluster's scheduler looks for due schedules about every 30 s


def redis_or_skip() -> "redis.Redis":
    connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        connection.ping()
    except redis.RedisError:
        if os.environ.get("REQUIRE_REDIS"):
            raise
        pytest.skip(f"no Redis at {REDIS_URL} (set REQUIRE_REDIS=1 to make this a failure)")
    return connection


def all_done() -> bool:
    released = not Order.objects.filter(status=OrderStatus.AUTHORIZED).exists()
    ran = JobRun.objects.filter(finished_at__isnull=False).values("name").distinct().count()
    return released and ran == JOBS


@pytest.mark.cluster
@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_clusters_on_redis_run_every_job_once_and_each_order_once(tmp_path):
    connection = redis_or_skip()
    cluster_name = f"commerce-test-{uuid.uuid4().hex[:12]}"
    # Given the demo, orders placed through the API (authorized, ready to release) and every schedule due.
    call_command("seed_demo", stdout=StringIO())
    alice = client_for(user("alice"))
    for _ in range(ORDERS):
        response = alice.post("/api/v1/orders/", order_body(("DEMO-TSHIRT", 1)), format="json")
        assert response.status_code == 201, response.json()
    numbers = set(Order.objects.filter(status=OrderStatus.AUTHORIZED).values_list("number", flat=True))
    assert len(numbers) == ORDERS
    schedules_register()
    Schedule.objects.update(next_run=timezone.now() - timedelta(minutes=1))

    # When two clusters share the Redis broker and the database.
    env = product_environment(
        DATABASE_URL=database_url(), Q_BROKER_URL=REDIS_URL, Q_CLUSTER_NAME=cluster_name, Q_WORKERS="2"
    )
    clusters = [
        start([*MANAGE, "qcluster", "--skip-checks"], env=env, log=tmp_path / f"cluster-{n}.log") for n in (1, 2)
    ]
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and not all_done():
            time.sleep(0.5)
    finally:
        for cluster in clusters:
            stop(cluster)
        for key in connection.scan_iter(f"django_q:{cluster_name}*"):
            connection.delete(key)
    logs = "\n".join(f"--- {path.name}\n{path.read_text()[-3000:]}" for path in sorted(tmp_path.glob("cluster-*.log")))

    # Then every job ran exactly once, with no failure, and each order was released exactly once.
    runs = list(JobRun.objects.values_list("name", "failed"))
    assert sorted(name for name, _ in runs) == sorted({name for name, _ in runs}), runs
    assert len(runs) == JOBS, f"{runs}\n{logs}"
    assert [failed for _, failed in runs] == [0] * JOBS
    tasks = Task.objects.filter(func=JOB_FUNC)
    assert tasks.count() == JOBS
    assert not tasks.filter(success=False).exists()
    for order in Order.objects.filter(number__in=numbers):
        assert order.status == OrderStatus.RELEASED, order.number
        assert order.releases.count() == 1, order.number
        assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.RELEASED).count() == 1, order.number
    release_run = JobRun.objects.get(name="release_to_fulfillment")
    assert release_run.succeeded >= ORDERS
