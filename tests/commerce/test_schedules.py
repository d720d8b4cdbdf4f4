"""Job schedules: one django-q2 Schedule per job, registered idempotently, overridable per deployment."""

import ast
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_q.models import Schedule

from commerce.models import JobRun
from commerce.schedules import JOB_FUNC, parse_interval, schedules_register
from orders.jobs import JOBS, run_scheduled_job
from tests.factories.commerce import StoreFactory

JOB_NAMES = [
    "release_expired_allocations",
    "sync_pending_payments",
    "process_backorders",
    "release_to_fulfillment",
    "reauthorize_payments",
    "balance_payment",
    "payment_cleanup",
    "return_credit_and_close",
    "order_payment_synchronize",
    "process_depositable_amount",
    "order_close",
]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_overrides(settings, monkeypatch):
    monkeypatch.delenv("JOB_SCHEDULES", raising=False)
    if hasattr(settings, "JOB_SCHEDULES"):
        del settings.JOB_SCHEDULES


def setup_schedules(*args) -> str:
    out = StringIO()
    call_command("setup_schedules", *args, stdout=out)
    return out.getvalue()


def snapshot() -> list[tuple]:
    return list(
        Schedule.objects.order_by("name").values_list(
            "pk", "name", "func", "args", "kwargs", "schedule_type", "minutes", "cron", "next_run"
        )
    )


def test_running_it_twice_gives_the_same_schedule_per_job():
    first_output = setup_schedules()
    first = snapshot()

    second_output = setup_schedules()

    assert snapshot() == first
    assert sorted(name for _, name, *_ in first) == sorted(JOB_NAMES)
    assert f"Schedules: changed {len(JOB_NAMES)}, unchanged 0." in first_output
    assert second_output == f"Schedules: changed 0, unchanged {len(JOB_NAMES)}.\n"


def test_each_schedule_runs_its_job_at_the_default_interval():
    setup_schedules()

    rows = {row.name: row for row in Schedule.objects.all()}
    assert {name: rows[name].minutes for name in JOB_NAMES} == {
        "release_expired_allocations": 60,
        "sync_pending_payments": 10,
        "process_backorders": 720,
        "release_to_fulfillment": 10,
        "reauthorize_payments": 60,
        "balance_payment": 1440,
        "payment_cleanup": 1440,
        "return_credit_and_close": 60,
        "order_payment_synchronize": 10,
        "process_depositable_amount": 60,
        "order_close": 60,
    }
    for name, row in rows.items():
        assert (row.func, row.schedule_type, row.repeats) == (JOB_FUNC, Schedule.MINUTES, -1)
        assert ast.literal_eval(row.args) == name
        assert name in JOBS


def test_the_schedules_task_runs_the_job_and_answers_its_summary():
    setup_schedules()
    row = Schedule.objects.get(name="balance_payment")

    summary = run_scheduled_job(ast.literal_eval(row.args))

    assert summary == "balance_payment: processed=0 succeeded=0 failed=0 skipped=0"


def test_run_scheduled_job_refuses_an_unknown_job():
    with pytest.raises(ValueError, match="No job 'nope'"):
        run_scheduled_job("nope")


def test_dry_run_prints_what_would_change_and_changes_nothing():
    output = setup_schedules("--dry-run")

    assert Schedule.objects.count() == 0
    assert "would create release_to_fulfillment: every 10m" in output
    assert f"Schedules: would change {len(JOB_NAMES)}, unchanged 0." in output


def test_duplicates_of_a_name_are_merged_into_one():
    for _ in range(2):
        Schedule.objects.create(
            name="release_to_fulfillment",
            func=JOB_FUNC,
            args="'release_to_fulfillment'",
            schedule_type=Schedule.MINUTES,
            minutes=10,
        )
    keep = Schedule.objects.filter(name="release_to_fulfillment").order_by("pk").first()

    output = setup_schedules()

    assert list(Schedule.objects.filter(name="release_to_fulfillment").values_list("pk", flat=True)) == [keep.pk]
    assert "removed 1 duplicate(s)" in output
    assert Schedule.objects.count() == len(JOB_NAMES)


def test_the_setting_overrides_intervals(settings):
    settings.JOB_SCHEDULES = {"release_to_fulfillment": "5m", "balance_payment": "0 3 * * *", "payment_cleanup": 90}
    setup_schedules()

    rows = {row.name: row for row in Schedule.objects.all()}
    assert rows["release_to_fulfillment"].minutes == 5
    assert (rows["balance_payment"].schedule_type, rows["balance_payment"].cron) == (Schedule.CRON, "0 3 * * *")
    assert rows["payment_cleanup"].minutes == 90
    assert rows["process_backorders"].minutes == 720


def test_the_environment_overrides_without_a_setting(monkeypatch):
    monkeypatch.setenv("JOB_SCHEDULES", '{"sync_pending_payments": "2h"}')

    setup_schedules()

    assert Schedule.objects.get(name="sync_pending_payments").minutes == 120


def test_a_shorter_interval_takes_effect_now_not_after_the_old_wait(settings):
    setup_schedules()
    Schedule.objects.filter(name="balance_payment").update(next_run=timezone.now() + timedelta(hours=23))
    settings.JOB_SCHEDULES = {"balance_payment": "10m"}

    output = setup_schedules()

    row = Schedule.objects.get(name="balance_payment")
    assert row.minutes == 10
    assert row.next_run <= timezone.now() + timedelta(minutes=10)
    assert "update balance_payment: every 10m (changed minutes)" in output


def test_a_store_gets_its_own_schedule_and_leaves_the_main_one(settings):
    StoreFactory(code="eu")
    settings.JOB_SCHEDULES = {"release_to_fulfillment@eu": "5m"}

    setup_schedules()
    setup_schedules()

    main = Schedule.objects.get(name="release_to_fulfillment")
    own = Schedule.objects.get(name="release_to_fulfillment@eu")
    assert ast.literal_eval(main.kwargs) == {"exclude_stores": ["eu"]}
    assert (ast.literal_eval(own.args), ast.literal_eval(own.kwargs), own.minutes) == (
        "release_to_fulfillment",
        {"stores": ["eu"]},
        5,
    )
    assert Schedule.objects.count() == len(JOB_NAMES) + 1


def test_a_store_schedule_no_longer_configured_is_removed(settings):
    StoreFactory(code="eu")
    settings.JOB_SCHEDULES = {"process_backorders@eu": "1h"}
    setup_schedules()
    settings.JOB_SCHEDULES = {}

    output = setup_schedules()

    assert "delete process_backorders@eu: no longer configured" in output
    assert sorted(Schedule.objects.values_list("name", flat=True)) == sorted(JOB_NAMES)
    assert Schedule.objects.get(name="process_backorders").kwargs is None


def test_a_store_scoped_run_only_touches_that_store(settings):
    eu = StoreFactory(code="eu")
    settings.JOB_SCHEDULES = {"balance_payment@eu": "1h"}
    setup_schedules()
    row = Schedule.objects.get(name="balance_payment@eu")

    run_scheduled_job(ast.literal_eval(row.args), **ast.literal_eval(row.kwargs))

    assert JobRun.objects.get().scope == f"stores: {eu.code}"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"release_to_fulfillment": "5x"}, "JOB_SCHEDULES['release_to_fulfillment']: '5x' is not an interval"),
        ({"release_to_fulfillment": 0}, "0 minutes is out of range"),
        ({"release_to_fulfillment": "40000m"}, "40000 minutes is out of range"),
        ({"release_to_fulfillment": "61 * * * *"}, "'61 * * * *' is not a valid cron expression"),
        ({"release_to_fulfillment": True}, "True is not an interval"),
        ({"release_to_fulfilment": "5m"}, "no job 'release_to_fulfilment'"),
        ({"release_to_fulfillment@nowhere": "5m"}, "no store with code 'nowhere'"),
    ],
)
def test_bad_overrides_are_refused_with_a_clear_error(settings, overrides, message):
    settings.JOB_SCHEDULES = overrides

    with pytest.raises(CommandError, match=re.escape(message)):
        setup_schedules()

    assert Schedule.objects.count() == 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [("{not json", "JOB_SCHEDULES is not valid JSON"), ('["5m"]', "JOB_SCHEDULES must be an object")],
)
def test_bad_environment_json_is_refused(monkeypatch, raw, message):
    monkeypatch.setenv("JOB_SCHEDULES", raw)

    with pytest.raises(ImproperlyConfigured, match=message):
        schedules_register()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (30, (30, None)),
        ("30", (30, None)),
        ("5m", (5, None)),
        ("2h", (120, None)),
        ("1d", (1440, None)),
        (timedelta(hours=12), (720, None)),
        ("0  3 * * *", (None, "0 3 * * *")),
    ],
)
def test_interval_forms(value, expected):
    assert parse_interval(value, key="job") == expected
