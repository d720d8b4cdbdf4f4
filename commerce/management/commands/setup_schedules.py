from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from commerce.schedules import Action, schedules_register


class Command(BaseCommand):
    help = (
        "Register the django-q2 schedule of every job (JOB_SCHEDULE_DEFAULTS, overridden by JOB_SCHEDULES); "
        "safe to run again: an unchanged configuration changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print what would change; change nothing.")

    def handle(self, *args, **options):
        try:
            changes = schedules_register(dry_run=options["dry_run"])
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        prefix = "would " if options["dry_run"] else ""
        for change in changes:
            if change.action == Action.UNCHANGED:
                if options["verbosity"] > 1:
                    self.stdout.write(f"unchanged {change.name}: {change.detail}")
                continue
            self.stdout.write(f"{prefix}{change.action} {change.name}: {change.detail}")
        changed = sum(change.action != Action.UNCHANGED for change in changes)
        unchanged = len(changes) - changed
        verb = "would change" if options["dry_run"] else "changed"
        self.stdout.write(f"Schedules: {verb} {changed}, unchanged {unchanged}.")
