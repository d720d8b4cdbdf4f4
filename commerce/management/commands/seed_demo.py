from django.core.management.base import BaseCommand

from commerce.demo import DEMO_PASSWORD, LOGINS, seed_demo, seed_demo_orders


class Command(BaseCommand):
    help = "Create the demo store, inventory, buyers and staff users (idempotent) and print the logins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--with-orders",
            action="store_true",
            help="Also place a few demo orders (once, when there are none) through the real services.",
        )

    def handle(self, *args, **options):
        result = seed_demo()
        if options["with_orders"]:
            for line in seed_demo_orders():
                self.stdout.write(f"Placed demo order {line}")
        if result.created:
            self.stdout.write(f"Created {len(result.created)} demo records.")
        else:
            self.stdout.write("Demo data already present; nothing changed.")
        self.stdout.write(f"Logins (password '{DEMO_PASSWORD}' for all):")
        for username, role in LOGINS:
            self.stdout.write(f"  {username:<11} {role}")
