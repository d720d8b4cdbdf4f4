from django.core.management.base import BaseCommand

from commerce.webhooks.delivery import webhook_deliver_due


class Command(BaseCommand):
    help = "Attempt every webhook delivery that is due (a retry whose task was lost, a worker that died)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=500)

    def handle(self, *args, limit: int, **options):
        self.stdout.write(f"attempted={webhook_deliver_due(limit=limit)}")
