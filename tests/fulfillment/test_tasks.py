"""The render task: loads the batch by id and renders what is not ready."""

import pytest

from fulfillment.batches import pick_batch_create
from fulfillment.models import Document
from fulfillment.tasks import pick_batch_render
from tests.factories.fulfillment import released_order

pytestmark = pytest.mark.django_db


def test_renders_every_document_of_the_batch(east, products):
    released_order(lines=[(products[0], {east: 1})])
    batch = pick_batch_create(fulfillment_center=east)

    result = pick_batch_render(batch.pk)

    assert result == {"pick_ticket": "ready", "packing_slips": "ready"}
    assert all(d.file.size > 1000 for d in Document.objects.filter(batch=batch))


def test_a_batch_that_is_gone_renders_nothing(db):
    assert pick_batch_render(999999) == {}


def test_a_failing_storage_fails_the_task_after_trying_every_document(east, products, settings, tmp_path):
    from fulfillment.documents import DocumentRenderFailed

    released_order(lines=[(products[0], {east: 1})])
    batch = pick_batch_create(fulfillment_center=east)
    (tmp_path / "file").write_text("")
    settings.MEDIA_ROOT = str(tmp_path / "file" / "media")

    with pytest.raises(DocumentRenderFailed):
        pick_batch_render(batch.pk)

    statuses = dict(Document.objects.filter(batch=batch).values_list("kind", "status"))
    assert statuses == {"pick_ticket": "failed", "packing_slips": "failed"}
