"""A job for the engine's tests and the cluster test: authorize backordered orders (B → C).

Its process function has the shape every real job step has: its own transaction, the order locked with
``skip_locked``, skipped when another worker holds it or its state moved on, an event row per change.
"""

from django.db import transaction

from commerce.jobs import JobOutcome, JobSpec, job_run
from orders.events import order_event_record
from orders.models import Order, OrderStatus

NAME = "authorize_backorders"


def select_backorders():
    return Order.objects.filter(status=OrderStatus.BACKORDERED).order_by("pk").values_list("pk", flat=True)


def authorize_backorder(order_id: int) -> JobOutcome:
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(skip_locked=True)
            .filter(pk=order_id, status=OrderStatus.BACKORDERED)
            .first()
        )
        if order is None:
            return JobOutcome.SKIPPED
        order.authorize()
        order.save(update_fields=["status", "placed_at", "updated_at"])
        order_event_record(order=order, from_status=OrderStatus.BACKORDERED, to_status=order.status, actor_name=NAME)
    return JobOutcome.SUCCEEDED


AUTHORIZE_BACKORDERS = JobSpec(
    name=NAME,
    description="Authorize backordered orders (a test job).",
    select=select_backorders,
    process=authorize_backorder,
    chunk_size=25,
)


def run_authorize_backorders() -> str:
    """The django-q2 task the cluster test schedules."""
    return job_run(spec=AUTHORIZE_BACKORDERS).summary
