"""The job failure records' move from an order foreign key to any item keeps what was recorded."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories.orders import OrderFactory

BEFORE = [("commerce", "0006_store_webhook_event_types")]
AFTER = [("commerce", "0007_job_failures_on_any_item")]


@pytest.mark.django_db(transaction=True)
def test_failures_and_runs_recorded_against_orders_point_at_the_same_orders_afterwards():
    order = OrderFactory()
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    run = old.get_model("commerce", "JobRun").objects.create(name="balance_payment", failed=1, processed=1)
    old.get_model("commerce", "JobItemFailure").objects.create(
        job_name="balance_payment", order_id=order.pk, failures=3, last_error="capture refused", last_run_id=run.pk
    )

    executor = MigrationExecutor(connection)
    try:
        executor.migrate(AFTER)
        new = executor.loader.project_state(AFTER).apps
        failure = new.get_model("commerce", "JobItemFailure").objects.select_related("content_type").get()
        run = new.get_model("commerce", "JobRun").objects.select_related("item_type").get(pk=run.pk)
    finally:
        # Leave the schema as every other test expects it: all migrations applied.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    assert (failure.content_type.app_label, failure.content_type.model, failure.object_id) == (
        "orders",
        "order",
        order.pk,
    )
    assert (failure.item_label, failure.failures, failure.last_error) == (order.number, 3, "capture refused")
    assert (run.item_type.app_label, run.item_type.model) == ("orders", "order")
