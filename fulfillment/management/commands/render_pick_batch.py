import shutil
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from fulfillment.documents import pick_batch_render
from fulfillment.models import Document, PickBatch


class Command(BaseCommand):
    help = "Render a pick batch's pick ticket and packing slips and write both PDFs to a directory."

    def add_arguments(self, parser):
        parser.add_argument("batch_id", help="The pick batch id.")
        parser.add_argument("--output", required=True, help="Directory to write the PDFs to (created if missing).")

    def handle(self, *args, **options):
        raw_id = str(options["batch_id"]).strip()
        if not raw_id.isdigit():
            raise CommandError(f"{raw_id!r} is not a pick batch id: give the number shown by create_pick_batch.")
        batch = PickBatch.objects.select_related("store", "fulfillment_center").filter(pk=int(raw_id)).first()
        if batch is None:
            raise CommandError(f"No pick batch with id {raw_id}.")
        output = Path(options["output"])
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"Cannot write to {output}: {exc.strerror}.") from exc
        documents = pick_batch_render(batch=batch)
        for document in documents:
            if document.status != Document.Status.READY:
                raise CommandError(
                    f"The {document.get_kind_display().lower()} of {batch.number} is {document.status}"
                    f"{': ' + document.error if document.error else ''}; try again later."
                )
            target = output / f"{batch.number}-{document.kind.replace('_', '-')}.pdf"
            with document.file.open("rb") as source, target.open("wb") as destination:
                shutil.copyfileobj(source, destination)
            self.stdout.write(f"{target}  ({document.get_kind_display()}, {document.pages} page(s))")
