"""Pick batches: ready releases of one center, oldest first, picked in one walk."""

from django.conf import settings

from commerce.errors import NothingToPick
from commerce.reports import Note
from commerce.retry import atomic_with_retry
from fulfillment.documents import documents_prepare
from fulfillment.models import FulfillmentCenter, PickBatch, Release
from fulfillment.signals import order_noted


def pick_batch_create(*, fulfillment_center: FulfillmentCenter, acting_user=None, actor_name: str = "") -> PickBatch:
    """Batch up to the store's batch size of the center's ready releases, oldest first.

    Releases another clerk is batching at this moment are skipped, not waited for, so two clerks
    never batch the same release and neither blocks the other. A batch holds one store's releases,
    since its packing slips carry that store's name and settings.
    """

    @atomic_with_retry
    def create() -> PickBatch:
        ready = (
            Release.objects.select_for_update(skip_locked=True, of=("self",))
            .ready()
            .filter(fulfillment_center=fulfillment_center)
            .oldest_first()
        )
        oldest = ready.select_related("order__store").first()
        if oldest is None:
            raise NothingToPick(
                f"No release is ready to pick at {fulfillment_center.code}.",
                details={"fulfillment_center": fulfillment_center.code},
            )
        store = oldest.order.store
        releases = list(ready.filter(order__store=store)[: store.batch_size])
        batch = PickBatch.objects.create(
            fulfillment_center=fulfillment_center,
            store=store,
            expedited=any(release.is_expedited for release in releases),
            created_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        )
        for tote, release in enumerate(releases, start=1):
            release.add_to_batch(batch, tote)
        # Every row is locked by this transaction and every transition ran above; one statement saves them.
        Release.objects.bulk_update(releases, ["status", "batch", "tote", "batched_at"])
        order_noted.send(
            sender=PickBatch,
            notes=[
                Note(
                    subject_id=release.order_id,
                    message=f"Release {release.number} in pick batch {batch.number}, tote {release.tote}",
                    extra={"release": release.number, "pick_batch": batch.number, "tote": release.tote},
                )
                for release in releases
            ],
            acting_user=acting_user,
            actor_name=actor_name,
        )
        documents_prepare(batch=batch, background=len(releases) > settings.PICK_BATCH_SYNC_RENDER_LIMIT)
        return batch

    return create()
