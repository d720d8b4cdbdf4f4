"""Return services: request, change, cancel, approve, deny and receive (crediting is in ``crediting``).

Every write takes the same locks in the same order: the order row, then the return row, then
(receiving) the stock rows. A change the customer asks for after the goods came back or the credit
was issued is refused with ``return_locked`` and an e-mail saying so, written in its own
transaction so the refusal is recorded although nothing else changes.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django_fsm import can_proceed

from commerce.errors import InvalidTransition, ValidationFailed
from fulfillment.models import FulfillmentCenter
from fulfillment.services import inventory_restock
from orders.models import Order, OrderItem
from orders.returns import rules
from orders.returns.errors import ReturnLocked, ReturnNotAllowed
from orders.returns.events import return_event_record, return_notify
from orders.returns.models import Disposition, ReturnItem, ReturnReason, ReturnRequest, ReturnStatus

R = ReturnStatus
MAX_LINES = 100


@dataclass(frozen=True)
class ReturnLineInput:
    sku: str
    quantity: int
    reason: str = ReturnReason.OTHER


@dataclass(frozen=True)
class ApprovalOverride:
    """Staff's decision on one item: approve (overriding its deny reasons) or deny, and whether to wait for it."""

    sku: str
    approve: bool = True
    reason: str = ""
    receipt_required: bool | None = None


@dataclass(frozen=True)
class ReceiptLineInput:
    sku: str
    quantity: int
    disposition: str
    fulfillment_center: FulfillmentCenter | None = None


# Locks and small helpers.


def _lock_order(order_id: int) -> Order:
    return (
        Order.objects.select_for_update(of=("self",), no_key=True).select_related("store", "currency").get(pk=order_id)
    )


def _locked(return_request: ReturnRequest) -> ReturnRequest:
    """Lock the return's order, then the return (the fixed order), and load both."""
    order = _lock_order(return_request.order_id)
    rma = ReturnRequest.objects.select_for_update(of=("self",), no_key=True).get(pk=return_request.pk)
    rma.order = order
    return rma


def _items(rma: ReturnRequest) -> list[ReturnItem]:
    return list(rma.items.select_related("order_item__product", "order_item__order").order_by("pk"))


def _save_items(items: Sequence[ReturnItem], fields: list[str]) -> None:
    ReturnItem.objects.bulk_update(list(items), fields)


def _transition(
    rma: ReturnRequest,
    method: str,
    *,
    acting_user=None,
    actor_name: str = "",
    reason: str = "",
    message: str = "",
    method_kwargs: dict | None = None,
) -> None:
    bound = getattr(rma, method)
    if not can_proceed(bound):
        raise InvalidTransition(
            f"Return {rma.number} cannot {method.replace('_', ' ')} while {rma.get_status_display().lower()}.",
            details={"return": rma.number, "status": rma.status},
        )
    from_status = rma.status
    bound(**(method_kwargs or {}))
    rma.save()
    return_event_record(
        return_request=rma,
        from_status=from_status,
        to_status=rma.status,
        acting_user=acting_user,
        actor_name=actor_name,
        reason=reason,
        message=message or f"{from_status} → {rma.status}",
    )


def _lines(order: Order, lines: Sequence[ReturnLineInput]) -> list[rules.Line]:
    """Match the asked lines to the order's items; refuse an empty, repeated or unknown line."""
    if not lines:
        raise ValidationFailed("items: name at least one item to return.", details={"items": ["Required."]})
    if len(lines) > MAX_LINES:
        raise ValidationFailed(f"items: at most {MAX_LINES} lines.", details={"items": ["Too many."]})
    skus = [line.sku for line in lines]
    if len(set(skus)) != len(skus):
        raise ValidationFailed("items: list each SKU once.", details={"items": ["Repeated SKU."]})
    by_sku = {item.sku: item for item in OrderItem.objects.filter(order=order).select_related("product", "order")}
    matched = []
    for line in lines:
        if line.reason not in ReturnReason.values:
            raise ValidationFailed(
                f"items.reason: one of {', '.join(ReturnReason.values)}.", details={"items": {"reason": ["Unknown."]}}
            )
        if not isinstance(line.quantity, int) or line.quantity < 1:
            raise ValidationFailed("items.quantity: at least 1.", details={"items": {"quantity": ["At least 1."]}})
        item = by_sku.get(line.sku)
        if item is None:
            raise ReturnNotAllowed(
                f"{line.sku} is not an item of order {order.number}.",
                details={"sku": line.sku, "reason": "not_ordered"},
            )
        item.order = order
        matched.append(rules.Line(order_item=item, quantity=line.quantity, reason=line.reason))
    return matched


def _evaluate(rma: ReturnRequest, items: list[ReturnItem], *, acting_user=None, actor_name: str = "") -> None:
    """Approve automatically what may be; hold the rest for staff with the reasons shown to them."""
    reasons = rules.deny_reasons(
        order=rma.order, lines=[(item.order_item, item.quantity) for item in items], exclude_return_id=rma.pk
    )
    for item in items:
        found = reasons[item.order_item_id]
        if found:
            item.hold(found)
        else:
            item.approve_automatically()
    _save_items(items, ["status", "deny_reasons"])
    if all(item.is_approved for item in items):
        _transition(
            rma,
            "approve",
            acting_user=acting_user,
            actor_name=actor_name or "auto-approval",
            message="Approved automatically",
        )
        return_notify("return_approved", rma)
    else:
        return_event_record(
            return_request=rma,
            message="Waits for staff approval",
            acting_user=acting_user,
            actor_name=actor_name,
            extra={"deny_reasons": {item.order_item.sku: item.deny_reasons for item in items if item.deny_reasons}},
        )
        return_notify("return_pending_approval", rma)


def _refuse_locked(rma: ReturnRequest, *, change: str, acting_user=None) -> None:
    """Record and e-mail the refusal of a change to a locked return, then raise ``return_locked``."""
    why = "the goods were received already" if rma.credited_at is None else "the credit was issued already"
    if rma.received_at is not None and rma.credited_at is not None:
        why = "the goods were received and the credit issued already"
    message = f"Return {rma.number} can no longer be changed: {why}."
    with transaction.atomic():
        return_event_record(
            return_request=rma, message="Change refused", reason=f"{change}: {message}", acting_user=acting_user
        )
        return_notify("return_change_refused", rma, change=change, reason=message)
    raise ReturnLocked(message, details={"return": rma.number, "status": rma.status})


# The customer's side.


def return_request_create(
    *, order: Order, lines: Sequence[ReturnLineInput], comment: str = "", acting_user=None
) -> ReturnRequest:
    """Ask to return shipped goods; approve automatically within the store's rules, else wait for staff."""
    with transaction.atomic():
        order = _lock_order(order.pk)
        matched = _lines(order, lines)
        rules.check_returnable(order=order, lines=matched)
        sequence = (order.returns.aggregate(last=Max("sequence"))["last"] or 0) + 1
        rma = ReturnRequest.objects.create(
            number=f"{order.number}-R{sequence}",
            order=order,
            sequence=sequence,
            comment=comment,
            requested_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        )
        items = ReturnItem.objects.bulk_create(
            [
                ReturnItem(return_request=rma, order_item=line.order_item, quantity=line.quantity, reason=line.reason)
                for line in matched
            ]
        )
        for item, line in zip(items, matched, strict=True):
            item.order_item = line.order_item
        return_event_record(
            return_request=rma,
            to_status=rma.status,
            message="Requested",
            reason=comment,
            acting_user=acting_user,
            extra={"items": {line.order_item.sku: line.quantity for line in matched}},
        )
        _evaluate(rma, items, acting_user=acting_user)
    return ReturnRequest.objects.get(pk=rma.pk)


def return_request_update(
    *,
    return_request: ReturnRequest,
    lines: Sequence[ReturnLineInput] | None = None,
    comment: str | None = None,
    acting_user=None,
) -> ReturnRequest:
    """Change the items or the comment of an open return; the items are approved again from scratch."""
    refused = None
    with transaction.atomic():
        rma = _locked(return_request)
        if rma.is_locked:
            refused = rma
        elif rma.status not in (R.PENDING, R.APPROVED):
            raise InvalidTransition(
                f"Return {rma.number} is {rma.get_status_display().lower()}; it can no longer be changed.",
                details={"return": rma.number, "status": rma.status},
            )
        else:
            if comment is not None:
                rma.comment = comment
                rma.save(update_fields=["comment", "updated_at"])
            if lines is not None:
                matched = _lines(rma.order, lines)
                rules.check_returnable(order=rma.order, lines=matched, exclude_return_id=rma.pk)
                if rma.status == R.APPROVED:
                    _transition(rma, "reopen", acting_user=acting_user, message="Items changed: approval again")
                rma.items.all().delete()
                items = ReturnItem.objects.bulk_create(
                    [
                        ReturnItem(
                            return_request=rma, order_item=line.order_item, quantity=line.quantity, reason=line.reason
                        )
                        for line in matched
                    ]
                )
                for item, line in zip(items, matched, strict=True):
                    item.order_item = line.order_item
                return_event_record(
                    return_request=rma,
                    message="Items changed",
                    acting_user=acting_user,
                    extra={"items": {line.order_item.sku: line.quantity for line in matched}},
                )
                _evaluate(rma, items, acting_user=acting_user)
            elif comment is not None:
                return_event_record(return_request=rma, message="Comment changed", acting_user=acting_user)
    if refused is not None:
        asked = "Change the items" if lines is not None else "Change the comment"
        _refuse_locked(refused, change=asked, acting_user=acting_user)
    return ReturnRequest.objects.get(pk=return_request.pk)


def return_request_cancel(*, return_request: ReturnRequest, acting_user=None, reason: str = "") -> ReturnRequest:
    """Withdraw a return (the customer) before the goods came back."""
    refused = None
    with transaction.atomic():
        rma = _locked(return_request)
        if rma.is_locked:
            refused = rma
        else:
            why = reason or "Cancelled by the customer"
            _transition(
                rma, "cancel", acting_user=acting_user, reason=why, message="Cancelled", method_kwargs={"reason": why}
            )
    if refused is not None:
        _refuse_locked(refused, change="Cancel the return", acting_user=acting_user)
    return ReturnRequest.objects.get(pk=return_request.pk)


# The staff's side.


def return_request_approve(
    *, return_request: ReturnRequest, acting_user=None, overrides: Sequence[ApprovalOverride] = (), reason: str = ""
) -> ReturnRequest:
    """Decide a pending return: approve its items (overriding their deny reasons) except those denied.

    ``overrides`` name items to deny or to credit without waiting for the goods; the others are
    approved. A return whose every item is denied is cancelled.
    """
    with transaction.atomic():
        rma = _locked(return_request)
        if rma.status != R.PENDING:
            raise InvalidTransition(
                f"Return {rma.number} is {rma.get_status_display().lower()}; only a pending return is approved.",
                details={"return": rma.number, "status": rma.status},
            )
        items = _items(rma)
        by_sku = {item.order_item.sku: item for item in items}
        unknown = [override.sku for override in overrides if override.sku not in by_sku]
        if unknown:
            raise ValidationFailed(
                f"items: {', '.join(unknown)} not in return {rma.number}.", details={"items": {"sku": unknown}}
            )
        decisions = {override.sku: override for override in overrides}
        for item in items:
            decision = decisions.get(item.order_item.sku, ApprovalOverride(sku=item.order_item.sku))
            if decision.receipt_required is not None:
                item.receipt_required = decision.receipt_required
            if not decision.approve:
                item.deny([f"{rules.DENIED_BY_STAFF}: {decision.reason or reason or 'Denied by staff.'}"])
            elif not item.is_approved:
                item.approve_by_staff()
        _save_items(items, ["status", "deny_reasons", "receipt_required"])
        if any(item.is_approved for item in items):
            _transition(rma, "approve", acting_user=acting_user, reason=reason, message="Approved by staff")
            return_notify("return_approved", rma)
        else:
            why = reason or "Every item was denied."
            _transition(
                rma, "cancel", acting_user=acting_user, reason=why, message="Denied", method_kwargs={"reason": why}
            )
            return_notify("return_denied", rma, reason=why)
    return ReturnRequest.objects.get(pk=return_request.pk)


def return_request_deny(*, return_request: ReturnRequest, acting_user=None, reason: str) -> ReturnRequest:
    """Refuse a return (staff): every item denied, the return cancelled, the customer told why."""
    if not (reason or "").strip():
        raise ValidationFailed("reason: say why the return is denied.", details={"reason": ["This field is required."]})
    with transaction.atomic():
        rma = _locked(return_request)
        if rma.is_locked or rma.status not in (R.PENDING, R.APPROVED):
            raise InvalidTransition(
                f"Return {rma.number} is {rma.get_status_display().lower()}"
                f"{' and its goods came back' if rma.is_locked else ''}; it can no longer be denied.",
                details={"return": rma.number, "status": rma.status},
            )
        items = _items(rma)
        for item in items:
            item.deny([f"{rules.DENIED_BY_STAFF}: {reason}"])
        _save_items(items, ["status", "deny_reasons"])
        _transition(
            rma, "cancel", acting_user=acting_user, reason=reason, message="Denied", method_kwargs={"reason": reason}
        )
        return_notify("return_denied", rma, reason=reason)
    return ReturnRequest.objects.get(pk=return_request.pk)


def return_request_receive(
    *, return_request: ReturnRequest, lines: Sequence[ReceiptLineInput], acting_user=None
) -> ReturnRequest:
    """Record goods that came back: restock raises the center's on-hand at once, scrap does not."""
    if not lines:
        raise ValidationFailed("items: name what came back.", details={"items": ["Required."]})
    with transaction.atomic():
        rma = _locked(return_request)
        if rma.status != R.APPROVED:
            raise InvalidTransition(
                f"Return {rma.number} is {rma.get_status_display().lower()}; only an approved return receives goods.",
                details={"return": rma.number, "status": rma.status},
            )
        by_sku = {item.order_item.sku: item for item in _items(rma)}
        received = []
        for line in lines:
            item = by_sku.get(line.sku)
            if item is None or not item.is_approved:
                raise ReturnNotAllowed(
                    f"{line.sku} is not an approved item of return {rma.number}.",
                    details={"sku": line.sku, "reason": "not_approved"},
                )
            if line.disposition not in Disposition.values:
                raise ValidationFailed(
                    f"items.disposition: one of {', '.join(Disposition.values)}.",
                    details={"items": {"disposition": ["Unknown."]}},
                )
            left = item.quantity - item.quantity_received
            if line.quantity < 1 or line.quantity > left:
                raise ReturnNotAllowed(
                    f"{line.sku}: {line.quantity} received, but {left} of {item.quantity} are still expected.",
                    details={"sku": line.sku, "reason": "quantity", "expected_quantity": left},
                )
            if line.disposition == Disposition.RESTOCK:
                if line.fulfillment_center is None:
                    raise ValidationFailed(
                        "items.fulfillment_center: say where restocked goods go.",
                        details={"items": {"fulfillment_center": ["Required to restock."]}},
                    )
                inventory_restock(
                    fulfillment_center=line.fulfillment_center, product=item.order_item.product, quantity=line.quantity
                )
                item.quantity_restocked += line.quantity
            item.quantity_received += line.quantity
            item.disposition = line.disposition
            item.fulfillment_center = line.fulfillment_center
            received.append(item)
        _save_items(received, ["quantity_received", "quantity_restocked", "disposition", "fulfillment_center"])
        first = rma.received_at is None
        if first:
            rma.received_at = timezone.now()
            rma.save(update_fields=["received_at", "updated_at"])
        summary = {
            line.sku: {
                "quantity": line.quantity,
                "disposition": line.disposition,
                "fulfillment_center": line.fulfillment_center.code if line.fulfillment_center else "",
            }
            for line in lines
        }
        return_event_record(
            return_request=rma, message="Goods received", acting_user=acting_user, extra={"received": summary}
        )
        return_notify("return_received", rma)
    return ReturnRequest.objects.get(pk=return_request.pk)
