"""The ``return_credit_and_close`` job: orders with an approved return whose goods all came back."""

from django.db.models import QuerySet

from commerce.jobs import JobSpec
from orders.models import Order
from orders.returns.crediting import return_credit_order
from orders.returns.models import ReturnRequest


def select_returns_to_credit() -> QuerySet:
    """Orders (by pk) with an approved return whose approved items are all received, or need no receipt."""
    ready = ReturnRequest.objects.ready_to_credit().values("order_id")
    return Order.objects.filter(pk__in=ready).order_by("pk").values_list("pk", flat=True)


def _process(order_id: int):
    return return_credit_order(order_id=order_id, actor_name=RETURN_CREDIT_AND_CLOSE.name)


RETURN_CREDIT_AND_CLOSE = JobSpec(
    name="return_credit_and_close",
    description="Credit approved returns whose goods all came back (refund or smaller deposit, limits) and close them.",
    select=select_returns_to_credit,
    process=_process,
)
