"""django-q2 entry points of the fulfillment app: they load by id and call one service."""

import logging

from fulfillment.documents import pick_batch_render as pick_batch_documents_render
from fulfillment.models import PickBatch

logger = logging.getLogger(__name__)


def pick_batch_render(batch_id: int) -> dict[str, str]:
    """Render the documents of a pick batch; the task of batches too large to render in a request."""
    batch = PickBatch.objects.select_related("store", "fulfillment_center").filter(pk=batch_id).first()
    if batch is None:
        logger.warning("Pick batch %s is gone; nothing to render", batch_id)
        return {}
    documents = pick_batch_documents_render(batch=batch)
    return {document.kind: document.status for document in documents}
