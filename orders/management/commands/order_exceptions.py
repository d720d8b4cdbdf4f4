from django.core.management.base import BaseCommand

from orders.exceptions import exceptions_queue


class Command(BaseCommand):
    help = "List the exceptions queue: one section per kind with its count and order numbers."

    def add_arguments(self, parser):
        parser.add_argument(
            "--limit", type=int, default=None, help="List at most this many order numbers per kind (default: all)."
        )

    def handle(self, *args, **options):
        sections = exceptions_queue(limit=options["limit"])
        for section in sections:
            self.stdout.write(f"{section.title} [{section.kind}]: {section.count}")
            self.stdout.write(f"  {section.description}")
            if section.rows:
                more = section.count - len(section.rows)
                numbers = ", ".join(section.order_numbers) + (f", ... and {more} more" if more else "")
                self.stdout.write(f"  {numbers}")
        self.stdout.write(f"total={sum(section.count for section in sections)}")
