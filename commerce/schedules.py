"""The django-q2 schedules of the jobs: one per job, registered idempotently by name.

Intervals come from ``JOB_SCHEDULE_DEFAULTS``; a deployment overrides them with the ``JOB_SCHEDULES``
setting or, without one, the ``JOB_SCHEDULES`` environment variable holding a JSON object. A value is a
number of minutes (``30``), a number with a unit (``"5m"``, ``"2h"``, ``"1d"``) or a cron expression
(``"0 3 * * *"``, in the server's ``TIME_ZONE``). A key ``"<job>@<store code>"`` gives one store its own schedule: that
schedule runs the job for the store only, and the job's main schedule leaves the store out, so every order
is still looked at by exactly one schedule::

    JOB_SCHEDULES='{"release_to_fulfillment": "5m", "balance_payment": "0 3 * * *",
                    "process_backorders@eu": "1h"}'
"""

import json
import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.models import validate_cron as django_q_validate_cron

from commerce.models import Store

JOB_FUNC = "commerce.jobs.run_scheduled_job"
STORE_SEPARATOR = "@"
# Schedule.minutes is a PositiveSmallIntegerField.
MAX_MINUTES = 32767
UNIT_MINUTES = {"m": 1, "h": 60, "d": 24 * 60}
INTERVAL_PATTERN = re.compile(r"^\s*(\d+)\s*([mhd]?)\s*$", re.IGNORECASE)
HELP = 'use minutes (30), "5m", "2h", "1d" or a cron expression such as "0 3 * * *"'


@dataclass(frozen=True)
class JobSchedule:
    """What one django-q2 Schedule row should hold."""

    name: str
    job: str
    minutes: int | None = None
    cron: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def schedule_type(self) -> str:
        return Schedule.CRON if self.cron else Schedule.MINUTES

    @property
    def fields(self) -> dict[str, Any]:
        return {
            "func": JOB_FUNC,
            "args": repr(self.job),
            "kwargs": repr(self.kwargs) if self.kwargs else None,
            "schedule_type": self.schedule_type,
            "minutes": self.minutes,
            "cron": self.cron,
            "repeats": -1,
        }

    @property
    def every(self) -> str:
        if self.cron:
            return f"cron {self.cron}"
        for unit, size in (("d", UNIT_MINUTES["d"]), ("h", UNIT_MINUTES["h"])):
            if self.minutes % size == 0:
                return f"every {self.minutes // size}{unit}"
        return f"every {self.minutes}m"

    def describe(self) -> str:
        if self.kwargs.get("stores"):
            return f"{self.every}, store {', '.join(self.kwargs['stores'])} only"
        if self.kwargs.get("exclude_stores"):
            return f"{self.every}, all stores but {', '.join(self.kwargs['exclude_stores'])}"
        return self.every


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ScheduleChange:
    name: str
    action: Action
    detail: str

    def __str__(self) -> str:
        return f"{self.action:<9} {self.name}: {self.detail}"


def parse_interval(value: Any, *, key: str) -> tuple[int | None, str | None]:
    """Return ``(minutes, None)`` or ``(None, cron)`` for one configured value, or explain what is wrong."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        if seconds <= 0 or seconds % 60:
            raise ImproperlyConfigured(f"JOB_SCHEDULES[{key!r}]: {value} is not a whole number of minutes.")
        return _checked_minutes(int(seconds // 60), key=key), None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ImproperlyConfigured(f"JOB_SCHEDULES[{key!r}]: {value!r} is not an interval; {HELP}.")
    if isinstance(value, int):
        return _checked_minutes(value, key=key), None
    match = INTERVAL_PATTERN.match(value)
    if match:
        number, unit = int(match.group(1)), (match.group(2) or "m").lower()
        return _checked_minutes(number * UNIT_MINUTES[unit], key=key), None
    if len(value.split()) in (5, 6):
        try:
            django_q_validate_cron(value.strip())
        except ValidationError as exc:
            raise ImproperlyConfigured(f"JOB_SCHEDULES[{key!r}]: {value!r} is not a valid cron expression.") from exc
        return None, " ".join(value.split())
    raise ImproperlyConfigured(f"JOB_SCHEDULES[{key!r}]: {value!r} is not an interval; {HELP}.")


def _checked_minutes(minutes: int, *, key: str) -> int:
    if not 1 <= minutes <= MAX_MINUTES:
        raise ImproperlyConfigured(
            f"JOB_SCHEDULES[{key!r}]: {minutes} minutes is out of range (1 to {MAX_MINUTES}); "
            "use a cron expression for rarer runs."
        )
    return minutes


def configured_overrides() -> dict[str, Any]:
    """The deployment's overrides: the JOB_SCHEDULES setting, else the JOB_SCHEDULES environment JSON."""
    overrides = getattr(settings, "JOB_SCHEDULES", None)
    if overrides is None:
        raw = os.environ.get("JOB_SCHEDULES", "").strip()
        if not raw:
            return {}
        try:
            overrides = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ImproperlyConfigured(f"JOB_SCHEDULES is not valid JSON: {exc}.") from exc
    if not isinstance(overrides, dict):
        raise ImproperlyConfigured('JOB_SCHEDULES must be an object, e.g. {"release_to_fulfillment": "5m"}.')
    return overrides


def job_schedules(overrides: dict[str, Any] | None = None) -> list[JobSchedule]:
    """The schedules the jobs should have: defaults, overridden per deployment and per store."""
    defaults: dict[str, Any] = settings.JOB_SCHEDULE_DEFAULTS
    overrides = configured_overrides() if overrides is None else overrides
    per_store: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        job, _, store = str(key).partition(STORE_SEPARATOR)
        if job not in defaults:
            raise ImproperlyConfigured(f"JOB_SCHEDULES: no job {job!r}; the jobs are {', '.join(defaults)}.")
        if store:
            per_store.setdefault(job, {})[store] = value
    _check_stores({store for stores in per_store.values() for store in stores})

    schedules = []
    for job, default in defaults.items():
        value = overrides.get(job, default)
        minutes, cron = parse_interval(value, key=job)
        own = sorted(per_store.get(job, {}))
        kwargs = {"exclude_stores": own} if own else {}
        schedules.append(JobSchedule(name=job, job=job, minutes=minutes, cron=cron, kwargs=kwargs))
        for store in own:
            key = f"{job}{STORE_SEPARATOR}{store}"
            minutes, cron = parse_interval(per_store[job][store], key=key)
            schedules.append(JobSchedule(name=key, job=job, minutes=minutes, cron=cron, kwargs={"stores": [store]}))
    return schedules


def _check_stores(codes: set[str]) -> None:
    if not codes:
        return
    unknown = sorted(codes - set(Store.objects.filter(code__in=codes).values_list("code", flat=True)))
    if unknown:
        raise ImproperlyConfigured(f"JOB_SCHEDULES: no store with code {', '.join(map(repr, unknown))}.")


def _differences(row: Schedule, wanted: JobSchedule) -> list[str]:
    return [name for name, value in wanted.fields.items() if getattr(row, name) != value]


def schedules_register(*, dry_run: bool = False, overrides: dict[str, Any] | None = None) -> list[ScheduleChange]:
    """Create or update one Schedule per job (and per store override), by name; report every change.

    A second call with the same configuration changes nothing. Duplicates of a name are removed, and
    per-store schedules no longer configured are deleted. ``dry_run`` reports without writing.
    """
    wanted = job_schedules(overrides)
    wanted_names = {schedule.name for schedule in wanted}
    jobs = set(settings.JOB_SCHEDULE_DEFAULTS)
    changes: list[ScheduleChange] = []
    now = timezone.now()
    with transaction.atomic():
        ours = list(Schedule.objects.select_for_update().filter(func=JOB_FUNC).order_by("pk"))
        rows_by_name: dict[str, list[Schedule]] = {}
        for row in ours:
            rows_by_name.setdefault(row.name or "", []).append(row)
        for schedule in wanted:
            rows = rows_by_name.get(schedule.name) or list(
                Schedule.objects.select_for_update().filter(name=schedule.name).order_by("pk")
            )
            changes.append(_register_one(schedule, rows, now=now, dry_run=dry_run))
        for name, rows in rows_by_name.items():
            job = name.partition(STORE_SEPARATOR)[0]
            if name not in wanted_names and job in jobs and STORE_SEPARATOR in name:
                changes.append(ScheduleChange(name, Action.DELETE, "no longer configured"))
                if not dry_run:
                    Schedule.objects.filter(pk__in=[row.pk for row in rows]).delete()
        if dry_run:
            transaction.set_rollback(True)
    return changes


def _register_one(schedule: JobSchedule, rows: list[Schedule], *, now, dry_run: bool) -> ScheduleChange:
    if not rows:
        if not dry_run:
            Schedule.objects.create(name=schedule.name, next_run=now, **schedule.fields)
        return ScheduleChange(schedule.name, Action.CREATE, schedule.describe())
    row, duplicates = rows[0], rows[1:]
    differences = _differences(row, schedule)
    if not differences and not duplicates:
        return ScheduleChange(schedule.name, Action.UNCHANGED, schedule.describe())
    notes = []
    if differences:
        notes.append(f"changed {', '.join(differences)}")
    if duplicates:
        notes.append(f"removed {len(duplicates)} duplicate(s)")
    if not dry_run:
        for name, value in schedule.fields.items():
            setattr(row, name, value)
        if differences and schedule.minutes and row.next_run:
            # A shorter interval takes effect now, not after the old, longer wait.
            row.next_run = min(row.next_run, now + timedelta(minutes=schedule.minutes))
        elif differences and schedule.cron:
            row.next_run = row.calculate_next_run()
        row.save()
        Schedule.objects.filter(pk__in=[duplicate.pk for duplicate in duplicates]).delete()
    return ScheduleChange(schedule.name, Action.UPDATE, f"{schedule.describe()} ({'; '.join(notes)})")
