"""The orders app records what the other apps report about an order as the order's events."""

from commerce.reports import Note
from fulfillment.signals import order_noted as fulfillment_noted
from fulfillment.signals import release_shipped
from orders.events import actor_fields, order_events_record_bulk
from orders.models import OrderEvent
from payments.signals import order_noted as payments_noted
from spending_limits.signals import order_noted as spending_limits_noted

KINDS = {
    payments_noted: OrderEvent.Kind.PAYMENT,
    fulfillment_noted: OrderEvent.Kind.FULFILLMENT,
    spending_limits_noted: OrderEvent.Kind.SPENDING_LIMIT,
}


def order_notes_record(*, kind: str, notes: list[Note], acting_user=None, actor_name: str = "") -> None:
    """Write the notes as events of their orders: one row alone, or one statement for several."""
    actor = actor_fields(acting_user, actor_name)
    events = [
        OrderEvent(
            order_id=note.subject_id,
            kind=kind,
            message=note.message[:255],
            reason=note.reason,
            extra=note.extra or {},
            **actor,
        )
        for note in notes
    ]
    if len(events) == 1:
        events[0].save(force_insert=True)
    else:
        order_events_record_bulk(events)


def _receiver(signal):
    def receive(sender, *, notes: list[Note], acting_user=None, actor_name: str = "", **kwargs) -> None:
        order_notes_record(kind=KINDS[signal], notes=notes, acting_user=acting_user, actor_name=actor_name)

    return receive


RECEIVERS = {signal: _receiver(signal) for signal in KINDS}


def _release_shipped(sender, **kwargs) -> None:
    from orders.flow_variants import on_release_shipped

    on_release_shipped(sender, **kwargs)


def connect() -> None:
    for signal, receiver in RECEIVERS.items():
        signal.connect(receiver, dispatch_uid=f"orders.receivers.{KINDS[signal]}")
    # Payment rules deposit each shipped release (the finalize event, DESIGN section 18).
    release_shipped.connect(_release_shipped, dispatch_uid="orders.release_shipped")
