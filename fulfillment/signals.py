"""What this app reports about orders (``commerce.reports``); the orders app records it as order events."""

from django.dispatch import Signal

# Sent inside the transaction of the change with ``notes`` (a list of ``commerce.reports.Note`` about
# orders), ``acting_user`` (or None) and ``actor_name``; the orders app connects the receiver.
order_noted = Signal()

# A release shipped completely; sent inside the shipment's transaction with ``order_id`` and ``release_id``.
release_shipped = Signal()
