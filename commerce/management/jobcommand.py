"""The base of every job's management command: options, progress on stderr, one summary line.

A job command is ``class Command(JobCommand): spec = SOME_JOB``. It prints progress for long runs on
stderr, then exactly one line on stdout, ``processed=N succeeded=N failed=N skipped=N``, and exits with
status 0 when nothing failed, 1 otherwise.
"""

import time
from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError, CommandParser

from commerce.jobs import JobSpec, job_run
from commerce.models import Store

PROGRESS_EVERY_ITEMS = 500
PROGRESS_EVERY_SECONDS = 10.0


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class ProgressReporter:
    """Write ``done/total`` and the rate every ``every_items`` orders or ``every_seconds``, whichever first."""

    def __init__(
        self,
        write: Callable[[str], None],
        *,
        label: str,
        every_items: int = PROGRESS_EVERY_ITEMS,
        every_seconds: float = PROGRESS_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.write = write
        self.label = label
        self.every_items = every_items
        self.every_seconds = every_seconds
        self.clock = clock
        self.started = clock()
        self.last_done = 0
        self.last_time = self.started

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        due = done - self.last_done >= self.every_items or now - self.last_time >= self.every_seconds
        if not due or done == self.last_done:
            return
        self.last_done, self.last_time = done, now
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        percent = 100 * done // total if total else 100
        self.write(f"{self.label}: {done}/{total} ({percent}%), {rate:.1f} orders/s")


class JobCommand(BaseCommand):
    """Run one job (``spec``) over its candidates."""

    spec: JobSpec

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.help = self.spec.description

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the orders the job would process; change nothing."
        )
        parser.add_argument("--limit", type=positive_int, help="Process at most this many orders.")
        parser.add_argument(
            "--store", action="append", dest="stores", metavar="CODE", help="Only orders of this store (repeatable)."
        )
        parser.add_argument(
            "--exclude-store",
            action="append",
            dest="exclude_stores",
            metavar="CODE",
            default=[],
            help="Leave out orders of this store (repeatable).",
        )
        parser.add_argument(
            "--progress-every",
            type=positive_int,
            default=PROGRESS_EVERY_ITEMS,
            metavar="N",
            help=f"Report progress on stderr every N orders (and every {PROGRESS_EVERY_SECONDS:g} s).",
        )

    def handle(self, *args, **options) -> None:
        named = set(options["stores"] or ()) | set(options["exclude_stores"])
        unknown = sorted(named - set(Store.objects.filter(code__in=named).values_list("code", flat=True)))
        if unknown:
            raise CommandError(f"No store with code {', '.join(map(repr, unknown))}.")
        progress = None
        if options["verbosity"] > 0:
            progress = ProgressReporter(
                self._write_progress, label=self.spec.name, every_items=options["progress_every"]
            )
        run = job_run(
            spec=self.spec,
            dry_run=options["dry_run"],
            limit=options["limit"],
            progress=progress,
            stores=options["stores"],
            exclude_stores=options["exclude_stores"],
        )
        self.stdout.write(run.summary)
        if run.failed:
            raise CommandError(
                f"{run.failed} order(s) failed; see job run #{run.pk} in the admin for the errors.", returncode=1
            )

    def _write_progress(self, line: str) -> None:
        # Progress is news, not an error: plain text, not the error style stderr gets by default.
        self.stderr.write(line, style_func=str)
        self.stderr.flush()
