from django.core.management.base import BaseCommand, CommandError

from commerce.errors import ApplicationError
from fulfillment.batches import pick_batch_create
from fulfillment.models import FulfillmentCenter


class Command(BaseCommand):
    help = "Batch the oldest ready releases of a fulfillment center, up to the store's batch size."

    def add_arguments(self, parser):
        parser.add_argument("--fulfillment-center", required=True, help="Fulfillment center code, e.g. EAST.")

    def handle(self, *args, **options):
        code = options["fulfillment_center"]
        center = FulfillmentCenter.objects.filter(code=code, active=True).first()
        if center is None:
            raise CommandError(f"No active fulfillment center {code!r}.")
        try:
            batch = pick_batch_create(fulfillment_center=center, actor_name="create_pick_batch")
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        releases = list(batch.releases.order_by("tote").values_list("tote", "number"))
        self.stdout.write(
            f"Pick batch {batch.number} (id {batch.pk}) at {center.code}: {len(releases)} release(s)"
            f"{', expedited' if batch.expedited else ''}."
        )
        for tote, number in releases:
            self.stdout.write(f"  T{tote}  {number}")
        self.stdout.write(f"Print it with: render_pick_batch {batch.pk} --output DIR")
