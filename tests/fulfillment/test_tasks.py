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
