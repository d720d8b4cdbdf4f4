"""The orders app's demo data: the promotion of DESIGN section 18's demo paragraph."""

from decimal import Decimal

from commerce.models import Store
from orders.models import Promotion, PromotionKind


def seed_promotions(*, store: Store) -> bool:
    """Coupon DEMO10: 10 % off orders of at least 50.00 in the demo store; True when it was created."""
    _, created = Promotion.objects.get_or_create(
        store=store,
        code="DEMO10",
        defaults={
            "name": "10 % off orders of 50.00 or more",
            "kind": PromotionKind.PERCENT,
            "value": Decimal("10"),
            "minimum_amount": Decimal("50.00"),
        },
    )
    return created
