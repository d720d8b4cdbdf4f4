"""A real django-q2 cluster picks up a job's schedule and runs the job against the database."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule, Success

from commerce.models import JobRun
from commerce.schedules import JOB_FUNC, schedules_register
from fulfillment.models import Allocation
from orders.models import InventoryStatus, OrderEvent, OrderStatus
from tests.factories.commerce import ProductFactory
from tests.factories.fulfillment import FulfillmentCenterFactory, StockFactory
from tests.factories.orders import OrderFactory, OrderItemFactory

JOB = "release_expired_allocations"
# The cluster's scheduler looks at the schedules about every 30 s; then a worker takes the task.
WAIT_SECONDS = 90
POLL_SECONDS = 0.5


def database_url() -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def cluster_environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("Q_", "DJANGO_", "CACHE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="commerce.settings",
        DATABASE_URL=database_url(),
        SECRET_KEY="cluster-test-secret-key",
        Q_WORKERS="1",
        LOG_LEVEL="INFO",
    )
    return env


def wait_for_run(cluster: subprocess.Popen) -> JobRun | None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        run = JobRun.objects.filter(name=JOB, finished_at__isnull=False).first()
        if run is not None or cluster.poll() is not None:
            return run
        time.sleep(POLL_SECONDS)
    return None


def stop(cluster: subprocess.Popen) -> None:
    cluster.send_signal(signal.SIGTERM)
    try:
        cluster.wait(timeout=30)
    except subprocess.TimeoutExpired:
        cluster.kill()
        cluster.wait()


@pytest.mark.cluster
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_cluster_runs_a_due_schedule_and_the_job_does_its_work(tmp_path):
    # Given a pending order holding stock past its allocation's expiry, and the job schedules with only
    # release_expired_allocations due.
    center = FulfillmentCenterFactory(code="EAST")
    product = ProductFactory()
    stock = StockFactory(fulfillment_center=center, product=product, on_hand=10, allocated=3)
    order = OrderFactory(status=OrderStatus.PENDING)
    item = OrderItemFactory(order=order, product=product, quantity=3, inventory_status=InventoryStatus.ALLOCATED)
    Allocation.objects.create(
        order_item=item,
        fulfillment_center=center,
        kind=Allocation.Kind.STOCK,
        quantity=3,
        expires_at=timezone.now() - timedelta(hours=1),
    )
    schedules_register()
    Schedule.objects.exclude(name=JOB).update(next_run=timezone.now() + timedelta(days=1))
    Schedule.objects.filter(name=JOB).update(next_run=timezone.now() - timedelta(minutes=1))

    # When a cluster runs against this database until the job has run.
    log_path = tmp_path / "qcluster.log"
    with log_path.open("w") as log:
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster", "--skip-checks"],
            cwd=settings.BASE_DIR,
            env=cluster_environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            run = wait_for_run(cluster)
        finally:
            stop(cluster)
    log_text = log_path.read_text()

    # Then the job ran once, in the cluster's process, and gave the stock back.
    assert run is not None, f"no JobRun within {WAIT_SECONDS} s; the cluster said:\n{log_text}"
    assert (run.processed, run.succeeded, run.failed) == (1, 1, 0), run.errors
    assert not run.worker.endswith(f":{os.getpid()}")
    stock.refresh_from_db()
    item.refresh_from_db()
    assert stock.allocated == 0
    assert item.inventory_status == InventoryStatus.NOT_ALLOCATED
    assert OrderEvent.objects.filter(order=order, actor_name=JOB).count() == 1
    task = Success.objects.get(func=JOB_FUNC)
    assert task.result == f"{JOB}: processed=1 succeeded=1 failed=0 skipped=0"
    assert Schedule.objects.get(name=JOB).next_run > timezone.now()
    assert cluster.returncode is not None
