"""The organization approval rule: orders above the buyer organization's threshold need an approver."""

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from commerce.currency import convert
from commerce.models import Organization


def order_requires_approval(*, order) -> bool:
    """Whether the order's grand total, in the organization's approval currency, is above its threshold.

    Raises ``NoExchangeRate`` when the order's currency cannot be converted into the approval currency.
    """
    organization = order.organization
    if organization is None or organization.approval_threshold is None:
        return False
    total = convert(order.grand_total, from_currency=order.currency_id, to_currency=organization.approval_currency)
    return total.amount > organization.approval_threshold


def organization_approvers(*, organization: Organization) -> QuerySet:
    """The organization's active approvers."""
    return get_user_model().objects.filter(approver_of=organization, is_active=True).order_by("pk")


def user_can_approve(*, user, order) -> bool:
    """Whether the user is an active approver of the order's organization."""
    if order.organization_id is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return organization_approvers(organization=order.organization).filter(pk=user.pk).exists()
