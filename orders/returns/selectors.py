"""Reads of returns: a customer's own, staff's by number, the queue."""

from django.db.models import Count, Prefetch, Q, QuerySet

from commerce.errors import NotFound
from orders.returns.models import ReturnEvent, ReturnItem, ReturnRequest, ReturnStatus


def _returns() -> QuerySet[ReturnRequest]:
    return ReturnRequest.objects.select_related("order__currency", "order__customer", "order__store").prefetch_related(
        Prefetch("items", queryset=ReturnItem.objects.select_related("order_item").order_by("pk")),
        Prefetch("events", queryset=ReturnEvent.objects.order_by("created_at", "pk")),
    )


def returns_for_customer(*, customer, status: str | None = None) -> QuerySet[ReturnRequest]:
    queryset = _returns().filter(order__customer=customer).order_by("-created_at", "-pk")
    return queryset.filter(status=status) if status else queryset


def return_for_customer(*, customer, number: str) -> ReturnRequest:
    """The customer's own return; another's is as missing as an unknown one."""
    rma = _returns().filter(order__customer=customer, number=number).first()
    if rma is None:
        raise NotFound("Return not found.")
    return rma


def return_by_number(*, number: str) -> ReturnRequest:
    rma = _returns().filter(number=number).first()
    if rma is None:
        raise NotFound("Return not found.")
    return rma


def return_queue_counts() -> dict[str, int]:
    """Returns staff must act on: waiting for approval, for the goods, for the credit."""
    ready = ReturnRequest.objects.ready_to_credit().values("pk")
    counts = ReturnRequest.objects.aggregate(
        pending=Count("pk", filter=Q(status=ReturnStatus.PENDING)),
        approved=Count("pk", filter=Q(status=ReturnStatus.APPROVED)),
        ready=Count("pk", filter=Q(pk__in=ready)),
    )
    counts["awaiting_goods"] = counts["approved"] - counts["ready"]
    return counts
