"""Orders placed by staff on behalf of a customer (DESIGN section 16).

The order is the customer's in every respect (their organization, spending limits, e-mails); the
staff user is recorded as the order's ``placed_by`` and as the actor of its events, and the creation
event names the customer served.
"""

from dataclasses import replace

from commerce.errors import NotFound, PermissionDenied
from commerce.models import Customer
from orders.models import Order, OrderEvent
from orders.services import AddressInput, PlacementInput, order_place

PERMISSION = "orders.add_order"


def customer_by_number(*, number: str) -> Customer:
    customer = Customer.objects.select_related("user", "organization").filter(number=number).first()
    if customer is None:
        raise NotFound(f"No customer {number}.", details={"customer": [f"Unknown customer {number!r}."]})
    return customer


def customer_last_address(*, customer: Customer) -> AddressInput | None:
    """The ship-to of the customer's latest order, to start a new order with."""
    order = (
        Order.objects.filter(customer=customer)
        .exclude(ship_to_line1="")
        .order_by("-created_at", "-pk")
        .only(*(f"ship_to_{name}" for name in ("name", "line1", "line2", "city", "region", "postal_code", "country")))
        .first()
    )
    if order is None:
        return None
    return AddressInput(
        name=order.ship_to_name,
        line1=order.ship_to_line1,
        line2=order.ship_to_line2,
        city=order.ship_to_city,
        region=order.ship_to_region,
        postal_code=order.ship_to_postal_code,
        country=order.ship_to_country,
    )


def order_place_on_behalf(*, data: PlacementInput, acting_user) -> tuple[Order, bool]:
    """Place an order for ``data.customer`` as the staff user ``acting_user`` (who needs ``orders.add_order``)."""
    if not (getattr(acting_user, "is_staff", False) and acting_user.has_perm(PERMISSION)):
        raise PermissionDenied("Placing orders for customers needs the permission to add orders.")
    return order_place(data=replace(data, placed_by=acting_user), acting_user=acting_user)


def on_behalf_events(*, order: Order):
    """The order's events made by the staff user who placed it."""
    return OrderEvent.objects.filter(order=order, actor=order.placed_by_id)
