"""The job engine: chunked keyset walk, per-order failures, reruns, dry runs, query counts, commands."""

import logging
import threading
from dataclasses import replace
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from commerce.jobs import JobOutcome, JobSpec, job_run
from commerce.management.jobcommand import JobCommand, ProgressReporter
from commerce.models import JobItemFailure, JobRun
from orders.models import Order, OrderEvent, OrderStatus
from tests.commerce.sample_jobs import AUTHORIZE_BACKORDERS, authorize_backorder
from tests.factories.commerce import StoreFactory
from tests.factories.orders import OrderFactory

S = OrderStatus


class Recorder:
    """A process function that authorizes like the sample job, remembers ids and fails on request."""

    def __init__(self, *, failing=(), crash_at=None, process=authorize_backorder):
        self.calls: list[int] = []
        self.failing = set(failing)
        self.crash_at = crash_at
        self.process = process

    def __call__(self, order_id: int) -> JobOutcome:
        self.calls.append(order_id)
        if order_id == self.crash_at:
            raise WorkerKilled
        if order_id in self.failing:
            raise RuntimeError("the gateway exploded")
        return self.process(order_id)


class WorkerKilled(BaseException):
    """Stands for the worker process dying mid-run."""


def spec_with(process, **changes) -> JobSpec:
    return replace(AUTHORIZE_BACKORDERS, process=process, **changes)


def backorders(count: int, **kwargs) -> list[Order]:
    return [OrderFactory(status=S.BACKORDERED, **kwargs) for _ in range(count)]


@pytest.mark.django_db
class TestWalk:
    def test_every_candidate_is_processed_once_across_chunks_while_they_leave_the_selection(self):
        orders = backorders(10)
        recorder = Recorder()

        run = job_run(spec=spec_with(recorder, chunk_size=3))

        # Each processed order leaves the selection (B → C); offset paging would skip half of them.
        assert recorder.calls == [order.pk for order in orders]
        assert set(Order.objects.values_list("status", flat=True)) == {S.AUTHORIZED}
        assert (run.processed, run.succeeded, run.failed, run.skipped) == (10, 10, 0, 0)
        assert run.status == JobRun.Status.SUCCEEDED
        assert run.finished_at >= run.started_at

    def test_rows_arriving_during_the_run_do_not_shift_pages(self):
        orders = backorders(6)
        newcomers = []

        def process(order_id):
            if not newcomers:
                # Newer orders sort first in this job's order (newest first): they must not shift pages.
                newcomers.extend(backorders(3))
            return authorize_backorder(order_id)

        recorder = Recorder(process=process)
        newest_first = spec_with(
            recorder,
            chunk_size=2,
            select=lambda: Order.objects.filter(status=S.BACKORDERED).order_by("-pk").values_list("pk", flat=True),
        )

        run = job_run(spec=newest_first)

        assert recorder.calls == sorted((order.pk for order in orders), reverse=True)
        assert run.succeeded == 6
        assert all(Order.objects.get(pk=o.pk).status == S.BACKORDERED for o in newcomers)

    def test_several_sort_keys_with_ties_across_chunk_boundaries(self):
        now = timezone.now()
        placed = [now - timedelta(days=days) for days in (1, 3, 3, 3, 2, 3, 1)]
        orders = [OrderFactory(status=S.BACKORDERED, placed_at=at) for at in placed]
        recorder = Recorder()
        oldest_first = spec_with(
            recorder,
            chunk_size=2,
            select=lambda: (
                Order.objects.filter(status=S.BACKORDERED).order_by("placed_at", "pk").values_list("pk", flat=True)
            ),
        )

        job_run(spec=oldest_first)

        expected = [o.pk for o in sorted(orders, key=lambda o: (o.placed_at, o.pk))]
        assert recorder.calls == expected

    def test_limit_caps_the_orders_looked_at(self):
        orders = backorders(5)

        run = job_run(spec=spec_with(Recorder(), chunk_size=2), limit=3)

        assert run.processed == 3
        statuses = [Order.objects.get(pk=order.pk).status for order in orders]
        assert statuses == [S.AUTHORIZED] * 3 + [S.BACKORDERED] * 2

    def test_an_order_another_worker_moved_on_is_skipped(self):
        order, moved = backorders(2)
        authorize_backorder(moved.pk)
        stale_selection = spec_with(
            Recorder(),
            select=lambda: (
                Order.objects.filter(pk__in=[order.pk, moved.pk]).order_by("pk").values_list("pk", flat=True)
            ),
        )

        run = job_run(spec=stale_selection)

        assert (run.processed, run.succeeded, run.skipped) == (2, 1, 1)
        assert OrderEvent.objects.filter(order=moved).count() == 1

    def test_progress_is_reported_after_every_order(self):
        backorders(4)
        seen = []

        job_run(spec=spec_with(Recorder(), chunk_size=3), progress=lambda done, total: seen.append((done, total)))

        assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]

    def test_runs_can_be_limited_to_stores(self):
        home, other = StoreFactory(code="home"), StoreFactory(code="other")
        at_home, elsewhere = (
            OrderFactory(status=S.BACKORDERED, store=home),
            OrderFactory(status=S.BACKORDERED, store=other),
        )

        run = job_run(spec=spec_with(Recorder()), stores=["home"])
        rest = job_run(spec=spec_with(Recorder()), exclude_stores=["home"])

        assert run.scope == "stores: home"
        assert (run.succeeded, rest.succeeded) == (1, 1)
        assert rest.scope == "except stores: home"
        at_home.refresh_from_db()
        elsewhere.refresh_from_db()
        assert at_home.status == elsewhere.status == S.AUTHORIZED


@pytest.mark.django_db
class TestFailures:
    def test_one_order_raising_does_not_stop_the_rest_and_is_recorded(self, caplog):
        orders = backorders(5)
        broken = orders[1]

        with caplog.at_level(logging.ERROR, logger="commerce.jobs"):
            run = job_run(spec=spec_with(Recorder(failing={broken.pk}), chunk_size=2))

        assert (run.processed, run.succeeded, run.failed, run.skipped) == (5, 4, 1, 0)
        assert run.status == JobRun.Status.FAILED
        assert run.errors == [{"id": broken.pk, "error": "RuntimeError: the gateway exploded"}]
        broken.refresh_from_db()
        assert broken.status == S.BACKORDERED
        assert Order.objects.filter(status=S.AUTHORIZED).count() == 4
        failure = JobItemFailure.objects.get()
        assert (failure.job_name, failure.object_id, failure.failures, failure.last_run) == (
            AUTHORIZE_BACKORDERS.name,
            broken.pk,
            1,
            run,
        )
        assert "RuntimeError: the gateway exploded" in failure.last_error
        logged = [r for r in caplog.records if r.exc_info and str(broken.pk) in r.getMessage()]
        assert logged, "the failure is logged with its traceback"

    def test_a_rerun_picks_the_failed_order_up_and_clears_its_failure(self):
        orders = backorders(3)
        broken = orders[2]
        job_run(spec=spec_with(Recorder(failing={broken.pk})))

        rerun = job_run(spec=spec_with(Recorder()))

        assert (rerun.processed, rerun.succeeded, rerun.failed) == (1, 1, 0)
        broken.refresh_from_db()
        assert broken.status == S.AUTHORIZED
        assert not JobItemFailure.objects.exists()

    def test_repeated_failures_are_counted_for_the_exceptions_queue(self):
        (broken,) = backorders(1)
        runs = [job_run(spec=spec_with(Recorder(failing={broken.pk}))) for _ in range(3)]

        failure = JobItemFailure.objects.get()
        assert failure.failures == 3
        assert failure.last_run == runs[-1]
        assert failure.first_failed_at <= failure.last_failed_at
        assert list(JobItemFailure.objects.repeated()) == [failure]
        assert list(JobItemFailure.objects.repeated(threshold=4)) == []

    def test_a_failure_of_an_order_the_job_no_longer_selects_is_forgotten(self):
        (broken,) = backorders(1)
        job_run(spec=spec_with(Recorder(failing={broken.pk})))
        authorize_backorder(broken.pk)  # staff dealt with it another way

        job_run(spec=spec_with(Recorder()))

        assert not JobItemFailure.objects.exists()

    def test_a_process_answering_failed_or_nonsense_counts_as_failed(self):
        first, second = backorders(2)
        answers = {first.pk: JobOutcome.FAILED, second.pk: None}

        run = job_run(spec=spec_with(answers.get))

        assert (run.failed, run.succeeded) == (2, 0)
        assert run.errors[1] == {"id": second.pk, "error": "The job returned None instead of an outcome."}

    def test_the_merchant_hears_of_a_run_with_failures(self, django_capture_on_commit_callbacks):
        StoreFactory(is_default=True)
        orders = backorders(5)
        broken = orders[3]

        with django_capture_on_commit_callbacks(execute=True):
            run = job_run(spec=spec_with(Recorder(failing={broken.pk})))

        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.subject == f"Job {AUTHORIZE_BACKORDERS.name}: 1 of 5 orders failed"
        assert message.to == ["merchant@demo-store.example", "store@example.com"]
        assert broken.number in message.body
        assert "RuntimeError: the gateway exploded" in message.body
        assert f"#{run.pk}" in message.body

    def test_a_clean_run_sends_nothing(self, django_capture_on_commit_callbacks):
        backorders(2)

        with django_capture_on_commit_callbacks(execute=True):
            job_run(spec=spec_with(Recorder()))

        assert mail.outbox == []


@pytest.mark.django_db
class TestCrashAndDryRun:
    def test_a_crash_mid_run_loses_nothing_and_a_rerun_finishes(self):
        orders = backorders(5)
        crash_at = orders[3].pk

        with pytest.raises(WorkerKilled):
            job_run(spec=spec_with(Recorder(crash_at=crash_at), chunk_size=2))

        crashed = JobRun.objects.get()
        assert crashed.status == JobRun.Status.ABORTED
        assert crashed.processed == 3
        assert crashed.finished_at is not None
        assert [Order.objects.get(pk=o.pk).status for o in orders] == [S.AUTHORIZED] * 3 + [S.BACKORDERED] * 2

        rerun = job_run(spec=spec_with(Recorder()))

        assert rerun.succeeded == 2
        assert all(OrderEvent.objects.filter(order=o).count() == 1 for o in orders)

    def test_a_broken_selection_aborts_the_run_and_says_so(self):
        def broken_select():
            raise LookupError("no such model")

        with pytest.raises(LookupError):
            job_run(spec=spec_with(Recorder(), select=broken_select))

        assert JobRun.objects.get().status == JobRun.Status.ABORTED

    def test_dry_run_counts_and_writes_nothing_but_its_run(self):
        orders = backorders(4)
        recorder = Recorder(failing={orders[0].pk})

        run = job_run(spec=spec_with(recorder), dry_run=True)

        assert recorder.calls == []
        assert (run.processed, run.succeeded, run.failed, run.skipped) == (4, 0, 0, 4)
        assert run.dry_run is True
        assert set(Order.objects.values_list("status", flat=True)) == {S.BACKORDERED}
        assert not OrderEvent.objects.exists()
        assert not JobItemFailure.objects.exists()
        assert list(JobRun.objects.all()) == [run]

    def test_dry_run_respects_the_limit(self):
        backorders(4)

        run = job_run(spec=spec_with(Recorder()), dry_run=True, limit=3)

        assert (run.processed, run.skipped) == (3, 3)


# Fixed: run insert, count, final update, forgetting resolved failures, and the store's webhook
# subscriptions (read once, then cached). Per chunk: ids, known failures, counters. Per order, the sample
# process: savepoint, locking select, update, event insert, release.
FIXED_QUERIES = 5
PER_CHUNK = 3
PER_ORDER = 5


@pytest.mark.django_db
@pytest.mark.parametrize("size", [10, 40])
def test_queries_per_order_stay_constant(size, django_assert_max_num_queries):
    backorders(size)
    chunk_size = 10
    chunks = size // chunk_size

    with django_assert_max_num_queries(FIXED_QUERIES + PER_CHUNK * chunks + PER_ORDER * size):
        run = job_run(spec=spec_with(authorize_backorder, chunk_size=chunk_size))

    assert run.succeeded == size


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_process_every_order_exactly_once():
    orders = backorders(200)
    start = threading.Barrier(2)
    runs: list[JobRun] = []
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            start.wait()
            runs.append(job_run(spec=replace(AUTHORIZE_BACKORDERS, chunk_size=20), worker=name))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(f"worker-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(run.succeeded for run in runs) == 200
    assert sum(run.failed for run in runs) == 0
    assert set(Order.objects.values_list("status", flat=True)) == {S.AUTHORIZED}
    events_per_order = {o.pk: OrderEvent.objects.filter(order=o).count() for o in orders}
    assert set(events_per_order.values()) == {1}


class AuthorizeBackordersCommand(JobCommand):
    spec = AUTHORIZE_BACKORDERS


def run_command(*args, spec=AUTHORIZE_BACKORDERS) -> tuple[str, str]:
    command = AuthorizeBackordersCommand()
    command.spec = spec
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
class TestJobCommand:
    def test_prints_one_summary_line(self):
        backorders(3)

        out, _err = run_command()

        assert out == "processed=3 succeeded=3 failed=0 skipped=0\n"

    def test_a_failed_order_is_a_command_error_with_status_one(self):
        orders = backorders(3)
        out, err = StringIO(), StringIO()
        command = AuthorizeBackordersCommand()
        command.spec = spec_with(Recorder(failing={orders[0].pk}))

        with pytest.raises(CommandError, match="1 order\\(s\\) failed") as error:
            call_command(command, stdout=out, stderr=err)

        assert error.value.returncode == 1
        assert out.getvalue() == "processed=3 succeeded=2 failed=1 skipped=0\n"

    def test_dry_run_and_limit(self):
        backorders(3)

        out, _err = run_command("--dry-run", "--limit", "2")

        assert out == "processed=2 succeeded=0 failed=0 skipped=2\n"
        assert Order.objects.filter(status=S.AUTHORIZED).count() == 0

    def test_reports_progress_on_stderr(self):
        backorders(5)

        out, err = run_command("--progress-every", "2")

        assert out.count("\n") == 1
        lines = err.splitlines()
        assert [line.split(" (")[0] for line in lines] == [
            f"{AUTHORIZE_BACKORDERS.name}: 2/5",
            f"{AUTHORIZE_BACKORDERS.name}: 4/5",
        ]
        assert all("orders/s" in line for line in lines)

    def test_refuses_an_unknown_store(self):
        with pytest.raises(CommandError, match="No store with code 'nowhere'"):
            run_command("--store", "nowhere")


# run_from_argv is the command line's path (exit status); it closes the connections when done, hence
# committed data rather than a test transaction.
@pytest.mark.django_db(transaction=True)
class TestJobCommandExitStatus:
    def run(self, spec, capsys) -> tuple[int, str]:
        command = AuthorizeBackordersCommand()
        command.spec = spec
        try:
            # System checks cover the whole project; this is about the command's output and exit status.
            command.run_from_argv(["manage.py", spec.name, "--skip-checks"])
        except SystemExit as exit_:
            return exit_.code, capsys.readouterr().out
        return 0, capsys.readouterr().out

    def test_zero_when_nothing_failed(self, capsys):
        backorders(2)

        assert self.run(AUTHORIZE_BACKORDERS, capsys) == (0, "processed=2 succeeded=2 failed=0 skipped=0\n")

    def test_one_when_an_order_failed(self, capsys):
        orders = backorders(2)

        status, out = self.run(spec_with(Recorder(failing={orders[1].pk})), capsys)

        assert (status, out) == (1, "processed=2 succeeded=1 failed=1 skipped=0\n")


def test_progress_reporter_writes_every_few_seconds_too():
    lines = []
    ticks = iter([0.0, 1.0, 12.0, 13.0])
    reporter = ProgressReporter(lines.append, label="job", every_items=100, every_seconds=10, clock=lambda: next(ticks))

    reporter(1, 1000)  # 1 s in: too early
    reporter(2, 1000)  # 12 s in: due

    assert lines == ["job: 2/1000 (0%), 0.2 orders/s"]


@pytest.mark.django_db
class TestAdmin:
    @pytest.fixture
    def failed_run(self):
        orders = backorders(3)
        job_run(spec=spec_with(Recorder(failing={orders[0].pk})))
        return JobRun.objects.get(), orders[0]

    def test_supervisors_see_job_runs_with_their_counts_and_errors(self, client, staff_in_role, failed_run):
        run, broken = failed_run
        client.force_login(staff_in_role("Supervisor"))

        listing = client.get("/admin/commerce/jobrun/", {"name": AUTHORIZE_BACKORDERS.name, "status": "failed"})
        detail = client.get(f"/admin/commerce/jobrun/{run.pk}/change/")

        assert listing.status_code == 200
        assert listing.context["cl"].result_count == 1
        assert detail.status_code == 200
        assert f"order {broken.number} (id {broken.pk}): RuntimeError: the gateway exploded" in detail.content.decode()

    def test_job_runs_are_read_only(self, admin_client, failed_run):
        run, _ = failed_run

        assert admin_client.get("/admin/commerce/jobrun/add/").status_code == 403
        assert admin_client.post(f"/admin/commerce/jobrun/{run.pk}/delete/", {"post": "yes"}).status_code == 403
        assert JobRun.objects.filter(pk=run.pk).exists()

    def test_failing_orders_are_listed_by_job(self, admin_client, failed_run, django_assert_max_num_queries):
        _, broken = failed_run
        more = backorders(3)
        job_run(spec=spec_with(Recorder(failing={broken.pk, *(order.pk for order in more)})))

        with django_assert_max_num_queries(12):
            response = admin_client.get("/admin/commerce/jobitemfailure/", {"job_name": AUTHORIZE_BACKORDERS.name})

        assert response.status_code == 200
        assert response.context["cl"].result_count == 4
        assert broken.number in response.content.decode()
