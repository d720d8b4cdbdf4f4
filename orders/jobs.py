"""The scheduled jobs (docs/operations.md): which orders each selects, and the service it calls per order.

Each job is thin: ``select`` finds candidates by their state, ``process`` calls one service of
``orders.services`` with ``order_id`` and ``actor_name`` (the job's name, recorded on the order's events).
The service locks its order with ``select_for_update(skip_locked=True)``, does the work and answers a
``JobOutcome``; ``commerce.jobs.job_run`` does the rest. The app registers its jobs with the engine when it
is ready (``register``); ``commerce.jobs.run_scheduled_job`` is the django-q2 entry point.
"""

from collections.abc import Callable
from datetime import datetime
from importlib import import_module

from django.apps import apps
from django.db.models import DateTimeField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Value
from django.utils import timezone

from commerce.jobs import JobOutcome, JobSpec, job_register
from commerce.jobs import run_scheduled_job as run_scheduled_job  # schedules made earlier name this path
from fulfillment.inventory_systems import inventory_system_names
from fulfillment.models import Allocation
from orders.models import Order, OrderStatus
from orders.returns.jobs import RETURN_CREDIT_AND_CLOSE
from payments.payment_systems import payment_system_names

S = OrderStatus

PAYMENT_AUTHORIZED = "authorized"


def _ids(orders: QuerySet) -> QuerySet:
    return orders.values_list("pk", flat=True)


# Which stores a job is for (DESIGN section 18): a store of another flow variant is not selected at all.


def _atp_stores() -> Q:
    return Q(store__inventory_system__in=inventory_system_names(uses="uses_atp_jobs"))


def _releasing_stores() -> Q:
    return Q(store__inventory_system__in=inventory_system_names(uses="uses_release_job"))


def _commerce_payments_stores() -> Q:
    return Q(store__payment_system__in=payment_system_names(uses="uses_commerce_payments_jobs"))


def _payment_rules_stores() -> Q:
    return Q(store__payment_system__in=payment_system_names(uses="uses_payment_rules_jobs"))


def _shifted(moment: datetime, duration_field: str, *, sign: int) -> ExpressionWrapper:
    """``moment`` plus or minus the duration in ``duration_field``, per row (a store setting)."""
    moment_value = Value(moment, output_field=DateTimeField())
    shifted = moment_value + F(duration_field) if sign > 0 else moment_value - F(duration_field)
    return ExpressionWrapper(shifted, output_field=DateTimeField())


def select_expired_allocations() -> QuerySet:
    """Orders not yet submitted or approved (P, W, N) holding stock past its ``expires_at``."""
    expired = Allocation.objects.filter(order_item__order=OuterRef("pk"), expires_at__lt=timezone.now())
    return _ids(
        Order.objects.filter(status__in=[S.PENDING, S.AWAITING_APPROVAL, S.APPROVAL_DENIED])
        .filter(_atp_stores())
        .filter(Exists(expired))
        .order_by("pk")
    )


def _waiting_for_the_gateway() -> Q:
    in_flight = Order.objects.filter(payments__pending_operation__gt="").values("pk")
    return Q(status=S.PAYMENT_PENDING) | Q(pk__in=in_flight)


def select_pending_payments() -> QuerySet:
    """Orders waiting for the gateway: an authorization (M), or a capture, void or refund left in flight."""
    return _ids(Order.objects.filter(_waiting_for_the_gateway(), _commerce_payments_stores()).order_by("pk"))


def select_payment_rules_pending() -> QuerySet:
    """Payment-rules orders waiting for the gateway: an approval (M), or a deposit, void or refund in flight."""
    return _ids(Order.objects.filter(_waiting_for_the_gateway(), _payment_rules_stores()).order_by("pk"))


def select_depositable() -> QuerySet:
    """Payment-rules orders with shipped goods (R, S) whose payment is not captured in full yet."""
    payment_model = apps.get_model("payments", "Payment")
    short = payment_model.objects.filter(order=OuterRef("pk"), is_current=True).filter(
        Q(status__in=["new", PAYMENT_AUTHORIZED]) | Q(captured_amount__lt=F("amount") - F("deposit_reduction"))
    )
    shipped = Q(status=S.SHIPPED) | Q(status=S.RELEASED, items__quantity_shipped__gt=0)
    return _ids(Order.objects.filter(shipped, _payment_rules_stores()).filter(Exists(short)).distinct().order_by("pk"))


def select_shipped_payment_rules() -> QuerySet:
    """Shipped payment-rules orders (S), to close (→ D) once deposited in full."""
    return _ids(Order.objects.filter(_payment_rules_stores(), status=S.SHIPPED).order_by("pk"))


def select_backorders() -> QuerySet:
    """Backordered orders (B), oldest placed first: first come, first served when stock arrives.

    Every submitted order has ``placed_at`` (the submit transitions set it), so it is a safe paging key.
    """
    return _ids(
        Order.objects.filter(_atp_stores(), status=S.BACKORDERED, placed_at__isnull=False).order_by("placed_at", "pk")
    )


def select_ready_to_release() -> QuerySet:
    """Authorized (C) and submitted (I) orders, and backordered ones (B) of stores that release what is
    allocated first; non-ATP stores ship from the order instead."""
    ready = Q(status__in=[S.AUTHORIZED, S.SUBMITTED]) | Q(status=S.BACKORDERED, store__partial_release=True)
    return _ids(Order.objects.filter(ready, _releasing_stores()).order_by("pk"))


def select_expiring_authorizations() -> QuerySet:
    """Orders still to be captured (B, C, R, S) whose current authorization lapses within the store's margin."""
    # Looked up by name: the payments app is a peer, and its models load after ours.
    payment_model = apps.get_model("payments", "Payment")
    expiring = payment_model.objects.filter(
        order=OuterRef("pk"),
        is_current=True,
        status=PAYMENT_AUTHORIZED,
        expires_at__lt=_shifted(timezone.now(), "order__store__reauthorize_before", sign=+1),
    )
    return _ids(
        Order.objects.filter(status__in=[S.BACKORDERED, S.AUTHORIZED, S.RELEASED, S.SHIPPED])
        .filter(Exists(expiring))
        .order_by("pk")
    )


def select_shipped() -> QuerySet:
    """Shipped orders (S), whose payment is to be captured."""
    return _ids(Order.objects.filter(_commerce_payments_stores(), status=S.SHIPPED).order_by("pk"))


def select_stale_pending_payments() -> QuerySet:
    """Payment-pending orders (M) placed longer ago than their store's ``payment_cleanup_after``."""
    return _ids(
        Order.objects.filter(
            _commerce_payments_stores(),
            status=S.PAYMENT_PENDING,
            placed_at__lt=_shifted(timezone.now(), "store__payment_cleanup_after", sign=-1),
        ).order_by("pk")
    )


def _calls(service_name: str, job_name: str, module: str = "orders.services") -> Callable[[int], JobOutcome]:
    """A process function calling ``<module>.<service_name>`` for one order."""

    def process(order_id: int) -> JobOutcome:
        # Looked up per call, so the service is the one the module holds now.
        service = getattr(import_module(module), service_name)
        return service(order_id=order_id, actor_name=job_name)

    process.__name__ = process.__qualname__ = f"process_{job_name}"
    return process


def _release_chunk(order_ids: list[int]) -> dict[int, JobOutcome]:
    """The set-based release of a chunk (``orders.release_batch``); the rest goes through ``order_release``."""
    from orders.release_batch import orders_release_chunk

    return orders_release_chunk(order_ids=order_ids, actor_name="release_to_fulfillment")


def _deposit_chunk(order_ids: list[int]) -> dict[int, JobOutcome]:
    """The set-based deposit of a chunk (``orders.deposit_batch``); the rest goes through ``order_deposit``."""
    from orders.deposit_batch import orders_deposit_chunk

    return orders_deposit_chunk(order_ids=order_ids, actor_name="balance_payment")


def _job(
    name: str,
    description: str,
    select: Callable[[], QuerySet],
    service_name: str,
    module: str = "orders.services",
    **options,
) -> JobSpec:
    process = _calls(service_name, name, module)
    return JobSpec(name=name, description=description, select=select, process=process, **options)


RELEASE_EXPIRED_ALLOCATIONS = _job(
    "release_expired_allocations",
    "Give back the stock held by pending or unapproved orders whose allocations expired.",
    select_expired_allocations,
    "order_release_expired_allocations",
)
SYNC_PENDING_PAYMENTS = _job(
    "sync_pending_payments",
    "Ask the gateway about payment-pending orders and move them on (review, backordered, authorized, cancelled).",
    select_pending_payments,
    "order_sync_payment",
)
PROCESS_BACKORDERS = _job(
    "process_backorders",
    "Allocate backordered orders from new stock, oldest first, and reauthorize their payment.",
    select_backorders,
    "order_process_backorder",
)
RELEASE_TO_FULFILLMENT = _job(
    "release_to_fulfillment",
    "Check the payment of authorized orders (and partially releasable backorders) and release them.",
    select_ready_to_release,
    "order_release",
    process_chunk=_release_chunk,
)
REAUTHORIZE_PAYMENTS = _job(
    "reauthorize_payments",
    "Reauthorize payments whose authorization expires within the store's reauthorize_before.",
    select_expiring_authorizations,
    "order_reauthorize_payment",
)
BALANCE_PAYMENT = _job(
    "balance_payment",
    "Capture the payment of shipped orders; an order is deposited when it is captured in full.",
    select_shipped,
    "order_deposit",
    process_chunk=_deposit_chunk,
)
PAYMENT_CLEANUP = _job(
    "payment_cleanup",
    "Cancel payment-pending orders whose payments all failed, older than the store's payment_cleanup_after.",
    select_stale_pending_payments,
    "order_payment_cleanup",
)
# The payment-rules jobs (DESIGN section 18).
ORDER_PAYMENT_SYNCHRONIZE = _job(
    "order_payment_synchronize",
    "Payment-rules stores: ask the gateway about pending approvals and deposits and move the orders on.",
    select_payment_rules_pending,
    "order_sync_payment",
)
PROCESS_DEPOSITABLE_AMOUNT = _job(
    "process_depositable_amount",
    "Payment-rules stores: deposit what is approved and shipped but not yet deposited.",
    select_depositable,
    "order_finalize_payment",
    module="orders.flow_variants",
)
ORDER_CLOSE = _job(
    "order_close",
    "Payment-rules stores: close shipped orders deposited in full (S → D).",
    select_shipped_payment_rules,
    "order_close",
    module="orders.flow_variants",
)

JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in [
        RELEASE_EXPIRED_ALLOCATIONS,
        SYNC_PENDING_PAYMENTS,
        PROCESS_BACKORDERS,
        RELEASE_TO_FULFILLMENT,
        REAUTHORIZE_PAYMENTS,
        BALANCE_PAYMENT,
        PAYMENT_CLEANUP,
        RETURN_CREDIT_AND_CLOSE,
        ORDER_PAYMENT_SYNCHRONIZE,
        PROCESS_DEPOSITABLE_AMOUNT,
        ORDER_CLOSE,
    ]
}


def register() -> None:
    """Make the order jobs known to the engine (schedules, ``run_scheduled_job``)."""
    for spec in JOBS.values():
        job_register(spec)
