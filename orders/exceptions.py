"""The exceptions queue: orders stuck too long in a status, and orders the jobs keep failing on.

A supervisor works down this list every day. Each kind is a rule over the order's status and how long
it has been in it (since the event that moved it there); the thresholds come from
``settings.EXCEPTION_THRESHOLDS``, read at call time, over the defaults below.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import DateTimeField, ExpressionWrapper, F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from commerce.models import REPEATED_FAILURE_THRESHOLD, JobItemFailure
from orders.models import Order, OrderEvent, OrderStatus

S = OrderStatus

DEFAULT_EXCEPTION_THRESHOLDS: dict[str, float] = {
    "authorized_not_released_hours": 4,
    "backordered_days": 14,
    "payment_review_hours": 24,
    "payment_pending_hours": 2,
    "job_failures": REPEATED_FAILURE_THRESHOLD,
}

NOT_RELEASED = "not_released"
BACKORDERED = "backordered"
PAYMENT_REVIEW = "payment_review"
PAYMENT_PENDING = "payment_pending"
FAILING_IN_JOBS = "failing_in_jobs"
PAYMENT_DECLINED_AFTER_RELEASE = "payment_declined_after_release"
SUBMITTED_TOO_LONG = "submitted_too_long"


@dataclass(frozen=True)
class StaleStatusRule:
    """Orders in ``status`` for longer than the threshold named ``threshold`` (in ``unit``)."""

    kind: str
    title: str
    status: str
    threshold: str
    unit: str  # "hours" or "days"

    def limit(self, thresholds: dict[str, float]) -> timedelta:
        return timedelta(**{self.unit: float(thresholds[self.threshold])})

    def describe(self, thresholds: dict[str, float]) -> str:
        amount = thresholds[self.threshold]
        return f"{S(self.status).label} ({self.status}) for more than {amount:g} {self.unit}"


STALE_STATUS_RULES = [
    StaleStatusRule(NOT_RELEASED, "Authorized, not released", S.AUTHORIZED, "authorized_not_released_hours", "hours"),
    StaleStatusRule(BACKORDERED, "Backordered too long", S.BACKORDERED, "backordered_days", "days"),
    StaleStatusRule(PAYMENT_REVIEW, "In payment review too long", S.PAYMENT_REVIEW, "payment_review_hours", "hours"),
    StaleStatusRule(PAYMENT_PENDING, "Payment pending too long", S.PAYMENT_PENDING, "payment_pending_hours", "hours"),
]
FAILING_TITLE = "Failing repeatedly in jobs"
DECLINED_TITLE = "Payment declined after release"
DECLINED_DESCRIPTION = "Released or shipped, and staff declined the reauthorization of its payment"
SUBMITTED_TITLE = "Submitted, payment not started, too long"
SUBMITTED_DESCRIPTION = "Submitted (I) for longer than the store's submitted_alert_after"
EXCEPTION_TITLES = {
    **{rule.kind: rule.title for rule in STALE_STATUS_RULES},
    SUBMITTED_TOO_LONG: SUBMITTED_TITLE,
    FAILING_IN_JOBS: FAILING_TITLE,
    PAYMENT_DECLINED_AFTER_RELEASE: DECLINED_TITLE,
}


@dataclass
class ExceptionRow:
    order: Order
    since: datetime | None
    detail: str = ""


@dataclass
class ExceptionSection:
    kind: str
    title: str
    description: str
    count: int
    rows: list[ExceptionRow] = field(default_factory=list)

    @property
    def order_numbers(self) -> list[str]:
        return [row.order.number for row in self.rows]


def exception_thresholds() -> dict[str, float]:
    """The queue's thresholds: the defaults, overridden key by key by ``settings.EXCEPTION_THRESHOLDS``."""
    return {**DEFAULT_EXCEPTION_THRESHOLDS, **getattr(settings, "EXCEPTION_THRESHOLDS", {})}


def orders_with_status_since() -> QuerySet[Order]:
    """Orders annotated with ``status_since``: when the last event moved them into their current status."""
    entered = (
        OrderEvent.objects.filter(order=OuterRef("pk"), to_status=OuterRef("status"))
        .order_by("-created_at", "-pk")
        .values("created_at")[:1]
    )
    return Order.objects.annotate(status_since=Coalesce(Subquery(entered), "placed_at", "created_at"))


def stale_orders(
    *, rule: StaleStatusRule, thresholds: dict[str, float] | None = None, now: datetime | None = None
) -> QuerySet[Order]:
    """Orders the rule catches, longest waiting first."""
    thresholds = thresholds or exception_thresholds()
    cutoff = (now or timezone.now()) - rule.limit(thresholds)
    return orders_with_status_since().filter(status=rule.status, status_since__lt=cutoff).order_by("status_since", "pk")


def submitted_too_long(*, now: datetime | None = None) -> QuerySet[Order]:
    """Submitted orders (I) waiting longer than their store's ``submitted_alert_after``, longest first."""
    moment = Value(now or timezone.now(), output_field=DateTimeField())
    cutoff = ExpressionWrapper(moment - F("store__submitted_alert_after"), output_field=DateTimeField())
    return orders_with_status_since().filter(status=S.SUBMITTED, status_since__lt=cutoff).order_by("status_since", "pk")


def failing_job_items(*, thresholds: dict[str, float] | None = None) -> QuerySet[JobItemFailure]:
    """Orders a job failed on at least the threshold's number of runs in a row, most failures first."""
    thresholds = thresholds or exception_thresholds()
    return (
        JobItemFailure.objects.of_model(Order)
        .repeated(int(thresholds["job_failures"]))
        .order_by("-failures", "-last_failed_at", "pk")
    )


def payment_declined_after_release() -> QuerySet[Order]:
    """Released or shipped orders whose reauthorization staff declined, oldest decision first."""
    return Order.objects.filter(payment_review_declined_at__isnull=False, status__in=[S.RELEASED, S.SHIPPED]).order_by(
        "payment_review_declined_at", "pk"
    )


def _failing_description(thresholds: dict[str, float]) -> str:
    return f"A job failed on the order at least {int(thresholds['job_failures'])} runs in a row"


def exception_counts(*, now: datetime | None = None) -> dict[str, int]:
    """How many orders each kind holds now: one count query per kind."""
    thresholds = exception_thresholds()
    counts = {rule.kind: stale_orders(rule=rule, thresholds=thresholds, now=now).count() for rule in STALE_STATUS_RULES}
    counts[SUBMITTED_TOO_LONG] = submitted_too_long(now=now).count()
    counts[FAILING_IN_JOBS] = failing_job_items(thresholds=thresholds).count()
    counts[PAYMENT_DECLINED_AFTER_RELEASE] = payment_declined_after_release().count()
    return counts


def exceptions_queue(*, now: datetime | None = None, limit: int | None = 200) -> list[ExceptionSection]:
    """Every kind with its count and its first ``limit`` rows (orders with customer and store loaded)."""
    thresholds = exception_thresholds()
    related = ["store", "customer__user", "currency"]
    sections = []
    for rule in STALE_STATUS_RULES:
        orders = stale_orders(rule=rule, thresholds=thresholds, now=now).select_related(*related)
        rows = [ExceptionRow(order=order, since=order.status_since) for order in orders[:limit]]
        count = len(rows) if limit is None or len(rows) < limit else orders.count()
        sections.append(ExceptionSection(rule.kind, rule.title, rule.describe(thresholds), count, rows))
    submitted = submitted_too_long(now=now).select_related(*related)
    rows = [ExceptionRow(order=order, since=order.status_since) for order in submitted[:limit]]
    count = len(rows) if limit is None or len(rows) < limit else submitted.count()
    sections.append(ExceptionSection(SUBMITTED_TOO_LONG, SUBMITTED_TITLE, SUBMITTED_DESCRIPTION, count, rows))
    failures = failing_job_items(thresholds=thresholds)
    page = list(failures[:limit])
    orders = Order.objects.select_related(*related).in_bulk([failure.object_id for failure in page])
    rows = [
        ExceptionRow(
            order=orders[failure.object_id],
            since=failure.first_failed_at,
            detail=f"{failure.job_name}: failed {failure.failures}x; {failure.last_error}",
        )
        for failure in page
        if failure.object_id in orders
    ]
    count = len(rows) if limit is None or len(rows) < limit else failures.count()
    sections.append(ExceptionSection(FAILING_IN_JOBS, FAILING_TITLE, _failing_description(thresholds), count, rows))
    declined = payment_declined_after_release().select_related(*related)
    rows = [
        ExceptionRow(order=order, since=order.payment_review_declined_at, detail="Reauthorization declined")
        for order in declined[:limit]
    ]
    count = len(rows) if limit is None or len(rows) < limit else declined.count()
    sections.append(ExceptionSection(PAYMENT_DECLINED_AFTER_RELEASE, DECLINED_TITLE, DECLINED_DESCRIPTION, count, rows))
    return sections
