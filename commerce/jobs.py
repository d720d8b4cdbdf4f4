"""The job engine: walk the items (orders) a job selects by state and process each in its own unit of work.

A job is a ``JobSpec``: ``select`` returns a queryset of candidate ids (orders' today) chosen by their state
(never "since the last run"), in a stable order; ``process`` takes one id, does the work in its own
transactions and returns a ``JobOutcome``. The process function locks its order with
``select_for_update(skip_locked=True)`` and answers ``skipped`` when another worker holds it or its state
moved on, so several workers on several machines can run the same job at once without doing an order
twice.

``job_run`` records a ``JobRun``, pages through the candidates with keyset pagination (memory and queries
per order stay flat, and rows that leave or join the candidate set while the run goes never shift a page),
and keeps going when one order fails: the failure is logged with its traceback, recorded on the run and in
``JobItemFailure``, and the merchant hears about it once per run. Everything is committed per order, so a
crash mid-run loses nothing and a rerun picks up what is left.

The engine knows no app: apps register their jobs (``job_register``, from their ``AppConfig.ready``), and
``run_scheduled_job``, the django-q2 task of every schedule, finds them by name. A failure record points
at its item by content type and id, whatever the model the job's ``select`` walks.
"""

import logging
import os
import socket
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from functools import reduce
from operator import or_
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from commerce.models import REPEATED_FAILURE_THRESHOLD, JobItemFailure, JobRun
from commerce.notifications import notify

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 200
# A run over thousands of failing orders (a gateway down) keeps its counts exact but not every message.
MAX_RECORDED_ERRORS = 1000
MAX_ERROR_LENGTH = 2000
# Orders listed in one job_failures e-mail; the admin has the rest.
MAX_NOTIFIED_FAILURES = 20

Progress = Callable[[int, int], None]
# A set-based step: given a chunk of candidate ids, process what it can together and answer the outcome
# of each order it settled (an exception: the order failed with it, as if ``process`` had raised it); the
# engine runs ``process`` for the others (and for all of them if the step raises).
ChunkProcess = Callable[[list[int]], dict[int, "JobOutcome | Exception"]]


class JobOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class JobSpec:
    """A job: what it selects, what it does with one order, how many ids it reads at a time.

    ``select`` returns a queryset over orders (usually ``values_list("pk", flat=True)``) whose
    ``order_by`` gives the stable processing order; the engine appends ``pk`` as the tie-breaker. Sort
    keys must be plain fields or annotations that are never null (use ``Coalesce``).
    """

    name: str
    description: str
    select: Callable[[], QuerySet]
    process: Callable[[int], JobOutcome]
    chunk_size: int = DEFAULT_CHUNK_SIZE
    process_chunk: ChunkProcess | None = None
    # The lookup from a candidate to its store, for runs limited to some stores.
    store_field: str = "store"

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ValueError(f"Job {self.name}: chunk_size must be at least 1.")


# The jobs the apps registered, by name.
REGISTRY: dict[str, JobSpec] = {}


def job_register(spec: JobSpec) -> JobSpec:
    """Make ``spec`` known by its name (to schedules and ``run_scheduled_job``); registering it again is a no-op."""
    known = REGISTRY.setdefault(spec.name, spec)
    if known is not spec:
        raise ValueError(f"Another job is registered as {spec.name!r}.")
    return spec


def job_get(name: str) -> JobSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"No job {name!r}; the jobs are {', '.join(REGISTRY)}.") from None


def run_scheduled_job(name: str, *, stores: list[str] | None = None, exclude_stores: list[str] | None = None) -> str:
    """Run the job ``name`` (the django-q2 task of its schedule) and return its summary line."""
    spec = job_get(name)
    run = job_run(spec=spec, stores=stores, exclude_stores=exclude_stores or ())
    return f"{name}: {run.summary}"


def default_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def job_run(
    *,
    spec: JobSpec,
    dry_run: bool = False,
    limit: int | None = None,
    progress: Progress | None = None,
    worker: str = "",
    stores: Sequence[str] | None = None,
    exclude_stores: Sequence[str] = (),
) -> JobRun:
    """Run ``spec`` over its candidates, one order at a time, and return the recorded JobRun.

    ``dry_run`` only counts the candidates (processed = skipped = their number) and writes nothing but
    its own JobRun row, flagged ``dry_run``. ``limit`` caps the orders looked at. ``stores`` and
    ``exclude_stores`` (store codes) narrow the run to some stores. ``progress(done, total)`` is called
    after every order.
    """
    if limit is not None and limit < 0:
        raise ValueError("limit must not be negative.")
    run = JobRun.objects.create(
        name=spec.name,
        worker=(worker or default_worker())[:255],
        scope=_scope_label(stores, exclude_stores),
        dry_run=dry_run,
    )
    try:
        candidates = _scoped(spec, stores, exclude_stores)
        run.item_type = ContentType.objects.get_for_model(candidates.model)
        if dry_run:
            _count_only(run, candidates, limit, progress)
        else:
            _process_all(run, spec, candidates, limit, progress)
            if stores is None and not exclude_stores:
                _forget_resolved_failures(spec, candidates)
    except BaseException:
        # The run itself broke (the select, the database, an interrupt): keep what was counted.
        logger.exception("Job %s (run %s) aborted", spec.name, run.pk)
        run.status = JobRun.Status.ABORTED
        run.finished_at = timezone.now()
        with suppress(DatabaseError):
            _save_progress(run, final=True)
        raise
    run.status = JobRun.Status.FAILED if run.failed else JobRun.Status.SUCCEEDED
    run.finished_at = timezone.now()
    _save_progress(run, final=True)
    logger.info("Job %s (run %s%s): %s", spec.name, run.pk, ", dry run" if dry_run else "", run.summary)
    if run.failed:
        _notify_failures(run)
    return run


def _scope_label(stores: Sequence[str] | None, exclude_stores: Sequence[str]) -> str:
    parts = []
    if stores is not None:
        parts.append("stores: " + ", ".join(stores))
    if exclude_stores:
        parts.append("except stores: " + ", ".join(exclude_stores))
    return "; ".join(parts)[:255]


def _scoped(spec: JobSpec, stores: Sequence[str] | None, exclude_stores: Sequence[str]) -> QuerySet:
    candidates = spec.select()
    if stores is not None:
        candidates = candidates.filter(**{f"{spec.store_field}__code__in": list(stores)})
    if exclude_stores:
        candidates = candidates.exclude(**{f"{spec.store_field}__code__in": list(exclude_stores)})
    return candidates


def _count_only(run: JobRun, candidates: QuerySet, limit: int | None, progress: Progress | None) -> None:
    total = candidates.count()
    if limit is not None:
        total = min(total, limit)
    run.processed = run.skipped = total
    if progress is not None:
        progress(total, total)


def _sort_keys(candidates: QuerySet) -> list[str]:
    keys = [key for key in candidates.query.order_by if isinstance(key, str)]
    if len(keys) != len(candidates.query.order_by) or "?" in keys:
        raise ValueError("A job's select must order by field names or annotations (keyset pagination).")
    if not keys or keys[-1].lstrip("-") not in ("pk", "id"):
        keys.append("pk")
    return keys


def _after(keys: list[str], last: tuple) -> Q:
    """The rows strictly after ``last`` in the order of ``keys``: (a > x) or (a = x and b > y) or ..."""
    clauses = []
    for index, key in enumerate(keys):
        field = key.lstrip("-")
        clause = Q(**{f"{field}__{'lt' if key.startswith('-') else 'gt'}": last[index]})
        for earlier, value in zip(keys[:index], last[:index], strict=True):
            clause &= Q(**{earlier.lstrip("-"): value})
        clauses.append(clause)
    return reduce(or_, clauses)


def _process_all(
    run: JobRun, spec: JobSpec, candidates: QuerySet, limit: int | None, progress: Progress | None
) -> None:
    keys = _sort_keys(candidates)
    fields = [key.lstrip("-") for key in keys]
    ordered = candidates.order_by(*keys).values_list(*fields)
    total = candidates.count()
    if limit is not None:
        total = min(total, limit)
    last: tuple | None = None
    while run.processed < total:
        size = min(spec.chunk_size, total - run.processed)
        page = ordered if last is None else ordered.filter(_after(keys, last))
        rows = list(page[:size])
        if not rows:
            break
        last = rows[-1]
        ids = [row[-1] for row in rows]
        known_failures = set(
            JobItemFailure.objects.filter(
                job_name=spec.name, content_type=run.item_type, object_id__in=ids
            ).values_list("object_id", flat=True)
        )
        settled = _process_chunk(spec, ids)
        for order_id in ids:
            if order_id in settled:
                outcome, error = _settled(spec, order_id, settled[order_id])
            else:
                outcome, error = _process_one(spec, order_id)
            _count(run, order_id, outcome, error, known_failures)
            if progress is not None:
                progress(run.processed, total)
        _save_progress(run)
        if len(rows) < size:
            break


def _process_chunk(spec: JobSpec, ids: list[int]) -> dict[int, JobOutcome | Exception]:
    """The outcomes of the orders the job's set-based step settled; none when it has none or it failed."""
    if spec.process_chunk is None:
        return {}
    try:
        settled = spec.process_chunk(ids)
    except Exception:
        # The chunk's transaction rolled back whole: every order of it goes the per-order way.
        logger.exception("Job %s: the set-based step failed for a chunk of %d; each order alone", spec.name, len(ids))
        return {}
    return {
        order_id: outcome if isinstance(outcome, Exception) else JobOutcome(outcome)
        for order_id, outcome in settled.items()
        if order_id in ids
    }


def _settled(spec: JobSpec, order_id: int, outcome: JobOutcome | Exception) -> tuple[JobOutcome, str]:
    """The outcome and error of an order the set-based step settled, recorded as ``_process_one`` does."""
    if isinstance(outcome, Exception):
        logger.error("Job %s: order %s failed", spec.name, order_id, exc_info=outcome)
        return JobOutcome.FAILED, f"{type(outcome).__name__}: {outcome}"[:MAX_ERROR_LENGTH]
    return outcome, ""


def _process_one(spec: JobSpec, order_id: int) -> tuple[JobOutcome, str]:
    try:
        result = spec.process(order_id)
    except Exception as exc:
        # One order's failure must not stop the others; its traceback goes to the log.
        logger.exception("Job %s: order %s failed", spec.name, order_id)
        return JobOutcome.FAILED, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
    try:
        outcome = JobOutcome(result)
    except ValueError:
        logger.error("Job %s: order %s: process returned %r, not a JobOutcome", spec.name, order_id, result)
        return JobOutcome.FAILED, f"The job returned {result!r} instead of an outcome."
    if outcome == JobOutcome.FAILED:
        return outcome, "The job reported a failure."
    return outcome, ""


def _count(run: JobRun, order_id: int, outcome: JobOutcome, error: str, known_failures: set[int]) -> None:
    run.processed += 1
    if outcome == JobOutcome.SUCCEEDED:
        run.succeeded += 1
        if order_id in known_failures:
            JobItemFailure.objects.filter(job_name=run.name, content_type=run.item_type, object_id=order_id).delete()
    elif outcome == JobOutcome.SKIPPED:
        run.skipped += 1
    else:
        run.failed += 1
        if len(run.errors) < MAX_RECORDED_ERRORS:
            run.errors.append({"id": order_id, "error": error})
        _record_failure(run, order_id, error)


def _record_failure(run: JobRun, order_id: int, error: str) -> None:
    """Count one more failure of this order in this job (create the row on the first)."""
    now = timezone.now()
    changes: dict[str, Any] = {
        "failures": F("failures") + 1,
        "last_error": error,
        "last_run": run,
        "last_failed_at": now,
    }
    rows = JobItemFailure.objects.filter(job_name=run.name, content_type=run.item_type, object_id=order_id)
    if rows.update(**changes):
        return
    try:
        with transaction.atomic():
            JobItemFailure.objects.create(
                job_name=run.name,
                content_type=run.item_type,
                object_id=order_id,
                item_label=item_labels(run.item_type, [order_id]).get(order_id, "")[:255],
                last_error=error,
                last_run=run,
                first_failed_at=now,
                last_failed_at=now,
            )
    except IntegrityError:
        # Another worker created it between our update and insert.
        rows.update(**changes)


def _save_progress(run: JobRun, *, final: bool = False) -> None:
    fields = ["processed", "succeeded", "failed", "skipped", "errors", "item_type"]
    if final:
        fields += ["status", "finished_at"]
    run.save(update_fields=fields)


def _forget_resolved_failures(spec: JobSpec, candidates: QuerySet) -> None:
    """Drop failure rows of items the job no longer selects: someone resolved them another way."""
    ids = candidates.order_by().values("pk")
    JobItemFailure.objects.filter(job_name=spec.name).exclude(object_id__in=ids).delete()


def _notify_failures(run: JobRun) -> None:
    failed_ids = [entry["id"] for entry in run.errors[:MAX_NOTIFIED_FAILURES]]
    rows = JobItemFailure.objects.filter(job_name=run.name, content_type=run.item_type, object_id__in=failed_ids)
    failures = [
        {
            "order_number": row.item_label or str(row.object_id),
            "failures": row.failures,
            "error": row.last_error,
        }
        for row in sorted(rows, key=lambda row: failed_ids.index(row.object_id))
    ]
    repeated = JobItemFailure.objects.filter(job_name=run.name).repeated().count()
    notify(
        "job_failures",
        context={
            "job_name": run.name,
            "run_id": run.pk,
            "worker": run.worker,
            "started_at": run.started_at.isoformat(),
            "processed": run.processed,
            "succeeded": run.succeeded,
            "failed": run.failed,
            "skipped": run.skipped,
            "failures": failures,
            "repeated_count": repeated,
            "repeated_threshold": REPEATED_FAILURE_THRESHOLD,
        },
    )


def item_labels(item_type: ContentType | None, ids: Sequence[int]) -> dict[int, str]:
    """How the items of a run show in messages (an order by its number): ``str`` of each row, by id."""
    model = item_type.model_class() if item_type is not None else None
    if model is None or not ids:
        return {}
    return {pk: str(item) for pk, item in model._default_manager.in_bulk(list(ids)).items()}
