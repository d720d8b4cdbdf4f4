"""The exceptions queue: stale statuses measured from the event that entered them, failing job items, command."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from commerce.models import JobItemFailure
from orders.exceptions import (
    BACKORDERED,
    FAILING_IN_JOBS,
    NOT_RELEASED,
    PAYMENT_DECLINED_AFTER_RELEASE,
    PAYMENT_PENDING,
    PAYMENT_REVIEW,
    SUBMITTED_TOO_LONG,
    exception_counts,
    exception_thresholds,
    exceptions_queue,
)
from orders.models import OrderEvent
from tests.factories.orders import OrderFactory

pytestmark = pytest.mark.django_db


def order_in(status: str, *, for_hours: float, entered_from: str = "P", **kwargs):
    """An order that entered ``status`` ``for_hours`` ago, as its event log tells."""
    order = OrderFactory(status=status, placed_at=timezone.now() - timedelta(days=60), **kwargs)
    OrderEvent.objects.create(
        order=order, from_status=entered_from, to_status=status, created_at=timezone.now() - timedelta(hours=for_hours)
    )
    return order


def numbers(kind: str) -> list[str]:
    (section,) = [section for section in exceptions_queue() if section.kind == kind]
    assert section.count == len(section.rows)
    return section.order_numbers


def test_default_thresholds_and_settings_override_read_at_call_time(settings):
    assert exception_thresholds()["authorized_not_released_hours"] == 4

    settings.EXCEPTION_THRESHOLDS = {"authorized_not_released_hours": 1}

    thresholds = exception_thresholds()
    assert thresholds["authorized_not_released_hours"] == 1
    assert thresholds["backordered_days"] == 14


@pytest.mark.parametrize(
    ("status", "kind", "stale_hours", "fresh_hours"),
    [
        ("C", NOT_RELEASED, 5, 3),
        ("B", BACKORDERED, 15 * 24, 13 * 24),
        ("A", PAYMENT_REVIEW, 25, 23),
        ("M", PAYMENT_PENDING, 3, 1),
    ],
)
def test_each_kind_catches_orders_past_its_default_threshold(status, kind, stale_hours, fresh_hours):
    stale = order_in(status, for_hours=stale_hours)
    order_in(status, for_hours=fresh_hours)
    order_in("R", for_hours=stale_hours * 10)

    assert numbers(kind) == [stale.number]


def test_time_counts_from_entering_the_current_status_not_from_placing(settings):
    long_backordered_now_authorized = order_in("C", for_hours=1, entered_from="B")
    OrderEvent.objects.create(
        order=long_backordered_now_authorized,
        from_status="P",
        to_status="B",
        created_at=timezone.now() - timedelta(days=30),
    )
    back_in_review = order_in("A", for_hours=1, entered_from="B")
    OrderEvent.objects.create(
        order=back_in_review, from_status="P", to_status="A", created_at=timezone.now() - timedelta(days=3)
    )

    assert numbers(NOT_RELEASED) == []
    assert numbers(PAYMENT_REVIEW) == []


def test_an_order_without_events_counts_from_when_it_was_placed():
    order = OrderFactory(status="C", placed_at=timezone.now() - timedelta(hours=6))

    assert numbers(NOT_RELEASED) == [order.number]


def test_thresholds_from_settings_change_the_queue(settings):
    order = order_in("C", for_hours=2)
    assert numbers(NOT_RELEASED) == []

    settings.EXCEPTION_THRESHOLDS = {"authorized_not_released_hours": 1.5}

    assert numbers(NOT_RELEASED) == [order.number]


def test_longest_waiting_first():
    newer = order_in("A", for_hours=30)
    older = order_in("A", for_hours=50)

    assert numbers(PAYMENT_REVIEW) == [older.number, newer.number]


def test_orders_failing_repeatedly_in_jobs(settings):
    repeated = OrderFactory(status="C")
    once = OrderFactory(status="C")
    JobItemFailure.objects.create(job_name="release_to_fulfillment", item=repeated, failures=3, last_error="boom")
    JobItemFailure.objects.create(job_name="release_to_fulfillment", item=once, failures=1, last_error="hiccup")

    (section,) = [section for section in exceptions_queue() if section.kind == FAILING_IN_JOBS]
    assert section.order_numbers == [repeated.number]
    assert section.rows[0].detail == "release_to_fulfillment: failed 3x; boom"

    settings.EXCEPTION_THRESHOLDS = {"job_failures": 1}
    assert set(numbers(FAILING_IN_JOBS)) == {repeated.number, once.number}


def test_counts_match_the_queue_and_the_limit_keeps_the_count(django_assert_max_num_queries):
    for hours in (30, 40, 50):
        order_in("A", for_hours=hours)
    order_in("C", for_hours=10)

    with django_assert_max_num_queries(7):  # one count per kind
        counts = exception_counts()
    sections = {section.kind: section for section in exceptions_queue(limit=2)}

    assert counts == {
        NOT_RELEASED: 1,
        BACKORDERED: 0,
        PAYMENT_REVIEW: 3,
        PAYMENT_PENDING: 0,
        FAILING_IN_JOBS: 0,
        PAYMENT_DECLINED_AFTER_RELEASE: 0,
        SUBMITTED_TOO_LONG: 0,
    }
    assert (sections[PAYMENT_REVIEW].count, len(sections[PAYMENT_REVIEW].rows)) == (3, 2)


def test_command_prints_one_section_per_kind_with_counts_and_numbers():
    stale = order_in("C", for_hours=5)
    failing = OrderFactory(status="B")
    JobItemFailure.objects.create(job_name="process_backorders", item=failing, failures=4)
    out = StringIO()

    call_command("order_exceptions", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == "Authorized, not released [not_released]: 1"
    assert lines[2] == f"  {stale.number}"
    assert "Backordered too long [backordered]: 0" in lines
    assert "Failing repeatedly in jobs [failing_in_jobs]: 1" in lines
    assert f"  {failing.number}" in lines
    assert lines[-1] == "total=2"


def test_command_limit_names_how_many_more():
    for hours in (30, 40, 50):
        order_in("A", for_hours=hours)
    out = StringIO()

    call_command("order_exceptions", "--limit", "1", stdout=out)

    assert ", ... and 2 more" in out.getvalue()


def test_submitted_orders_waiting_longer_than_their_stores_setting_are_exceptions():
    from commerce.models import Store

    patient = Store.objects.create(
        code="patient", name="Patient", currency_id="USD", submitted_alert_after=timedelta(hours=48)
    )
    stale = order_in("I", for_hours=25)
    fresh = order_in("I", for_hours=23)
    waiting_in_patient_store = order_in("I", for_hours=25, store=patient)

    assert numbers(SUBMITTED_TOO_LONG) == [stale.number]
    assert exception_counts()[SUBMITTED_TOO_LONG] == 1
    assert fresh.number not in numbers(SUBMITTED_TOO_LONG)
    assert waiting_in_patient_store.number not in numbers(SUBMITTED_TOO_LONG)
