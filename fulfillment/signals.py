"""What fulfillment tells the other apps (they connect receivers; fulfillment imports none of them)."""

from django.dispatch import Signal

# A release shipped completely; sent inside the shipment's transaction with ``order_id`` and ``release_id``.
release_shipped = Signal()
