"""The return's history and its e-mails: written in the transaction that made the change."""

from typing import Any

from commerce.money import quantize_money
from commerce.notifications import notify
from commerce.webhooks.events import emit
from commerce.webhooks.models import EventType
from orders.events import actor_fields, order_event_record, order_store
from orders.models import OrderEvent
from orders.returns.models import ReturnEvent, ReturnRequest


def return_event_record(
    *,
    return_request: ReturnRequest,
    message: str = "",
    from_status: str = "",
    to_status: str = "",
    reason: str = "",
    acting_user=None,
    actor_name: str = "",
    extra: dict[str, Any] | None = None,
) -> ReturnEvent:
    """Write one row of the return's history and a note on its order's history."""
    actor = actor_fields(acting_user, actor_name)
    text = message or f"{return_request.get_status_display()}"
    order_event_record(
        order=return_request.order,
        kind=OrderEvent.Kind.NOTE,
        message=f"Return {return_request.number}: {text}",
        reason=reason,
        acting_user=acting_user,
        actor_name=actor_name,
        extra={"return": return_request.number, **(extra or {})},
    )
    event = ReturnEvent.objects.create(
        return_request=return_request,
        from_status=from_status,
        to_status=to_status,
        message=text[:255],
        reason=reason,
        extra=extra or {},
        **actor,
    )
    order = return_request.order
    emit(
        EventType.RETURN_UPDATED,
        order_store(order),
        {
            "return": return_request.number,
            "order": order.number,
            "status": return_request.status,
            "from_status": from_status,
            "to_status": to_status,
            "message": event.message,
            "credit_total": str(quantize_money(return_request.credit_total, order.currency_id)),
            "currency": order.currency_id,
            "changed_at": event.created_at.isoformat(),
        },
    )
    return event


def return_notify(kind: str, return_request: ReturnRequest, **context: Any) -> None:
    """Send a return e-mail after commit, with what its templates show (plain values, no instances)."""
    currency = return_request.order.currency_id
    items = [
        {
            "sku": item.order_item.sku,
            "name": item.order_item.name,
            "quantity": item.quantity,
            "status": item.get_status_display(),
            "received": item.quantity_received,
            "credit": str(quantize_money(item.credit_amount, currency)),
            "deny_reasons": [reason.split(": ", 1)[-1] for reason in item.deny_reasons],
        }
        for item in return_request.items.select_related("order_item")
    ]
    notify(
        kind,
        order_id=return_request.order_id,
        context={
            "return_number": return_request.number,
            "return_status": return_request.get_status_display(),
            "return_items": items,
            "credit_total": str(quantize_money(return_request.credit_total, currency)),
            "refunded_amount": str(quantize_money(return_request.refunded_amount, currency)),
            "deposit_reduction": str(quantize_money(return_request.deposit_reduction, currency)),
            "currency": currency,
            **context,
        },
    )
