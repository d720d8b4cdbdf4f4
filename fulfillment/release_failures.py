"""Taking back releases a remote fulfillment system could not fill (DESIGN section 16).

The order's open releases (ready or in a pick batch) are cancelled; their items keep their stock
allocations, so the order can be released again once its payment status is checked. A release with
a shipped package cannot be taken back.
"""

from django.db import transaction

from commerce.errors import InvalidTransition
from fulfillment.models import Package, Release
from orders.models import Order

OPEN = (Release.Status.READY, Release.Status.BATCHED)


def releases_cancel_for_order(*, order: Order) -> list[Release]:
    """Cancel the order's open releases; run under the order's row lock (the caller's transaction)."""
    with transaction.atomic():
        releases = list(
            Release.objects.select_for_update(no_key=True).filter(order=order, status__in=OPEN).order_by("pk")
        )
        if not releases:
            raise InvalidTransition(
                f"Order {order.number} has no release waiting for fulfillment.", details={"order": order.number}
            )
        shipped = Package.objects.filter(release__in=releases, status=Package.Status.SHIPPED).exists()
        if shipped:
            raise InvalidTransition(
                f"Order {order.number} has shipped packages; its releases cannot be taken back.",
                details={"order": order.number},
            )
        for release in releases:
            release.cancel()
            release.save(update_fields=["status", "cancelled_at"])
    return releases
